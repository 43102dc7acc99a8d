"""Which credential MLflow's requests to a workspace server use in this process, by endpoint.

`Workspace.get_mlflow_tracking_uri` records the workspace's `auth` here (to be asked without
prompting), `azuremlmlflow.register_token_provider` any provider; the last one recorded for an
endpoint wins. The MLflow bridge reads this registry for each request, so the core hands MLflow
its credentials without importing the bridge.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, eq=False)
class Registered:
    """A provider of tokens (auth object, callable, ...) and whether it must be asked without prompting."""

    provider: Any
    silent: bool = False


_registry: dict[str, Registered] = {}
_lock = threading.Lock()


def _key(endpoint: str) -> str:
    return endpoint.rstrip("/").lower()


def register(endpoint: str, provider: Any, *, silent: bool = False) -> None:
    """Use `provider` for MLflow's requests to `endpoint` in this process (None forgets the endpoint's)."""
    with _lock:
        if provider is None:
            _registry.pop(_key(endpoint), None)
        else:
            _registry[_key(endpoint)] = Registered(provider, silent)


def registered(endpoint: str) -> Registered | None:
    """What was registered last for `endpoint`, or None."""
    with _lock:
        return _registry.get(_key(endpoint))
