"""Datastores: the default folder store round trip, references, and a real Blob container on Azurite."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from azuremlcore import Datastore
from azuremlcore.exceptions import UserErrorException


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _make_folder(root: Path) -> dict[str, bytes]:
    files = {"a.csv": b"x,y\n1,2\n", "sub/b.txt": b"hello", "sub/deeper/c.bin": bytes(range(256)) * 10}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_default_datastore_round_trip(workspace, workdir: Path) -> None:
    ds = workspace.get_default_datastore()
    assert ds.name == "workspaceblobstore" and ds.datastore_type == "AzureBlob"
    assert list(workspace.datastores) == ["workspaceblobstore"]
    files = _make_folder(workdir / "data")
    ref = ds.upload(src_dir="data", target_path="project/raw", overwrite=True, show_progress=True)
    assert ref.path_on_datastore == "project/raw"
    assert ds.download(target_path="out", prefix="project", show_progress=False) == 3
    assert _tree(workdir / "out" / "project" / "raw") == files
    # overwrite=False skips existing files on both sides
    (workdir / "data" / "a.csv").write_bytes(b"changed")
    ds.upload(src_dir="data", target_path="project/raw", overwrite=False, show_progress=False)
    assert ds.download(target_path="out", prefix="project", show_progress=False) == 0
    assert (workdir / "out/project/raw/a.csv").read_bytes() == files["a.csv"]
    ds.upload(src_dir="data", target_path="project/raw", overwrite=True, show_progress=False)
    assert ds.download(target_path="out2", prefix="project/raw/a.csv", show_progress=False) == 1
    assert (workdir / "out2/project/raw/a.csv").read_bytes() == b"changed"


def test_upload_files_relative_root_and_get(workspace, workdir: Path) -> None:
    _make_folder(workdir / "data")
    ds = Datastore.get(workspace, "workspaceblobstore")
    ds.upload_files(["data/a.csv", "data/sub/b.txt"], relative_root="data", target_path="t", show_progress=False)
    ds.upload_files(["data/sub/deeper/c.bin"], target_path="single", show_progress=False)
    assert ds._backend().list("") == ["single/c.bin", "t/a.csv", "t/sub/b.txt"]
    assert Datastore(workspace) == ds and Datastore(workspace, "workspaceblobstore") == ds
    with pytest.raises(UserErrorException, match="nope"):
        Datastore.get(workspace, "nope")
    with pytest.raises(UserErrorException, match="no such file"):
        ds.upload_files(["data/missing.csv"])
    with pytest.raises(UserErrorException, match="blob container"):
        Datastore.register_azure_file_share(workspace, "fs", "share", "acct", account_key="k")


def test_path_references_resolve_for_a_run(workspace, workdir: Path, tmp_path: Path) -> None:
    files = _make_folder(workdir / "data")
    ds = workspace.get_default_datastore()
    ds.upload("data", target_path="d", show_progress=False)
    mounted = Path(ds.path("d").as_mount()._resolve_for_run(None, str(tmp_path / "wd")))
    assert _tree(mounted) == files
    downloaded = Path(ds.path("d/sub").as_download()._resolve_for_run(None, str(tmp_path / "wd")))
    assert downloaded.is_relative_to(tmp_path / "wd") and _tree(downloaded) == {
        "b.txt": b"hello", "deeper/c.bin": files["sub/deeper/c.bin"]}
    assert str(ds.path("d", data_reference_name="inp")) == "$AZUREML_DATAREFERENCE_inp"


# ---------------------------------------------------------------------------------------------- Azurite
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _azurite_bin() -> Path:
    cache = Path(os.environ.get("AZURITE_CACHE", Path.home() / ".cache" / "azuremlcore-azurite"))
    exe = cache / "node_modules" / ".bin" / "azurite-blob"
    if not exe.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(cache), "azurite@3"],
                       check=True, timeout=600, capture_output=True)
    return exe


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Azurite blob service on a free loopback port; yields its endpoint URL."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip(reason="node/npm are not installed: the Azurite blob emulator cannot run")
    exe = _azurite_bin()
    port = _free_port()
    location = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen([str(exe), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
                             str(location), "--skipApiVersionCheck", "--loose", "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Azurite did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_blob_datastore_on_azurite(workspace, workdir: Path, azurite: str) -> None:
    from azuremlcore import Dataset

    files = _make_folder(workdir / "data")
    with pytest.raises(UserErrorException, match="does not exist"):
        Datastore.register_azure_blob_container(workspace, "blobs", "missing", AZURITE_ACCOUNT,
                                                account_key=AZURITE_KEY, endpoint=azurite)
    ds = Datastore.register_azure_blob_container(workspace, "blobs", "data", AZURITE_ACCOUNT,
                                                 account_key=AZURITE_KEY, endpoint=azurite,
                                                 create_if_not_exists=True)
    assert sorted(workspace.datastores) == ["blobs", "workspaceblobstore"]
    ds.upload(src_dir="data", target_path="up", overwrite=True, show_progress=False)
    again = Datastore.get(workspace, "blobs")  # credentials come back from the secrets store
    assert again.account_key == AZURITE_KEY and again.container_name == "data"
    assert again.download("out", prefix="up", show_progress=False) == 3
    assert _tree(workdir / "out" / "up") == files
    # datasets read blobs through the same backend
    df = Dataset.Tabular.from_delimited_files(path=(again, "up/*.csv")).to_pandas_dataframe()
    assert df.to_dict("list") == {"x": [1], "y": [2]}
    fds = Dataset.File.from_files((again, "up/sub/**"))
    target = Path(fds.as_mount()._resolve_for_run(None, str(workdir / "wd")))
    assert _tree(target) == {"b.txt": b"hello", "deeper/c.bin": files["sub/deeper/c.bin"]}
    again.set_as_default()
    assert workspace.get_default_datastore().name == "blobs"
    again.unregister()
    assert workspace.get_default_datastore().name == "workspaceblobstore"
