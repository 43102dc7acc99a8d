"""Datasets: tabular from CSVs read back with pandas, versions, file datasets, mounts and selections."""
from __future__ import annotations

from pathlib import Path

import pytest

from azuremlcore import Dataset
from azuremlcore.exceptions import UserErrorException


@pytest.fixture
def diabetes(workspace, workdir: Path):  # type: ignore[no-untyped-def]
    """Two CSV files uploaded to the default datastore under diabetes/."""
    (workdir / "data").mkdir()
    (workdir / "data" / "part1.csv").write_text("age,bmi,target\n50,31.2,1\n33,22.0,0\n")
    (workdir / "data" / "part2.csv").write_text("age,bmi,target\n61,28.5,1\n")
    (workdir / "data" / "notes.txt").write_text("not a csv")
    ds = workspace.get_default_datastore()
    ds.upload(src_dir="data", target_path="diabetes", overwrite=True, show_progress=False)
    return ds


def test_tabular_from_csv_register_and_read(workspace, diabetes) -> None:
    tab = Dataset.Tabular.from_delimited_files(path=(diabetes, "diabetes/*.csv"))
    registered = tab.register(workspace, "diabetes", description="d", tags={"k": "v"})
    assert (registered.name, registered.version, registered.tags) == ("diabetes", 1, {"k": "v"})
    df = Dataset.get_by_name(workspace, "diabetes").to_pandas_dataframe()
    assert list(df.columns) == ["age", "bmi", "target"]
    assert df["age"].tolist() == [50, 33, 61] and df["bmi"].dtype.kind == "f"
    # same definition again: same version; another definition needs create_new_version
    assert tab.register(workspace, "diabetes").version == 1
    smaller = tab.take(2)
    with pytest.raises(UserErrorException, match="create_new_version"):
        smaller.register(workspace, "diabetes")
    assert smaller.register(workspace, "diabetes", create_new_version=True).version == 2
    assert len(Dataset.get_by_name(workspace, "diabetes").to_pandas_dataframe()) == 2
    assert len(Dataset.get_by_name(workspace, "diabetes", version=1).to_pandas_dataframe()) == 3
    assert set(workspace.datasets) == {"diabetes"} and workspace.datasets["diabetes"].version == 2
    by_id = Dataset.get_by_id(workspace, registered.id)
    assert by_id.version == 1 and by_id.name == "diabetes"
    with pytest.raises(UserErrorException, match="Cannot find dataset 'nope'"):
        Dataset.get_by_name(workspace, "nope")


def test_tabular_selections_and_options(workspace, diabetes, workdir: Path) -> None:
    tab = Dataset.Tabular.from_delimited_files(path=[(diabetes, "diabetes/part1.csv"), (diabetes, "diabetes/part2.csv")],
                                               include_path=True)
    df = tab.skip(1).keep_columns(["Path", "age"]).to_pandas_dataframe()
    assert df.to_dict("list") == {"Path": ["/part1.csv", "/part2.csv"], "age": [33, 61]}
    assert list(tab.drop_columns("bmi").to_pandas_dataframe().columns) == ["Path", "age", "target"]
    a, b = tab.random_split(0.5, seed=3)
    assert len(a.to_pandas_dataframe()) + len(b.to_pandas_dataframe()) == 3
    raw = Dataset.Tabular.from_delimited_files(path=str(workdir / "data" / "*.csv"), header=False)
    assert list(raw.to_pandas_dataframe().columns) == ["Column1", "Column2", "Column3"]
    with pytest.raises(UserErrorException, match="No files match"):
        Dataset.Tabular.from_delimited_files(path=(diabetes, "nothing/*.csv"))


def test_parquet_dataset(workspace, workdir: Path) -> None:
    import pandas as pd

    (workdir / "pq").mkdir()
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(workdir / "pq" / "p.parquet")
    ds = workspace.get_default_datastore()
    ds.upload("pq", target_path="pq", show_progress=False)
    df = Dataset.Tabular.from_parquet_files(path=(ds, "pq/*.parquet")).to_pandas_dataframe()
    assert df.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_file_dataset_download_mount_and_run_paths(workspace, diabetes, workdir: Path, tmp_path: Path) -> None:
    files = Dataset.File.from_files(path=(diabetes, "diabetes/**"))
    assert files.to_path() == ["/notes.txt", "/part1.csv", "/part2.csv"]
    got = files.download(target_path="dl")
    assert sorted(Path(p).name for p in got) == ["notes.txt", "part1.csv", "part2.csv"]
    with pytest.raises(UserErrorException, match="overwrite=True"):
        files.download(target_path="dl")
    with files.mount() as ctx:
        assert sorted(p.name for p in Path(ctx.mount_point).iterdir()) == ["notes.txt", "part1.csv", "part2.csv"]
    csvs = Dataset.File.from_files(path=(diabetes, "diabetes/*.csv"))
    with pytest.warns(UserWarning, match="FUSE"):
        with csvs.mount() as ctx:
            point = Path(ctx.mount_point)
            assert sorted(p.name for p in point.iterdir()) == ["part1.csv", "part2.csv"]
    assert not point.exists()  # the fallback download is removed on exit
    wd = tmp_path / "wd"
    downloaded = Path(csvs.as_named_input("csvs").as_download()._resolve_for_run(None, str(wd)))
    assert downloaded == wd / "azureml_data" / "csvs" and sorted(p.name for p in downloaded.iterdir()) == \
        ["part1.csv", "part2.csv"]
    one = Dataset.File.from_files(path=(diabetes, "diabetes/part2.csv"))
    assert Path(one.as_download()._resolve_for_run(None, str(wd))).read_text().startswith("age,bmi")
    assert files.take(1).to_path() == ["/notes.txt"] and files.skip(2).to_path() == ["/part2.csv"]
    registered = files.register(workspace, "raw-files")
    assert type(Dataset.get_by_name(workspace, "raw-files")).__name__ == "FileDataset" and registered.version == 1


def test_pandas_missing_gives_clear_error(workspace, diabetes, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UserErrorException, match="pip install"):
        Dataset.Tabular.from_delimited_files(path=(diabetes, "diabetes/*.csv")).to_pandas_dataframe()
