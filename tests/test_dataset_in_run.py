"""Datasets and datastore references passed as mount/download arguments to a submitted script."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


SCRIPT = """
import argparse, json, os
from azuremlcore import Run

p = argparse.ArgumentParser()
p.add_argument("--mounted"); p.add_argument("--downloaded"); p.add_argument("--ref"); p.add_argument("--table")
a = p.parse_args()
run = Run.get_context()
listing = lambda d: sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
table = run.input_datasets["table"]
os.makedirs("outputs", exist_ok=True)
with open("outputs/seen.json", "w") as f:
    json.dump({"mounted": listing(a.mounted), "downloaded": listing(a.downloaded), "ref": listing(a.ref),
               "table_arg": a.table, "table_rows": len(table.to_pandas_dataframe()),
               "inputs": sorted(run.input_datasets)}, f)
"""


def test_datasets_as_run_arguments(workspace, experiment, workdir: Path, tmp_path: Path) -> None:
    from azuremlcore import Dataset, Environment, ScriptRunConfig

    data = workdir / "data"
    (data / "img").mkdir(parents=True)
    (data / "img" / "a.png").write_bytes(b"a")
    (data / "img" / "b.png").write_bytes(b"b")
    (data / "t.csv").write_text("x\n1\n2\n")
    ds = workspace.get_default_datastore()
    ds.upload(str(data), target_path="set", show_progress=False)
    images = Dataset.File.from_files(path=(ds, "set/img/**"))
    table = Dataset.Tabular.from_delimited_files(path=(ds, "set/*.csv")).register(workspace, "t")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    config = ScriptRunConfig(source_directory=str(src), script="train.py", environment=env, arguments=[
        "--mounted", images.as_named_input("images").as_mount(), "--downloaded", images.as_download(),
        "--ref", ds.path("set/img").as_download(), "--table", table.as_named_input("table")])
    run = experiment.submit(config)
    run.wait_for_completion(show_output=False)
    run.download_file("outputs/seen.json", str(tmp_path / "seen.json"))
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["mounted"] == seen["downloaded"] == ["a.png", "b.png"]
    assert seen["ref"] == ["a.png", "b.png"]
    assert seen["table_arg"] == table.id and seen["table_rows"] == 2
    assert "images" in seen["inputs"] and "table" in seen["inputs"]
    details = run.get_details()["inputDatasets"]
    assert {d["consumptionDetails"]["inputName"]: d["consumptionDetails"]["mechanism"] for d in details} == \
        {"images": "Mount", "table": "Direct", **{d["consumptionDetails"]["inputName"]: "Download" for d in details
                                                   if d["consumptionDetails"]["mechanism"] == "Download"}}
