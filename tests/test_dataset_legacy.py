"""The older Dataset API: static factories, lifecycle states, visibility, sampling, definitions, snapshots, profiles."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from azuremlcore import Dataset
from azuremlcore.exceptions import UserErrorException


@pytest.fixture
def store(workspace, workdir: Path):  # type: ignore[no-untyped-def]
    """The default datastore with people/part1.csv (3 rows) and people/part2.csv (2 rows)."""
    (workdir / "people").mkdir()
    (workdir / "people" / "part1.csv").write_text("name,age,group\nann,30,a\nbob,40,b\ncid,50,a\n")
    (workdir / "people" / "part2.csv").write_text("name,age,group\ndee,20,b\neve,60,a\n")
    ds = workspace.get_default_datastore()
    ds.upload(src_dir="people", target_path="people", overwrite=True, show_progress=False)
    return ds


@pytest.fixture
def people(workspace, store):  # type: ignore[no-untyped-def]
    """The people CSVs registered as 'people' version 1."""
    return Dataset.from_delimited_files(path=(store, "people/*.csv")).register(workspace, "people", description="p")


# ---------------------------------------------------------------------- static factories
def test_static_factories_read_real_files(workspace, store, workdir: Path) -> None:
    import pandas as pd

    df = Dataset.from_delimited_files(path=(store, "people/*.csv"), include_path=True).to_pandas_dataframe()
    assert df["name"].tolist() == ["ann", "bob", "cid", "dee", "eve"] and df["Path"].iloc[-1] == "/part2.csv"
    (workdir / "j").mkdir()
    (workdir / "j" / "a.json").write_text(json.dumps([{"x": 1, "y": {"z": "p"}}, {"x": 2, "y": {"z": "q"}}]))
    (workdir / "j" / "b.json").write_text('{"x": 3, "y": {"z": "r"}}\n{"x": 4, "y": {"z": "s"}}\n')
    flat = Dataset.from_json_files(str(workdir / "j" / "*.json"), flatten_nested_arrays=True).to_pandas_dataframe()
    assert flat.to_dict("list") == {"x": [1, 2, 3, 4], "y.z": ["p", "q", "r", "s"]}
    pd.DataFrame({"a": [1.5, 2.5]}).to_parquet(workdir / "p.parquet")
    assert Dataset.from_parquet_files(str(workdir / "p.parquet")).to_pandas_dataframe()["a"].tolist() == [1.5, 2.5]
    files = Dataset.from_binary_files((store, "people/**"))
    assert type(files).__name__ == "FileDataset" and files.to_path() == ["/part1.csv", "/part2.csv"]
    with pytest.raises(UserErrorException, match="SQL datastores are not"):
        Dataset.from_sql_query(None, "select 1")
    with pytest.raises(UserErrorException, match="No files match"):
        Dataset.from_delimited_files(path=(store, "missing/*.csv"))


def test_from_excel_files(workdir: Path) -> None:
    pytest.importorskip("openpyxl")
    import pandas as pd

    pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}).to_excel(workdir / "book.xlsx", index=False, sheet_name="S1")
    with_headers = Dataset.from_excel_files(str(workdir / "book.xlsx"), sheet_name="S1", use_column_headers=True)
    assert with_headers.to_pandas_dataframe().to_dict("list") == {"k": ["a", "b"], "v": [1, 2]}
    raw = Dataset.from_excel_files(str(workdir / "book.xlsx")).to_pandas_dataframe()
    assert list(raw.columns) == ["Column1", "Column2"] and raw["Column1"].tolist() == ["k", "a", "b"]


def test_excel_without_openpyxl_is_a_clear_error(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(UserErrorException, match="pip install openpyxl"):
        Dataset.from_excel_files(str(workdir / "whatever.xlsx"))


def test_from_pandas_dataframe_to_datastore_and_home(workspace, store, azuremlcore_home: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    on_store = Dataset.from_pandas_dataframe(frame, path=(store, "frames"))
    assert on_store.to_pandas_dataframe().equals(frame)
    assert any(n.startswith("frames/dataframe-") and n.endswith(".parquet") for n in store._backend().list("frames/"))
    registered = on_store.register(workspace, "frame")
    assert Dataset.get_by_name(workspace, "frame").to_pandas_dataframe()["b"].tolist() == ["x", "y", "z"]
    assert registered.version == 1
    local = Dataset.from_pandas_dataframe(frame)
    assert local.to_pandas_dataframe().equals(frame)
    assert list((azuremlcore_home / "dataframes").glob("*/part-00000.parquet"))
    with pytest.raises(UserErrorException, match="pandas DataFrame"):
        Dataset.from_pandas_dataframe([1, 2])


def test_auto_read_files_picks_the_format(workspace, store, workdir: Path) -> None:
    import pandas as pd

    assert type(Dataset.auto_read_files((store, "people/*.csv"))).__name__ == "TabularDataset"
    (workdir / "auto").mkdir()
    (workdir / "auto" / "data.txt").write_text("p;q\n1;2\n3;4\n")
    semi = Dataset.auto_read_files(str(workdir / "auto" / "data.txt"))
    assert semi.to_pandas_dataframe().to_dict("list") == {"p": [1, 3], "q": [2, 4]}
    pd.DataFrame({"n": [7]}).to_parquet(workdir / "auto" / "blob.bin")
    assert Dataset.auto_read_files(str(workdir / "auto" / "blob.bin")).to_pandas_dataframe()["n"].tolist() == [7]
    (workdir / "auto" / "rows.jsonl").write_text('{"k": 1}\n{"k": 2}\n')
    assert Dataset.auto_read_files(str(workdir / "auto" / "rows.jsonl")).to_pandas_dataframe()["k"].tolist() == [1, 2]
    (workdir / "auto" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    assert type(Dataset.auto_read_files(str(workdir / "auto" / "image.png"))).__name__ == "FileDataset"


# ---------------------------------------------------------------------- identity, registration, visibility
def test_identity_register_options_and_visibility(workspace, store, people) -> None:
    assert (people.name, people.description, people.workspace, people.state) == ("people", "p", workspace, "active")
    assert people.id and people.is_visible and people.definition_version == "1"
    smaller = Dataset.from_delimited_files(path=(store, "people/part1.csv"))
    assert smaller.state is None and smaller.id is None and smaller.name is None
    assert smaller.register(workspace, "people", exist_ok=True).version == 1
    v2 = smaller.register(workspace, "people", update_if_exist=True)
    assert v2.version == 2 and len(v2.to_pandas_dataframe()) == 3
    hidden = smaller.register(workspace, "hidden", visible=False)
    assert not hidden.is_visible
    assert set(Dataset.get_all(workspace)) == {"people"}
    assert {d.name for d in Dataset.list(workspace)} == {"people", "hidden"}
    hidden.update(visible=True, description="now shown", tags={"t": "1"})
    again = Dataset.get_by_name(workspace, "hidden")
    assert again.is_visible and again.description == "now shown" and again.tags == {"t": "1"}
    assert set(Dataset.get_all(workspace)) == {"people", "hidden"}
    with pytest.raises(UserErrorException, match="cannot be renamed"):
        hidden.update(name="other")
    with pytest.raises(UserErrorException, match="register"):
        smaller.update(description="x")


# ---------------------------------------------------------------------- lifecycle states
def test_archive_deprecate_reactivate(workspace, store, people) -> None:
    replacement = Dataset.from_delimited_files(path=(store, "people/part2.csv")).register(workspace, "people2")
    people.deprecate(replacement.id)
    fresh = Dataset.get_by_name(workspace, "people")
    assert fresh.state == "deprecated"
    with pytest.warns(UserWarning, match=f"deprecated; use dataset id '{replacement.id}'"):
        assert len(fresh.to_pandas_dataframe()) == 5
    with pytest.raises(UserErrorException, match="only active"):
        fresh.deprecate(replacement.id)
    people.archive()
    assert fresh.state == "archived"  # another object of the same version sees the change
    with pytest.raises(UserErrorException, match="archived.*reactivate"):
        fresh.to_pandas_dataframe()
    files = Dataset.File.from_files((store, "people/**")).register(workspace, "people-files")
    files.archive()
    with pytest.raises(UserErrorException, match="archived"):
        files.download()
    with pytest.raises(UserErrorException, match="is archived"):
        files.archive()
    people.reactivate()
    assert people.state == "active" and len(fresh.to_pandas_dataframe()) == 5
    with pytest.raises(UserErrorException, match="is active"):
        people.reactivate()
    with pytest.raises(UserErrorException, match="Cannot find a dataset with id"):
        people.deprecate("no-such-id")
    with pytest.raises(UserErrorException, match="by itself"):
        people.deprecate(people.id)
    with pytest.raises(UserErrorException, match="register"):
        Dataset.from_delimited_files(path=(store, "people/*.csv")).archive()


# ---------------------------------------------------------------------- reading, sampling
def test_head_sample_and_unsupported(workspace, store, people, monkeypatch: pytest.MonkeyPatch) -> None:
    assert people.head(2)["name"].tolist() == ["ann", "bob"]
    assert people.sample("top_n", {"n": 3}).to_pandas_dataframe()["name"].tolist() == ["ann", "bob", "cid"]
    r1 = people.sample("simple_random", {"probability": 0.5, "seed": 7}).to_pandas_dataframe()["name"].tolist()
    r2 = people.sample("simple_random", {"probability": 0.5, "seed": 7}).to_pandas_dataframe()["name"].tolist()
    assert r1 == r2 and set(r1) <= {"ann", "bob", "cid", "dee", "eve"}
    assert people.sample("simple_random", {"probability": 1.0}).to_pandas_dataframe().shape[0] == 5
    strat = people.sample("stratified", {"columns": ["group"], "fractions": {"a": 1.0, "b": 0.0}, "seed": 1})
    assert strat.to_pandas_dataframe()["name"].tolist() == ["ann", "cid", "eve"]
    by_number = people.sample("stratified", {"columns": "age", "fractions": {30: 1.0, 60: 1.0}})
    assert by_number.to_pandas_dataframe()["name"].tolist() == ["ann", "eve"]
    with pytest.raises(UserErrorException, match="top_n, simple_random, stratified"):
        people.sample("cluster", {})
    with pytest.raises(UserErrorException, match="probability"):
        people.sample("simple_random", {"probability": 2})
    files = Dataset.from_binary_files((store, "people/**"))
    assert files.sample("top_n", {"n": 1}).to_path() == ["/part1.csv"]
    with pytest.raises(UserErrorException, match="TabularDataset"):
        files.sample("stratified", {"columns": ["x"], "fractions": {}})
    with pytest.raises(UserErrorException, match="has no rows"):
        files.to_pandas_dataframe()
    with pytest.raises(UserErrorException, match="compare_profiles"):
        people.diff(files)
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(UserErrorException, match="pip install pyspark"):
        people.to_spark_dataframe()


# ---------------------------------------------------------------------- definitions
def test_definitions_map_to_versions(workspace, store, people) -> None:
    first = Dataset.from_delimited_files(path=(store, "people/part1.csv"))
    v2 = people.update_definition(first, "only the first file")
    assert v2.version == 2 and v2.description == "p" and len(v2.to_pandas_dataframe()) == 3
    assert v2._record.properties["definitionUpdateMessage"] == "only the first file"
    assert people.update_definition(first, "same again").version == 2  # no change, no new version
    defs = people.get_definitions()
    assert sorted(defs) == ["1", "2"] and len(defs["1"].to_pandas_dataframe()) == 5
    assert people.get_definition().version == 2 and people.get_definition("1").version == 1
    assert people.definition.version == 1 and people.definition_version == "1"
    with pytest.raises(UserErrorException, match="needs a TabularDataset"):
        people.update_definition(Dataset.File.from_files((store, "people/**")), "wrong kind")


# ---------------------------------------------------------------------- snapshots
def test_snapshots_keep_the_data_of_their_time(workspace, store, people, workdir: Path) -> None:
    snap = people.create_snapshot("before")
    assert (snap.name, snap.dataset_name, snap.definition_version, snap.get_status()) == \
        ("before", "people", "1", "Completed")
    (workdir / "people" / "part2.csv").write_text("name,age,group\nzed,99,c\n")
    store.upload(src_dir="people", target_path="people", overwrite=True, show_progress=False)
    assert people.to_pandas_dataframe()["name"].tolist() == ["ann", "bob", "cid", "zed"]
    assert people.get_snapshot("before").to_pandas_dataframe()["name"].tolist() == ["ann", "bob", "cid", "dee", "eve"]
    with pytest.raises(UserErrorException, match="already has a snapshot"):
        people.create_snapshot("before")
    people.create_snapshot("after")
    assert [s.name for s in people.get_all_snapshots()] == ["before", "after"]
    folder = snap.datastore_path[1]
    assert store._backend().list(folder + "/")
    people.delete_snapshot("before")
    assert not store._backend().list(folder + "/")
    assert [s.name for s in people.get_all_snapshots()] == ["after"]
    with pytest.raises(UserErrorException, match="Snapshots: after"):
        people.get_snapshot("before")
    files = Dataset.File.from_files((store, "people/**")).register(workspace, "people-files")
    fsnap = files.create_snapshot("copy")
    got = fsnap.dataset.download(target_path=str(workdir / "snapcopy"))
    assert sorted(Path(p).name for p in got) == ["part1.csv", "part2.csv"]
    with pytest.raises(UserErrorException, match="registered dataset"):
        Dataset.from_delimited_files(path=(store, "people/*.csv")).create_snapshot("x")


# ---------------------------------------------------------------------- profiles
def test_profiles_compute_store_and_compare(workspace, store, people) -> None:
    profile = people.generate_profile()
    assert profile.get_result() is profile and profile.row_count == 5
    age = profile["age"]
    assert (age["count"], age["missing"], age["min"], age["max"], age["mean"], age["unique"]) == (5, 0, 20, 60, 40.0, 5)
    assert profile["name"]["min"] == "ann" and profile["group"]["unique"] == 2
    assert list(profile) == ["name", "age", "group"]
    again = people.get_profile(generate_if_not_exist=False)
    assert again.columns == profile.columns and again._created == profile._created  # read back, not recomputed
    fresh = Dataset.from_delimited_files(path=(store, "people/part1.csv"))
    with pytest.raises(UserErrorException, match="generate_profile"):
        fresh.get_profile(generate_if_not_exist=False, workspace=workspace)
    diff = people.compare_profiles(fresh.register(workspace, "first"), exclude_columns=["name"])
    assert diff["row_count"] == {"lhs": 5, "rhs": 3, "difference": -2}
    assert diff["column_differences"]["age"]["max"] == {"lhs": 60, "rhs": 50, "difference": -10}
    assert "name" not in diff["column_differences"]
    with pytest.raises(UserErrorException, match="TabularDataset"):
        Dataset.File.from_files((store, "people/**")).generate_profile()


def test_scenario_names_work_with_model_datasets(workspace, people, workdir: Path) -> None:
    from azuremlcore import Model

    (workdir / "model.pkl").write_bytes(b"m")
    model = Model.register(workspace, "model.pkl", "m", datasets=[(Dataset.Scenario.TRAINING, people)])
    assert Dataset.Scenario.TRAINING == "training" and Dataset.Scenario.VALIDATION == "validation"
    assert [d.name for d in model.datasets["training"]] == ["people"]
