"""Turn an environment into a local interpreter: a cached virtualenv built with uv (private).

``materialise(env)`` is the one entry point (``env`` an `EnvSpec`, an environment's definition, or an
Environment); it is imported lazily so that importing ``azuremlcore.environment`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from azuremlcore._environments._materialise import MaterialisedEnv, materialise

__all__ = ["MaterialisedEnv", "materialise"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from azuremlcore._environments import _materialise

        return getattr(_materialise, name)
    raise AttributeError(name)
