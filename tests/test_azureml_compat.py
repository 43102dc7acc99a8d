"""Names real Azure ML v1 code uses beside the core objects: Azure-only stubs, run outputs as datasets, DataPath,
and `start_logging()`'s ./outputs."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from azuremlcore.exceptions import ComputeTargetException, UserErrorException, WebserviceException


# ---------------------------------------------------------------------------------------------- Azure-only names
@pytest.mark.parametrize("name", ["AksCompute", "KubernetesCompute", "DatabricksCompute", "HDInsightCompute",
                                  "SynapseCompute", "RemoteCompute", "AdlaCompute", "BatchCompute",
                                  "DataFactoryCompute", "KustoCompute", "DsvmCompute"])
def test_azure_only_compute_imports_and_says_what_to_use(name: str, workspace) -> None:  # type: ignore[no-untyped-def]
    import azuremlcore.compute as compute

    cls = getattr(compute, name)
    assert issubclass(cls, compute.ComputeTarget) and cls.__module__ == "azuremlcore.compute"
    for use in (lambda: cls.provisioning_configuration(vm_size="Standard_D3_v2"),
                lambda: cls.attach_configuration(resource_id="/subscriptions/x"),
                lambda: cls(workspace, "aks-1")):
        with pytest.raises(ComputeTargetException, match=f"{name}.*only available on Azure") as err:
            use()
        assert "local" in str(err.value) and ("AmlCompute" in str(err.value) or "LocalWebservice" in str(err.value))


def test_aks_compute_points_at_local_deployment_and_nested_members_raise() -> None:
    from azuremlcore.compute import AksCompute

    with pytest.raises(ComputeTargetException, match=r"AksCompute.ClusterPurpose.DEV_TEST.*LocalWebservice"):
        AksCompute.ClusterPurpose.DEV_TEST  # noqa: B018


@pytest.mark.parametrize("name", ["AciWebservice", "AksWebservice", "AksEndpoint"])
def test_azure_only_webservices(name: str) -> None:
    import azuremlcore.webservice as webservice

    cls = getattr(webservice, name)
    assert issubclass(cls, webservice.Webservice) and not isinstance(object(), cls)
    with pytest.raises(WebserviceException, match=r"LocalWebservice\.deploy_configuration\(port=") as err:
        cls.deploy_configuration(cpu_cores=1, memory_gb=1)
    assert str(err.value).startswith(f"{name}.deploy_configuration: {name} (")


# ---------------------------------------------------------------------------------------------- start_logging
def test_start_logging_prepares_outputs(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    with experiment.start_logging() as run:
        assert (workdir / "outputs").is_dir()
        (workdir / "outputs" / "model.pkl").write_bytes(b"model")
    assert "outputs/model.pkl" in run.get_file_names()
    model = run.register_model(model_name="m", model_path="outputs/model.pkl")
    assert model.version == 1


def test_start_logging_without_outputs(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging(outputs=False)
    run.complete()
    assert not (workdir / "outputs").exists() and run.get_file_names() == []


# ---------------------------------------------------------------------------------------------- outputs as datasets
def test_output_file_dataset_config_names_and_modes() -> None:
    from azuremlcore.data import OutputFileDatasetConfig

    out = OutputFileDatasetConfig()
    assert out.name.startswith("output_") and out.mode == "mount"
    assert out.as_upload(overwrite=True, source_globs=["*.csv"]).mode == "upload"
    with pytest.raises(UserErrorException, match="letters, digits"):
        OutputFileDatasetConfig(name="bad name")
    with pytest.raises(UserErrorException, match=r"\(datastore, 'path"):
        OutputFileDatasetConfig(destination="not-a-tuple")
    with pytest.raises(UserErrorException, match="pipelines"):
        OutputFileDatasetConfig().as_input()


def test_output_is_a_local_folder_then_an_uploaded_registered_dataset(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Dataset
    from azuremlcore._data.run_outputs import finish_outputs
    from azuremlcore.data import OutputFileDatasetConfig

    ws = experiment.workspace
    datastore = ws.get_default_datastore()
    out = OutputFileDatasetConfig(name="prepared", destination=(datastore, "prep/{run-id}/{output-name}"))
    out = out.register_on_complete("prepared-data", description="from a run", tags={"k": "v"})
    run = experiment.start_logging(outputs=False)
    folder = Path(out._resolve_for_run(run, str(workdir / "job")))
    assert folder == workdir / "job" / "azureml_outputs" / "prepared" and folder.is_dir()
    (folder / "sub").mkdir()
    (folder / "sub" / "a.csv").write_text("x,y\n1,2\n")
    finish_outputs(run, completed=True)
    run.complete()

    [entry] = run.get_details()["outputDatasets"]
    assert entry["outputDetails"] == {"outputName": "prepared"}
    assert entry["destination"] == {"datastore": datastore.name, "path": f"prep/{run.id}/prepared"}
    assert entry["dataset"]["name"] == "prepared-data" and entry["identifier"]["registeredVersion"] == "1"
    registered = Dataset.get_by_name(ws, "prepared-data")
    assert registered.description == "from a run" and registered.tags == {"k": "v"}
    assert registered.to_path() == ["/sub/a.csv"]
    assert datastore._backend().exists(f"prep/{run.id}/prepared/sub/a.csv")


def test_tabular_output_and_nothing_written(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Dataset
    from azuremlcore._data.run_outputs import finish_outputs
    from azuremlcore.data import OutputFileDatasetConfig

    table = OutputFileDatasetConfig(name="table").read_delimited_files().register_on_complete("table-ds")
    empty = OutputFileDatasetConfig(name="empty", source="my_out")
    run = experiment.start_logging(outputs=False)
    folder = Path(table._resolve_for_run(run, str(workdir)))
    assert Path(empty._resolve_for_run(run, str(workdir))) == workdir / "my_out"
    (folder / "rows.csv").write_text("a,b\n1,2\n3,4\n")
    finish_outputs(run, completed=True)
    [entry] = run.get_details()["outputDatasets"]  # the empty one made no dataset
    assert entry["outputDetails"]["outputName"] == "table"
    frame = Dataset.get_by_name(experiment.workspace, "table-ds").to_pandas_dataframe()
    assert frame["a"].tolist() == [1, 3]


def test_failed_run_uploads_but_does_not_register(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Dataset
    from azuremlcore._data.run_outputs import finish_outputs
    from azuremlcore.data import OutputFileDatasetConfig

    out = OutputFileDatasetConfig(name="o").register_on_complete("never")
    run = experiment.start_logging(outputs=False)
    (Path(out._resolve_for_run(run, str(workdir))) / "f.txt").write_text("x")
    finish_outputs(run, completed=False)
    [entry] = run.get_details()["outputDatasets"]
    assert entry["dataset"]["name"] is None and entry["destination"]["path"] == f"dataset/{run.id}/o"
    with pytest.raises(Exception):
        Dataset.get_by_name(experiment.workspace, "never")


@pytest.mark.slow
def test_output_argument_of_a_submitted_script(experiment, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Dataset, Environment, ScriptRunConfig
    from azuremlcore.data import OutputFileDatasetConfig

    (workdir / "src").mkdir()
    (workdir / "src" / "write.py").write_text(
        "import os, sys\nopen(os.path.join(sys.argv[1], 'result.txt'), 'w').write('42')\n")
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    out = OutputFileDatasetConfig(name="result").register_on_complete("result-ds")
    run = experiment.submit(ScriptRunConfig(source_directory="src", script="write.py", arguments=[out],
                                            environment=env))
    run.wait_for_completion(raise_on_error=True)
    [entry] = run.get_details()["outputDatasets"]
    assert entry["outputDetails"]["outputName"] == "result"
    files = Dataset.get_by_name(experiment.workspace, "result-ds").download(str(workdir / "dl"))
    assert [Path(f).read_text() for f in files] == ["42"]


# ---------------------------------------------------------------------------------------------- DataPath
def test_datapath(workspace, workdir: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Dataset
    from azuremlcore.data.datapath import DataPath, DataPathComputeBinding

    datastore = workspace.get_default_datastore()
    (workdir / "data").mkdir()
    (workdir / "data" / "iris.csv").write_text("a,b\n1,2\n")
    datastore.upload("data", target_path="iris", show_progress=False)
    path = DataPath(datastore, "iris", name="iris_input")
    assert (path.datastore_name, path.path_on_datastore) == (datastore.name, "iris")
    assert Dataset.File.from_files(path=path).to_path() == ["/iris.csv"]
    assert Dataset.Tabular.from_delimited_files(path=[DataPath(datastore, "iris/iris.csv")]).to_pandas_dataframe() \
        .shape == (1, 2)
    ref = path.create_data_reference(datapath_compute_binding=DataPathComputeBinding(mode="download"))
    assert (ref.mode, ref.path_on_datastore, ref.data_reference_name) == ("download", "iris", "iris_input")
    assert DataPath.create_from_data_reference(ref).path_on_datastore == "iris"
    local = Path(path._resolve_for_run(None, str(workdir / "job")))
    assert (local / "iris.csv").read_text() == "a,b\n1,2\n"
    with pytest.raises(UserErrorException, match="mount' or 'download"):
        DataPathComputeBinding(mode="upload")


@pytest.mark.slow
def test_kernel_inline_backend_does_not_reach_jobs(experiment, workdir: Path,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore import Environment, ScriptRunConfig

    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # what ipykernel sets
    (workdir / "src").mkdir()
    (workdir / "src" / "show.py").write_text("import os\nfrom azureml.core import Run\n"
                                             "Run.get_context().log('backend', str(os.environ.get('MPLBACKEND')))\n")
    env = Environment("user-managed")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = sys.executable
    run = experiment.submit(ScriptRunConfig(source_directory="src", script="show.py", environment=env))
    run.wait_for_completion(raise_on_error=True)  # `from azureml.core import Run` works in the job, too
    assert run.get_metrics() == {"backend": "None"}
