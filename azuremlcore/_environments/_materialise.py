"""Build (once) and reuse the virtualenv of an Environment.

Rules, in short:
* user-managed environments are not built: ``python.interpreter_path`` (or this interpreter) is used;
* otherwise the conda file is resolved (python version, pip requirements, conda packages with a PyPI
  twin) and hashed; the hash names a directory in ``$AZUREMLCORE_HOME/envs`` (default
  ``~/.azuremlcore/envs``). A complete directory is reused as is;
* a missing one is built with ``uv venv --relocatable`` + ``uv pip install`` in a temporary directory
  and renamed into place, under an ``fcntl.flock`` lock so that concurrent threads and processes
  build one spec once;
* uv never downloads interpreters (``UV_PYTHON_DOWNLOADS=never``): the requested Python must be
  installed, else the error names it and the interpreters found;
* this SDK is made importable in the env by a ``.pth`` file pointing at ``$AZUREMLCORE_HOME/sdk/<key>/``
  (symlinks to the installed ``azuremlcore``/``azuremlmlflow``), and its runtime requirements are installed.
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from azuremlcore._environments._condamap import convert
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:  # pragma: no cover
    from azuremlcore.environment import Environment

__all__ = ["MaterialisedEnv", "materialise", "describe", "azuremlcore_home", "EnvironmentBuildError"]

# Bump when the layout of a built env changes, so that old cache entries are not reused.
BUILDER_VERSION = 1
MARKER = "azuremlcore-env.json"
FREEZE_FILE = "azuremlcore-freeze.txt"
BUILD_LOG = "azuremlcore-build.log"
PTH_NAME = "_azuremlcore_sdk.pth"
_DIST_NAME = "amlcore-open"
# Fallback when the SDK's own metadata cannot be read (e.g. running from a source tree).
_SDK_REQUIREMENTS_FALLBACK = ("SQLAlchemy>=2.0", "alembic>=1.12", "pydantic>=2.5", "requests>=2.31", "PyYAML>=6")
# pip names of the Azure ML packages this SDK stands in for: they are not installed from PyPI.
_PROVIDED_BY_SDK = {"azureml-core": "", "azureml-defaults": "", "azureml-sdk": "", "azureml-telemetry": "",
                    "azureml-mlflow": "mlflow-skinny", "azureml-dataset-runtime": "", "azureml-inference-server-http": "",
                    "azureml-train-core": "", "azureml-train": "", "azureml-pipeline": "", "azureml-pipeline-core": "",
                    "azureml-pipeline-steps": "", "azureml-widgets": "", "azureml-dataprep": ""}

Log = Callable[[str], None]
_logger = logging.getLogger("azuremlcore.environments")


class EnvironmentBuildError(UserErrorException):
    """An environment could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class MaterialisedEnv:
    """A ready interpreter for an Environment: ``python`` to run, its ``env_dir``, ``pip freeze`` text, cache key."""

    python: Path
    env_dir: Path
    frozen: str
    spec_hash: str
    reused: bool


@dataclass
class _Resolved:
    python_request: str  # '' = this interpreter
    requirements: list[str]
    pip_options: list[str]
    conda_only: list[str]
    channels: list[str]
    notes: list[str]


# ---------------------------------------------------------------------------------------------- paths
def azuremlcore_home() -> Path:
    """``$AZUREMLCORE_HOME``, default ``~/.azuremlcore``."""
    return Path(os.environ.get("AZUREMLCORE_HOME") or Path.home() / ".azuremlcore").expanduser()


def uv_binary() -> str | None:
    """The uv executable from the ``uv`` PyPI package, else from PATH, else None."""
    try:
        import uv  # the PyPI package only ships the binary and this finder

        found = uv.find_uv_bin()
        if found and os.path.exists(found):
            return os.fspath(found)
    except Exception:  # not installed, or its binary is missing on this platform
        pass
    return shutil.which("uv")


def _conda_binary() -> str | None:
    for tool in ("micromamba", "mamba", "conda"):
        found = shutil.which(tool)
        if found:
            return found
    return None


def _uv_environ() -> dict[str, str]:
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"  # uv cannot download interpreters here: it would hang, then fail
    env["UV_NO_PROGRESS"] = "1"
    env.pop("VIRTUAL_ENV", None)  # every call names its target interpreter explicitly
    env.pop("UV_SYSTEM_PYTHON", None)
    return env


def _venv_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _site_packages(env_dir: Path) -> Path:
    if os.name == "nt":
        return env_dir / "Lib" / "site-packages"
    found = sorted(glob.glob(str(env_dir / "lib" / "python*" / "site-packages")))
    if not found:
        raise EnvironmentBuildError(f"No site-packages directory in {env_dir}.")
    return Path(found[0])


# ---------------------------------------------------------------------------------------------- resolve
def _pip_entry_name(req: str) -> str:
    m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    if not m or req.strip().startswith("-") or "://" in req.split("@", 1)[0]:
        return ""
    return re.sub(r"[-_.]+", "-", m.group(1)).lower()


def resolve(env: "Environment") -> _Resolved:
    """The python request, pip requirements and options, and conda-only packages of a system-managed env."""
    cd = env.python.conda_dependencies
    res = _Resolved("", [], [], [], [], [])
    if cd is None:
        return res
    res.channels = list(cd.conda_channels)
    for spec in cd.conda_packages:
        out = convert(spec)
        if out.kind == "python":
            res.python_request = out.python_spec.strip()
        elif out.kind == "pip":
            res.requirements.append(out.requirement)
        elif out.kind == "conda-only":
            res.conda_only.append(spec)
            if out.note:
                res.notes.append(out.note)
        elif out.note:
            res.notes.append(out.note)
    for option in cd.pip_options:
        res.pip_options.append(option.strip())
    for req in cd.pip_packages:
        req = req.strip()
        name = _pip_entry_name(req)
        if name in _PROVIDED_BY_SDK:
            twin = _PROVIDED_BY_SDK[name]
            res.notes.append(f"{req!r}: provided by azuremlcore" + (f" (installing {twin})" if twin else "; skipped"))
            if twin:
                res.requirements.append(twin)
            continue
        res.requirements.append(req)
    # the same package from conda and pip: keep pip's line (it is what Azure ML's pip step would leave)
    seen: dict[str, int] = {}
    deduped: list[str] = []
    for req in res.requirements:
        name = _pip_entry_name(req)
        if name and name in seen:
            deduped[seen[name]] = req
            continue
        if name:
            seen[name] = len(deduped)
        deduped.append(req)
    res.requirements = deduped
    return res


# ---------------------------------------------------------------------------------------------- interpreters
_INTERPRETER_CACHE: dict[str, tuple[str, str]] = {}
_PROBE = "import sys, platform; print(sys.executable); print(platform.python_version())"


def _probe(exe: str) -> tuple[str, str] | None:
    """(path, full version) of an interpreter, or None if it does not run (e.g. a pyenv shim without a version)."""
    try:
        proc = subprocess.run([exe, "-c", _PROBE], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.strip().splitlines()
    return (exe, lines[-1].strip()) if len(lines) >= 2 else None


def _candidate_interpreters() -> list[tuple[str, str]]:
    """Interpreters installed on this machine: PATH python3.X, pyenv versions, uv-managed ones."""
    names: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if "shims" in folder:
            continue  # pyenv shims fail unless the version is selected; the real binaries are scanned below
        for path in glob.glob(os.path.join(folder, "python3*")) + glob.glob(os.path.join(folder, "python")):
            if re.search(r"python(3(\.\d+)?)?(\.exe)?$", path) and os.access(path, os.X_OK):
                names.append(path)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    names += glob.glob(os.path.join(pyenv_root, "versions", "*", "bin", "python3.*[0-9]"))
    uv_dir = os.environ.get("UV_PYTHON_INSTALL_DIR") or os.path.expanduser("~/.local/share/uv/python")
    names += glob.glob(os.path.join(uv_dir, "*", "bin", "python3.*[0-9]"))
    found: dict[str, tuple[str, str]] = {}
    for exe in names:
        real = os.path.realpath(exe)
        if real in found:
            continue
        probed = _probe(exe)
        if probed:
            found[real] = probed
    return sorted(found.values(), key=lambda t: tuple(int(x) for x in re.findall(r"\d+", t[1])[:3]), reverse=True)


def _matches(version: str, request: str) -> bool:
    if not request:
        return True
    if request[0] in "<>=!~":
        try:
            from packaging.specifiers import SpecifierSet

            return version in SpecifierSet(request.replace("=<", "<="), prereleases=True)
        except Exception:
            return False
    want = [p for p in request.rstrip(".*").split(".") if p]
    have = version.split(".")
    # major.minor must match; a patch in the request is advisory (a laptop rarely has that exact build)
    return have[:2] == want[:2]


def find_interpreter(request: str) -> tuple[str, str]:
    """(path, full version) of an installed Python satisfying ``request`` ('3.10', '3.10.4', '>=3.9', '')."""
    current = (sys.executable, ".".join(map(str, sys.version_info[:3])))
    if _matches(current[1], request):
        return current
    if request in _INTERPRETER_CACHE:
        return _INTERPRETER_CACHE[request]
    uv = uv_binary()
    if uv and request and request[0].isdigit():
        try:
            proc = subprocess.run([uv, "python", "find", request], capture_output=True, text=True, timeout=30,
                                  env=_uv_environ())
            if proc.returncode == 0 and proc.stdout.strip():
                probed = _probe(proc.stdout.strip().splitlines()[-1])
                if probed and _matches(probed[1], request):
                    _INTERPRETER_CACHE[request] = probed
                    return probed
        except (OSError, subprocess.TimeoutExpired):
            pass
    candidates = _candidate_interpreters()
    for exe, version in candidates:
        if _matches(version, request):
            _INTERPRETER_CACHE[request] = (exe, version)
            return exe, version
    listed = ", ".join(f"{v} ({p})" for p, v in candidates) or "none"
    raise EnvironmentBuildError(
        f"Python {request} is not installed on this machine, and interpreters are never downloaded. "
        f"Interpreters found: {listed}. Install Python {request} (OS packages, pyenv, or `uv python install "
        f"{request}` where downloads work), or change 'python={request}' in the environment's conda file, or set "
        "env.python.user_managed_dependencies = True to run with an existing interpreter.")


# ---------------------------------------------------------------------------------------------- the SDK inside envs
def _site_dirs() -> list[str]:
    """This interpreter's site-packages only: metadata found through the cwd or a source tree on sys.path
    (e.g. a stale ``*.egg-info`` next to the code) would make the cache key differ between processes."""
    import site

    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    user = site.getusersitepackages() if hasattr(site, "getusersitepackages") else None
    return dirs + ([user] if isinstance(user, str) else [])


def _distribution(name: str) -> Any:
    from importlib import metadata

    return next(iter(metadata.distributions(name=name, path=_site_dirs())), None)


def _host_version(name: str) -> str | None:
    dist = _distribution(name)
    return dist.version if dist is not None else None


def sdk_requirements(same_python: bool) -> list[str]:
    """The SDK's runtime requirements (no uv), pinned to this interpreter's versions when the env's Python matches."""
    dist = _distribution(_DIST_NAME)
    raw = (dist.requires or []) if dist is not None else []
    reqs = [r.split(";")[0].strip() for r in raw if "extra ==" not in r and "extra==" not in r] or list(
        _SDK_REQUIREMENTS_FALLBACK)
    names = {_pip_entry_name(r) for r in reqs}
    for extra in _SDK_REQUIREMENTS_FALLBACK:  # e.g. PyYAML before the packaging metadata lists it
        if _pip_entry_name(extra) not in names:
            reqs.append(extra)
    reqs = [r for r in reqs if _pip_entry_name(r) != "uv"]
    if not same_python:
        return reqs
    # Same Python: install exactly what the SDK runs with here, so code inside the run behaves the same.
    pinned = []
    for r in reqs:
        name = _pip_entry_name(r)
        version = _host_version(name)
        pinned.append(f"{name}=={version}" if version else r)
    return pinned


def sdk_dir() -> Path:
    """``$AZUREMLCORE_HOME/sdk/<hash>/`` holding symlinks to this SDK's packages (created on first use)."""
    import importlib.util

    import azuremlcore

    packages: dict[str, str] = {"azuremlcore": str(Path(azuremlcore.__file__).resolve().parent)}
    spec = importlib.util.find_spec("azuremlmlflow")
    if spec is not None and spec.submodule_search_locations:
        packages["azuremlmlflow"] = str(Path(list(spec.submodule_search_locations)[0]).resolve())
    version = _host_version(_DIST_NAME) or "0"
    key = hashlib.sha256(json.dumps([packages, version], sort_keys=True).encode()).hexdigest()[:16]
    target = azuremlcore_home() / "sdk" / key
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for name, location in packages.items():
        try:
            os.symlink(location, tmp / name, target_is_directory=True)
        except OSError:  # no symlink rights (Windows without developer mode): copy instead
            shutil.copytree(location, tmp / name, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        os.rename(tmp, target)
    except OSError:  # another process made it first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_pth(env_dir: Path) -> None:
    """Point the env at this SDK (rewritten when the SDK moved since the env was built)."""
    site = _site_packages(env_dir)
    line = str(sdk_dir()) + "\n"
    pth = site / PTH_NAME
    try:
        if pth.read_text() == line:
            return
    except OSError:
        pass
    tmp = site / f".{PTH_NAME}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(line)
    os.replace(tmp, pth)


# ---------------------------------------------------------------------------------------------- locking
@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between threads and processes (one open file description per holder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # Windows
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# ---------------------------------------------------------------------------------------------- main entry
def _run(cmd: list[str], log_lines: list[str], step: str, env: dict[str, str] | None = None,
         cwd: str | None = None) -> str:
    log_lines.append("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    log_lines.extend(x for x in (proc.stdout + proc.stderr).splitlines() if x.strip())
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise EnvironmentBuildError(f"Environment build failed while {step} (exit code {proc.returncode}):\n{tail}")
    return proc.stdout


def _cache_key(python_version: str, res: _Resolved, sdk_reqs: list[str]) -> str:
    resolved = {
        "builder": BUILDER_VERSION,
        "python": python_version,
        "requirements": sorted(res.requirements),
        "pip_options": res.pip_options,
        "conda": sorted(res.conda_only),
        "channels": res.channels if res.conda_only else [],
        "sdk": sorted(sdk_reqs),
    }
    return hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()


def _user_managed(env: "Environment", log: Log) -> MaterialisedEnv:
    path = env.python.interpreter_path or "python"
    if path == "python":
        python = sys.executable
    else:
        python = shutil.which(path) or path
        if not os.path.exists(python):
            raise UserErrorException(f"python.interpreter_path {path!r} does not exist (user-managed environment "
                                     f"{env.name!r}). Set it to an existing interpreter, or leave it 'python' to use "
                                     f"{sys.executable}.")
    log(f"Using user-managed interpreter {python} for environment {env.name!r}")
    exe = Path(python)
    return MaterialisedEnv(python=exe, env_dir=Path(sys.prefix) if python == sys.executable else exe.parent.parent,
                           frozen="", spec_hash=env._spec_hash(), reused=True)


def _plan(env: "Environment") -> tuple[_Resolved, str, str, list[str], str]:
    """Everything decided before building: resolution, interpreter, SDK requirements and cache key."""
    if env.docker._needs_docker():
        what = "a Dockerfile" if env.docker.base_dockerfile else (
            "a Docker build context" if env.docker.build_context is not None else f"the image {env.docker.base_image!r}")
        raise UserErrorException(
            f"Environment {env.name!r} is defined by {what}, and Docker is not available here: this SDK runs jobs "
            "in local virtualenvs. Set env.python.user_managed_dependencies = True to run it with this machine's "
            "Python, or describe its packages with a conda/pip file (Environment.from_conda_specification).")
    res = resolve(env)
    if res.conda_only and _conda_binary() is None:
        raise UserErrorException(
            f"Environment {env.name!r} needs conda packages that have no PyPI equivalent here: "
            f"{', '.join(res.conda_only)}. No conda, mamba or micromamba is on PATH, so they cannot be installed. "
            "Replace them with pip packages in the conda file's 'pip:' section, remove them, or install conda.")
    python, version = find_interpreter(res.python_request)
    same = version.split(".")[:2] == [str(x) for x in sys.version_info[:2]]
    sdk_reqs = sdk_requirements(same)
    user_names = {_pip_entry_name(r) for r in res.requirements}
    sdk_reqs = [r for r in sdk_reqs if _pip_entry_name(r) not in user_names]  # the user's pin wins
    return res, python, version, sdk_reqs, _cache_key(version, res, sdk_reqs)


def describe(env: "Environment", cache_dir: Path | None = None) -> dict[str, Any]:
    """Where ``env`` is (or would be) built, without building it."""
    if env.python.user_managed_dependencies:
        mat = _user_managed(env, lambda _m: None)
        return {"imageExistsInRegistry": True, "dockerImage": None, "specHash": mat.spec_hash,
                "pythonEnvironment": {"interpreterPath": str(mat.python), "userManaged": True}}
    res, python, version, _sdk, key = _plan(env)
    env_dir = Path(cache_dir or azuremlcore_home() / "envs") / key[:24]
    return {"imageExistsInRegistry": (env_dir / MARKER).is_file(), "dockerImage": None, "specHash": key,
            "pythonEnvironment": {"interpreterPath": str(_venv_python(env_dir)), "envDir": str(env_dir),
                                  "pythonVersion": version, "baseInterpreter": python,
                                  "requirements": res.requirements, "userManaged": False}}


def materialise(env: "Environment", *, cache_dir: Path | None = None, log: Log | None = None) -> MaterialisedEnv:
    """Return a ready interpreter for ``env``: reuse the cached build of its spec, or build it once (see module doc)."""
    emit: Log = log or _logger.info
    if env.python.user_managed_dependencies:
        return _user_managed(env, emit)
    res, python, version, sdk_reqs, key = _plan(env)
    root = Path(cache_dir) if cache_dir is not None else azuremlcore_home() / "envs"
    env_dir = root / key[:24]
    if (env_dir / MARKER).is_file():  # fast path: no lock, no subprocess
        _write_pth(env_dir)
        emit(f"Reusing environment {key[:12]} for {env.name!r} at {env_dir}")
        return MaterialisedEnv(_venv_python(env_dir), env_dir, _read(env_dir / FREEZE_FILE), key, True)
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / ".locks" / f"{key[:24]}.lock"):
        if (env_dir / MARKER).is_file():  # built by whoever held the lock before us
            _write_pth(env_dir)
            emit(f"Reusing environment {key[:12]} for {env.name!r} at {env_dir} (built concurrently)")
            return MaterialisedEnv(_venv_python(env_dir), env_dir, _read(env_dir / FREEZE_FILE), key, True)
        for note in res.notes:
            emit(f"  note: {note}")
        emit(f"Building environment {key[:12]} for {env.name!r}: Python {version}, "
             f"{len(res.requirements)} requirement(s) {res.requirements} -> {env_dir}")
        started = time.monotonic()
        frozen = _build(env, res, python, version, sdk_reqs, key, env_dir, emit)
        emit(f"Built environment {key[:12]} in {time.monotonic() - started:.1f}s")
        return MaterialisedEnv(_venv_python(env_dir), env_dir, frozen, key, False)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _build(env: "Environment", res: _Resolved, python: str, version: str, sdk_reqs: list[str], key: str,
           env_dir: Path, emit: Log) -> str:
    uv = uv_binary()
    conda = _conda_binary() if res.conda_only else None
    # uv venvs are relocatable, so they are built aside and renamed in atomically; conda envs and plain
    # venvs embed their prefix, so they are built in place and only the marker (written last) makes them count.
    in_place = conda is not None or uv is None
    if env_dir.exists():
        shutil.rmtree(env_dir)  # a leftover without marker: an interrupted in-place build
    build_dir = env_dir if in_place else env_dir.parent / f".build-{key[:16]}-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    uv_env = _uv_environ()
    cwd = str(env_dir.parent)  # keep uv away from any pyproject.toml / uv.toml of the user's cwd
    try:
        if conda is not None:
            cmd = [conda, "create", "-y", "-p", str(build_dir), f"python={version}", *res.conda_only]
            for ch in res.channels:
                cmd += ["-c", ch]
            _run(cmd, lines, "creating the conda environment")
        elif uv is not None:
            _run([uv, "venv", "--relocatable", "--no-config", "--python", python, str(build_dir)], lines,
                 f"creating a virtualenv for Python {version}", env=uv_env, cwd=cwd)
        else:
            _run([python, "-m", "venv", str(build_dir)], lines, f"creating a virtualenv for Python {version}")
        target_python = _venv_python(build_dir)
        req_file = build_dir / "azuremlcore-requirements.txt"
        req_file.write_text("\n".join([*res.pip_options, *res.requirements, *sdk_reqs]) + "\n")
        if uv is not None:
            _run([uv, "pip", "install", "--no-config", "--python", str(target_python), "-r", str(req_file)], lines,
                 "installing packages", env=uv_env, cwd=cwd)
            frozen = _run([uv, "pip", "freeze", "--no-config", "--python", str(target_python)], lines,
                          "listing installed packages", env=uv_env, cwd=cwd)
        else:
            _run([str(target_python), "-m", "pip", "install", "-q", "-r", str(req_file)], lines, "installing packages")
            frozen = _run([str(target_python), "-m", "pip", "freeze"], lines, "listing installed packages")
        _write_pth(build_dir)
        (build_dir / FREEZE_FILE).write_text(frozen)
        (build_dir / BUILD_LOG).write_text("\n".join(lines) + "\n")
        (build_dir / MARKER).write_text(json.dumps({
            "key": key, "environment": env.name, "python": version, "base_interpreter": python,
            "requirements": res.requirements, "pip_options": res.pip_options, "conda": res.conda_only,
            "sdk_requirements": sdk_reqs, "built_at": time.time(), "builder": BUILDER_VERSION,
        }, indent=2))
        if not in_place:
            os.rename(build_dir, env_dir)
    except BaseException:
        shutil.rmtree(build_dir, ignore_errors=True)
        raise
    return frozen
