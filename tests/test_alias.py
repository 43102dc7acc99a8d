"""The `azureml` import alias: names resolve to azuremlcore, objects are the same, a real SDK is never shadowed."""
from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

import azuremlcore
from azuremlcore import _alias

REPO = Path(__file__).resolve().parents[1]


def _forget_azureml() -> None:
    for name in [n for n in sys.modules if n == "azureml" or n.startswith("azureml.")]:
        del sys.modules[name]


@pytest.fixture
def alias() -> Iterator[None]:
    """The alias installed in this process; afterwards removed with every module imported through it."""
    _forget_azureml()
    azuremlcore.install_as_azureml()
    yield
    _alias.uninstall()
    _forget_azureml()


def test_version_and_core(alias: None) -> None:
    import azureml.core

    assert azureml.core.VERSION == azuremlcore.VERSION == azuremlcore.__version__
    from azureml.core import Environment, Experiment, Run, ScriptRunConfig, Workspace

    assert (Run, Workspace, Experiment, ScriptRunConfig, Environment) == (
        azuremlcore.Run, azuremlcore.Workspace, azuremlcore.Experiment, azuremlcore.ScriptRunConfig,
        azuremlcore.Environment)


def test_submodules_are_the_same_modules(alias: None) -> None:
    import azureml.core.compute
    import azureml.core.conda_dependencies
    import azureml.core.run
    import azureml.core.runconfig
    import azureml.exceptions
    from azureml.core.compute_target import ComputeTargetException
    from azureml.core.conda_dependencies import CondaDependencies
    from azureml.core.environment import CondaDependencies as EnvCondaDependencies
    from azureml.core.run import Run, _OfflineRun

    import azuremlcore.compute
    import azuremlcore.conda_dependencies
    import azuremlcore.exceptions
    import azuremlcore.run

    assert azureml.core.run is azuremlcore.run and Run is azuremlcore.Run
    assert azureml.core.compute is azuremlcore.compute
    assert CondaDependencies is EnvCondaDependencies is azureml.core.runconfig.CondaDependencies \
        is azuremlcore.conda_dependencies.CondaDependencies
    assert ComputeTargetException is azureml.exceptions.ComputeTargetException \
        is azuremlcore.exceptions.ComputeTargetException
    assert _OfflineRun is type(Run.get_context())
    # The real module keeps its own spec: the alias does not rename it.
    assert azuremlcore.run.__spec__.name == "azuremlcore.run"
    assert sys.modules["azureml.core.run"] is sys.modules["azuremlcore.run"]


def test_data_packages_and_their_modules(alias: None) -> None:
    import azureml.data
    from azureml.data import OutputFileDatasetConfig
    from azureml.data.data_reference import DataReference
    from azureml.data.datapath import DataPath, DataPathComputeBinding
    from azureml.data.dataset_factory import TabularDatasetFactory

    import azuremlcore.data.datapath

    assert OutputFileDatasetConfig is azuremlcore.data.OutputFileDatasetConfig
    assert DataPath is azuremlcore.data.datapath.DataPath and DataPathComputeBinding is not None
    assert DataReference.__module__ == "azuremlcore.data.data_reference"
    assert TabularDatasetFactory is azuremlcore.data.TabularDatasetFactory
    assert azureml.data.__version__ == azuremlcore.__version__
    # A package alias is a proxy whose empty __path__ keeps our files from loading twice under two names.
    assert azureml.data.__path__ == [] and sys.modules["azureml.data.datapath"] is azuremlcore.data.datapath


def test_top_package_loads_aliases_on_attribute_read(alias: None) -> None:
    import azureml.core

    assert azureml.exceptions.UserErrorException is azuremlcore.exceptions.UserErrorException  # type: ignore


def test_telemetry_is_a_no_op(alias: None) -> None:
    from azureml.telemetry import set_diagnostics_collection

    assert set_diagnostics_collection(send_diagnostics=True) is None


def test_isinstance_and_pickle_across_names(alias: None) -> None:
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    env = Environment("env-through-alias")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn"])
    assert isinstance(env, azuremlcore.Environment)
    back = pickle.loads(pickle.dumps(env))
    assert isinstance(back, Environment) and back.name == "env-through-alias"
    assert "scikit-learn" in back.python.conda_dependencies.serialize_to_string()


def test_names_not_provided(alias: None) -> None:
    for name in ("azureml.train.automl", "azureml.pipeline.core", "azureml.core.server", "azureml.core._private",
                 "azureml.data._internal"):
        with pytest.raises(ModuleNotFoundError):
            __import__(name)
    import azureml.core

    with pytest.raises(AttributeError, match="azureml.core"):
        azureml.core.NoSuchThing  # noqa: B018


def test_install_is_idempotent_and_last() -> None:
    try:
        _alias.install()
        _alias.install()
        finders = [f for f in sys.meta_path if getattr(f, "_azuremlcore_alias", False)]
        assert len(finders) == 1 and sys.meta_path[-1] is finders[0]
    finally:
        _alias.uninstall()
    assert not _alias.installed()


def test_startup_hook_honours_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore import _startup

    monkeypatch.setenv(_startup.ALIAS_ENV, "1")
    try:
        _startup.run_hooks()
        assert _alias.installed()
    finally:
        _alias.uninstall()
    monkeypatch.setenv(_startup.ALIAS_ENV, "0")
    _alias.install_from_pth()  # the .pth of `aml alias enable` respects an explicit 0
    assert not _alias.installed()


def test_real_package_on_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alias: None) -> None:
    fake = tmp_path / "site" / "azureml" / "core"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("VERSION = 'real-1.61'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    import azureml.core

    assert azureml.core.VERSION == "real-1.61"
    with pytest.raises(ModuleNotFoundError):  # the alias stands down for every name next to a real core
        import azureml.telemetry  # noqa: F401


def test_in_job_modules_parse_as_python_38() -> None:
    for module in ("_alias.py", "_startup.py", "_telemetry.py"):
        ast.parse((REPO / "azuremlcore" / module).read_text(), feature_version=(3, 8))


# ---------------------------------------------------------------------------------------------- processes
def _python(code: str, *, path: list[str] | None = None, env: dict | None = None) -> str:
    environ = dict(os.environ, PYTHONPATH=os.pathsep.join([*(path or []), str(REPO)]), **(env or {}))
    environ.pop("AZUREMLCORE_AZUREML_ALIAS", None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_a_real_azureml_core_distribution_always_wins(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "azureml" / "core").mkdir(parents=True)
    # Laid out as the real distribution is: a pkgutil-style `azureml` package shared with other azureml-* ones.
    (site / "azureml" / "__init__.py").write_text("__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")
    (site / "azureml" / "core" / "__init__.py").write_text("VERSION = 'real-1.61'\n")
    out = _python("""
        import azuremlcore
        azuremlcore.install_as_azureml()
        import azureml.core
        print(azureml.core.VERSION, azureml.core.__file__)
        try:
            import azureml.exceptions
            print("alias served azureml.exceptions")
        except ModuleNotFoundError:
            print("stood down")
    """, path=[str(site)])
    assert out.splitlines() == [f"real-1.61 {site / 'azureml' / 'core' / '__init__.py'}", "stood down"]


@pytest.mark.slow
def test_namespace_of_another_azureml_distribution(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "azureml" / "other").mkdir(parents=True)  # `azureml` is a namespace package of another distribution
    (site / "azureml" / "other" / "__init__.py").write_text("NAME = 'other'\n")
    out = _python("""
        import os
        import azuremlcore
        azuremlcore.install_as_azureml()
        import azureml.other, azureml.core
        print(azureml.other.NAME, azureml.core.VERSION == azuremlcore.VERSION, azureml.core.Run is azuremlcore.Run)
    """, path=[str(site)])
    assert out == "other True True"


@pytest.mark.slow
def test_import_azuremlcore_stays_fast_and_lazy() -> None:
    out = _python("""
        import sys, time
        t = time.perf_counter()
        import azuremlcore
        took = time.perf_counter() - t
        print(took < 0.2, "azuremlcore._alias" in sys.modules)
    """)
    assert out == "True False"
