"""The opt-in ``azureml`` import alias: ``import azureml.core`` resolves to this SDK when no real one is installed.

`install()` appends a finder at the END of ``sys.meta_path``, so every other finder (a real
``azureml-core``, or an ``azureml`` namespace package of another ``azureml-*`` distribution) is
asked first: the alias only answers for names nothing else provides, and stands down entirely
when a real ``azureml.core`` is importable. Names map one to one (``azureml.core.run`` is
``azuremlcore.run``): a plain module is the very same module object; a package is a thin proxy
module that forwards attribute reads to the real package (so ``azureml.core.Run is
azuremlcore.Run``) and has an empty ``__path__``, which makes submodule imports come back here
instead of loading our files a second time under the other name.

This module runs at interpreter start-up (from a ``.pth`` file) and inside jobs that may use
Python 3.8: it imports nothing heavy and uses no syntax or API newer than 3.8.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import types

# Alias roots and the module each stands for; the subtree below an alias maps name for name.
_ROOTS = {
    "azureml.core": "azuremlcore",
    "azureml.data": "azuremlcore.data",
    "azureml.exceptions": "azuremlcore.exceptions",
    "azureml.telemetry": "azuremlcore._telemetry",
    "azureml.widgets": "azuremlcore.widgets",
    "azureml.mlflow": "azuremlmlflow",
}
# Modules of this SDK below `azuremlcore` that are not azureml.core names (its own machinery, or
# azureml.data which has a root of its own).
_NOT_CORE = {"server", "data"}
# Import-system attributes a proxy keeps to itself (set on it by the import system); other reads go to the target.
_OWN = {"__path__", "__spec__", "__loader__", "__package__", "__name__"}
# Marks a module made by this finder (value: the module it stands for).
MARK = "__azuremlcore_alias__"
_PTH_ENV = "AZUREMLCORE_AZUREML_ALIAS"


def target_of(fullname: str) -> str | None:
    """The azuremlcore module an ``azureml`` name stands for, or None when the alias does not provide it."""
    for alias, target in _ROOTS.items():
        if fullname == alias:
            return target
        if fullname.startswith(alias + "."):
            rest = fullname[len(alias) + 1:]
            parts = rest.split(".")
            if any(p.startswith("_") for p in parts):  # the real SDK's internals are not ours to stand for
                return None
            if alias == "azureml.core" and parts[0] in _NOT_CORE:
                return None
            return target + "." + rest
    return None


def _is_alias(module: object) -> bool:
    return getattr(module, MARK, None) is not None


class _AliasPackage(types.ModuleType):
    """A package of the alias: attribute reads fall through to the package it stands for."""

    def __getattr__(self, name: str) -> object:
        target = sys.modules.get(self.__dict__.get(MARK) or "")
        if target is None or name in _OWN:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        try:
            return getattr(target, name)
        except AttributeError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} "
                                 f"({target.__name__} does not provide it)") from None

    def __dir__(self) -> list[str]:
        target = sys.modules.get(self.__dict__.get(MARK) or "")
        return sorted(set(self.__dict__) | set(dir(target) if target is not None else ()))


class _AzuremlTop(types.ModuleType):
    """The ``azureml`` package when no real one exists: ``azureml.data`` etc. load on first attribute read."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("_") or target_of(f"azureml.{name}") is None:
            raise AttributeError(f"module 'azureml' has no attribute {name!r}")
        try:
            return importlib.import_module(f"azureml.{name}")
        except ImportError:
            raise AttributeError(f"module 'azureml' has no attribute {name!r}") from None


class AliasFinder:
    """Meta-path finder and loader of the ``azureml`` alias (see the module docstring)."""

    _azuremlcore_alias = True

    # ------------------------------------------------------------------ finding
    def find_spec(self, fullname: str, path: object = None, target: object = None) -> "importlib.machinery.ModuleSpec | None":
        """A spec for an aliased name that no other finder provides, else None."""
        if fullname != "azureml" and not fullname.startswith("azureml."):
            return None
        if self._found_by_others(fullname, path, target):
            return None  # never shadow: a finder installed after us knows this name
        if fullname == "azureml":
            return importlib.machinery.ModuleSpec("azureml", self, is_package=True)
        parent_name = fullname.rpartition(".")[0]
        parent = sys.modules.get(parent_name)
        if parent is None or (parent_name != "azureml" and not _is_alias(parent)):
            return None  # a real package's submodule: not ours to provide
        real_name = target_of(fullname)
        if real_name is None or self._real_core_present():
            return None
        try:
            from importlib.util import find_spec  # here, not at start-up: only needed when a name is used

            real_spec = find_spec(real_name)
        except (ImportError, ValueError):
            real_spec = None
        if real_spec is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=real_spec.origin,
                                              is_package=real_spec.submodule_search_locations is not None)
        spec.loader_state = real_name
        return spec

    def _found_by_others(self, fullname: str, path: object, target: object) -> bool:
        """Whether a finder after this one in sys.meta_path would provide the name (one appended later)."""
        finders = sys.meta_path
        try:
            mine = next(i for i, f in enumerate(finders) if f is self)
        except StopIteration:
            return False
        for finder in finders[mine + 1:]:
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            try:
                if find(fullname, path, target) is not None:
                    return True
            except Exception:  # noqa: BLE001 - a broken finder must not break the alias
                continue
        return False

    def _real_core_present(self) -> bool:
        """Whether a real (not aliased) ``azureml.core`` is imported or importable: then the alias stands down."""
        core = sys.modules.get("azureml.core")
        if core is not None:
            return not _is_alias(core)
        top = sys.modules.get("azureml")
        if top is None or _is_alias(top):
            return False
        search = getattr(top, "__path__", None)
        for finder in sys.meta_path:
            if finder is self or getattr(finder, "find_spec", None) is None:
                continue
            try:
                if finder.find_spec("azureml.core", search, None) is not None:
                    return True
            except Exception:  # noqa: BLE001 - a broken finder must not break the alias
                continue
        return False

    # ------------------------------------------------------------------ loading
    def create_module(self, spec: "importlib.machinery.ModuleSpec") -> types.ModuleType:
        """The module object for an aliased name (see the module docstring for which kind)."""
        if spec.name == "azureml":
            top = _AzuremlTop("azureml", "Azure ML v1 names provided by azuremlcore (see azuremlcore.install_as_azureml).")
            top.__path__ = []
            setattr(top, MARK, "azureml")
            return top
        real = importlib.import_module(spec.loader_state)
        if getattr(real, "__path__", None) is None:
            # The import system overwrites __spec__ before exec_module: keep the real one to put back.
            spec.loader_state = (spec.loader_state, getattr(real, "__spec__", None))
            return real
        proxy = _AliasPackage(spec.name, real.__doc__)
        proxy.__path__ = []  # submodules are found by this finder, never as files under the alias name
        setattr(proxy, MARK, real.__name__)
        for attr in ("__file__", "__all__"):
            if hasattr(real, attr):
                setattr(proxy, attr, getattr(real, attr))
        return proxy

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the real module is already imported; restore its own ``__spec__``."""
        state = getattr(module.__spec__, "loader_state", None)
        if not _is_alias(module) and isinstance(state, tuple) and state[1] is not None:
            module.__spec__ = state[1]

    def __repr__(self) -> str:
        return "<azuremlcore azureml alias finder>"


def installed() -> bool:
    """Whether the alias finder is in ``sys.meta_path``."""
    return any(getattr(f, "_azuremlcore_alias", False) for f in sys.meta_path)


def install() -> None:
    """Append the alias finder at the end of ``sys.meta_path`` (once; later calls do nothing)."""
    if not installed():
        sys.meta_path.append(AliasFinder())


def uninstall() -> None:
    """Remove the finder; modules already imported under ``azureml`` names stay in ``sys.modules``."""
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "_azuremlcore_alias", False)]


def install_from_pth() -> None:
    """What the ``.pth`` of ``aml alias enable`` calls: install, unless AZUREMLCORE_AZUREML_ALIAS is set to off."""
    try:
        if os.environ.get(_PTH_ENV, "").strip().lower() in ("0", "false", "no", "off"):
            return
        install()
    except Exception:  # noqa: BLE001 - never break interpreter start-up
        pass
