"""azuremlcore: the Azure ML v1 object model (`azureml.core`), on your own machine or server.

`from azuremlcore import Workspace, Experiment, Run, ScriptRunConfig, Environment` works as
`from azureml.core import ...` did. Classes are imported on first use so that
`import azuremlcore` stays fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"
# What `azureml.core.VERSION` holds in the real SDK (printed by the first cell of most notebooks).
VERSION = __version__

_EXPORTS = {
    "Workspace": "azuremlcore.workspace",
    "Experiment": "azuremlcore.experiment",
    "Run": "azuremlcore.run",
    "Keyvault": "azuremlcore.keyvault",
    "ScriptRunConfig": "azuremlcore.script_run_config",
    "RunConfiguration": "azuremlcore.runconfig",
    "Environment": "azuremlcore.environment",
    "ComputeTarget": "azuremlcore.compute",
    "Datastore": "azuremlcore.datastore",
    "Dataset": "azuremlcore.dataset",
    "Model": "azuremlcore.model",
    "Webservice": "azuremlcore.webservice",
}

__all__ = sorted(_EXPORTS)


def install_as_azureml() -> None:
    """Make ``import azureml.core`` (and the other ``azureml`` names this SDK implements) resolve to azuremlcore.

    Never shadows a real installation: when ``azureml-core`` is importable it is used, untouched.
    Call it once before importing ``azureml``; ``aml alias enable`` does it for every start of an
    interpreter, and ``AZUREMLCORE_AZUREML_ALIAS=1`` does it in SDK-built environments and jobs.
    """
    from azuremlcore import _alias

    _alias.install()


def __getattr__(name: str) -> object:  # `object`, not typing.Any: typing costs ~10 ms at start-up
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'azuremlcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
