"""Classes of the real SDK that only make sense on Azure: importable, and a clear error when used.

Setup scripts and notebooks import ``AksCompute`` or ``AciWebservice`` even where they never use
them; those imports must work. Any use (creating one, calling ``provisioning_configuration``,
``deploy_configuration``, ``attach_configuration``, ...) raises the SDK's usual exception with a
message that says what to use here instead.
"""
from __future__ import annotations

from typing import Any, NoReturn

# What to use instead, shared by the compute kinds and by the web service kinds.
RUN_HERE = ("runs execute on this machine: submit with compute_target='local', or to a cluster made with "
            "ComputeTarget.create(ws, 'cpu-cluster', AmlCompute.provisioning_configuration(max_nodes=...)).")
SERVE_HERE = ("deploy models on this machine with Model.deploy(ws, name, models, inference_config, "
              "LocalWebservice.deploy_configuration(port=...)).")


class _Unavailable:
    """What an Azure-only class's member is here: calling it, or reading from it, raises the error."""

    def __init__(self, owner: Any, used: str) -> None:
        self._owner, self._used = owner, used

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._owner._refuse(self._used)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        self._owner._refuse(f"{self._used}.{name}")

    def __repr__(self) -> str:
        return f"<{self._used}: not available here>"


class _AzureOnlyMeta(type):
    """Turns any public class attribute the class does not define (``provisioning_configuration``,
    ``ClusterPurpose``, ...) into an `_Unavailable` that raises the error when used."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Unavailable(cls, f"{cls.__name__}.{name}")


def azure_only(name: str, base: type, error: type[Exception], what: str, advice: str, module: str) -> type:
    """A class named `name` (subclass of `base`, living in `module`) whose every use raises `error`.

    `what` says what the real class is for; `advice` what to use here instead.
    """
    message = f"{name} ({what}) is only available on Azure; here {advice}"

    def _refuse(cls: type, used: str) -> NoReturn:
        raise error(f"{used}: {message}")

    def __new__(cls: type, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(cls, f"{name}(...)")

    meta = _AzureOnlyMeta if type(base) is type else type("_AzureOnly" + type(base).__name__,
                                                          (_AzureOnlyMeta, type(base)), {})
    doc = f"Not available: {message}"
    return meta(name, (base,), {"__new__": __new__, "_refuse": classmethod(_refuse), "__doc__": doc,
                                "__module__": module, "__qualname__": name})
