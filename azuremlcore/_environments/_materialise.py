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
* this SDK is linked into the env (``_sdk_link``: path and start-up ``.pth`` files, and a dist-info that
  carries the MLflow entry points), and its runtime requirements are installed.
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
from typing import Any, Callable, Iterator

from azuremlcore._environments._condamap import convert
from azuremlcore._environments._sdk_link import link_sdk, pip_name, sdk_dir, sdk_requirements, site_packages
from azuremlcore._environments.spec import EnvSpec, env_spec
from azuremlcore.exceptions import UserErrorException

__all__ = ["MaterialisedEnv", "materialise", "describe", "azuremlcore_home", "EnvironmentBuildError", "sdk_dir"]

# Bump when the layout of a built env changes, so that old cache entries are not reused.
BUILDER_VERSION = 2
MARKER = "azuremlcore-env.json"
FREEZE_FILE = "azuremlcore-freeze.txt"
BUILD_LOG = "azuremlcore-build.log"
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
    built: bool = True  # False for a user-managed interpreter (no start-up .pth of the SDK's in it)


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
    if "UV_SYSTEM_CERTS" not in env and "UV_NATIVE_TLS" not in env and _system_certificates():
        # pip trusts the system's certificate store; uv by default only its bundled roots, so behind a
        # corporate proxy whose root is installed system-wide (seen here) pip works and uv fails with
        # "invalid peer certificate: UnknownIssuer". UV_NATIVE_TLS is the name uv used before 0.10.
        env["UV_SYSTEM_CERTS"] = env["UV_NATIVE_TLS"] = "1"
    return env


# Where Linux distributions keep their certificate bundle (the places uv's native-certificate loader looks).
_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
               "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem", "/etc/pki/tls/cacert.pem")


def _system_certificates() -> bool:
    """Whether this system has a certificate store uv can load: without one (a container without
    ca-certificates) uv's bundled roots are the only ones that can work."""
    if sys.platform in ("darwin", "win32"):
        return True
    return any(os.path.isfile(p) and os.path.getsize(p) > 0
               for p in (os.environ.get("SSL_CERT_FILE", ""), *_CA_BUNDLES) if p)


def _venv_python(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# ---------------------------------------------------------------------------------------------- resolve
def resolve(env: Any) -> _Resolved:
    """The python request, pip requirements and options, and conda-only packages of a system-managed env.

    `env` is an EnvSpec, an environment definition, or an Environment (see `spec.env_spec`).
    """
    cd = env_spec(env).conda
    res = _Resolved("", [], [], [], [], [])
    if cd is None:
        return res
    res.channels = list(cd.channels)
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
        name = pip_name(req)
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
        name = pip_name(req)
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


# The oldest Python a job can run on: the in-job part of the SDK (run context, logging, MLflow bridge) needs it.
MIN_JOB_PYTHON = (3, 8)
# Set to "never" to stop uv from fetching a missing interpreter (it may hang on a closed network).
DOWNLOADS_ENV = "AZUREMLCORE_PYTHON_DOWNLOADS"
_DOWNLOAD_TIMEOUT_S = 120


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _supported(version: str) -> bool:
    return _version_tuple(version)[:2] >= MIN_JOB_PYTHON


def _floor_error(request: str, found: str | None = None) -> EnvironmentBuildError:
    floor = ".".join(map(str, MIN_JOB_PYTHON))
    what = f"Python {found} (for python={request})" if found else f"Python {request}"
    return EnvironmentBuildError(
        f"The environment asks for {what}, but jobs need Python {floor} or newer: the SDK's in-job part (run "
        f"context, logging, the MLflow bridge) runs on Python {floor} and newer. Change 'python={request}' in the "
        f"environment's conda dependencies to {floor} or newer (e.g. CondaDependencies.create(python_version="
        "'3.10')), pinning package versions that support it.")


def _uv_find(uv: str, request: str) -> tuple[str, str] | None:
    try:
        proc = subprocess.run([uv, "python", "find", request], capture_output=True, text=True, timeout=30,
                              env=_uv_environ())
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    probed = _probe(proc.stdout.strip().splitlines()[-1])
    return probed if probed and _matches(probed[1], request) and _supported(probed[1]) else None


def _uv_download(uv: str, request: str) -> tuple[tuple[str, str] | None, str]:
    """Fetch an interpreter with uv where the network allows: (found, why not)."""
    if os.environ.get(DOWNLOADS_ENV, "").strip().lower() in ("never", "0", "false", "no"):
        return None, f"downloads are off (${DOWNLOADS_ENV}=never)"
    env = _uv_environ()
    env["UV_PYTHON_DOWNLOADS"] = "automatic"
    try:
        proc = subprocess.run([uv, "python", "install", request], capture_output=True, text=True,
                              timeout=_DOWNLOAD_TIMEOUT_S, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"`uv python install {request}` did not finish in {_DOWNLOAD_TIMEOUT_S}s"
    except OSError as exc:
        return None, f"`uv python install {request}` could not run: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()
        return None, f"`uv python install {request}` failed: {last[-1] if last else proc.returncode}"
    return _uv_find(uv, request), ""


def find_interpreter(request: str) -> tuple[str, str]:
    """(path, full version) of a Python satisfying ``request`` ('3.10', '3.10.4', '>=3.9', '').

    Installed interpreters first (this one, uv's, PATH, pyenv), then a download by uv where the network
    allows (``$AZUREMLCORE_PYTHON_DOWNLOADS=never`` turns that off). Versions older than
    ``MIN_JOB_PYTHON`` are refused with a message that says what to change.
    """
    current = (sys.executable, ".".join(map(str, sys.version_info[:3])))
    if _matches(current[1], request):
        return current
    if request in _INTERPRETER_CACHE:
        return _INTERPRETER_CACHE[request]
    if re.match(r"^\d+\.\d+", request) and not _supported(request):
        raise _floor_error(request)
    uv = uv_binary()
    if uv and request and request[0].isdigit():
        found = _uv_find(uv, request)
        if found:
            _INTERPRETER_CACHE[request] = found
            return found
    candidates = _candidate_interpreters()
    too_old = None
    for exe, version in candidates:
        if _matches(version, request):
            if not _supported(version):
                too_old = too_old or version
                continue
            _INTERPRETER_CACHE[request] = (exe, version)
            return exe, version
    why = "uv is not installed"
    if uv and request and request[0].isdigit():
        found, why = _uv_download(uv, request)
        if found:
            _INTERPRETER_CACHE[request] = found
            return found
    if too_old:
        raise _floor_error(request, too_old)
    listed = ", ".join(f"{v} ({p})" for p, v in candidates) or "none"
    raise EnvironmentBuildError(
        f"Python {request} is not installed on this machine and could not be fetched ({why}). "
        f"Interpreters found: {listed}. Install Python {request} (OS packages, pyenv, or `uv python install "
        f"{request}`), or change 'python={request}' in the environment's conda file, or set "
        "env.python.user_managed_dependencies = True to run with an existing interpreter.")


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
         cwd: str | None = None, emit: Log | None = None, echo_stdout: bool = True) -> str:
    """Run one build step, passing its output to ``emit`` line by line as it comes (the run's build log)."""
    import threading

    log_lines.append("$ " + " ".join(cmd))
    if emit:
        emit("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, errors="replace")
    err_lines: list[str] = []

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line.strip():
                err_lines.append(line)
                if emit:
                    emit("  " + line)

    reader = threading.Thread(target=pump_stderr, daemon=True)
    reader.start()
    assert proc.stdout is not None
    out_lines: list[str] = []
    for line in proc.stdout:
        out_lines.append(line)
        if emit and echo_stdout and line.strip():
            emit("  " + line.rstrip("\n"))
    proc.wait()
    reader.join()
    stdout = "".join(out_lines)
    log_lines.extend(x for x in stdout.splitlines() + err_lines if x.strip())
    if proc.returncode != 0:
        tail = "\n".join((err_lines or stdout.strip().splitlines())[-25:])
        raise EnvironmentBuildError(f"Environment build failed while {step} (exit code {proc.returncode}):\n{tail}")
    return stdout


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


def _user_managed(env: EnvSpec, log: Log) -> MaterialisedEnv:
    path = env.interpreter_path or "python"
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
                           frozen="", spec_hash=env.spec_hash, reused=True, built=False)


def _check_mlflow(env: EnvSpec, res: _Resolved) -> None:
    """Refuse an MLflow the bridge cannot serve before anything is built (the job would fail at its first call)."""
    from azuremlcore._environments._mlflow_support import check_mlflow_requirement

    for req in res.requirements:
        if pip_name(req) in ("mlflow", "mlflow-skinny"):
            problem = check_mlflow_requirement(req)
            if problem:
                raise UserErrorException(f"Environment {env.name!r}: {problem}")


def _add_companions(res: _Resolved, python_version: str) -> None:
    """Add what the environment's MLflow needs to work there, unless the spec names those packages itself.

    MLflow before 2.16 needs ``pkg_resources`` (setuptools<81); MLflow 3 saves scikit-learn models with
    skops by default, which mlflow-skinny (what ``azureml-mlflow`` becomes) does not bring.
    """
    from azuremlcore._environments._mlflow_support import companion_requirements

    names = {pip_name(r) for r in res.requirements}
    extra: list[str] = []
    for req in res.requirements:
        extra += companion_requirements(req)
    if "scikit-learn" in names and "mlflow-skinny" in names and _version_tuple(python_version)[:2] >= (3, 10):
        extra.append("skops")  # MLflow 3 (Python 3.10+) logs sklearn models as skops files
    for req in extra:
        if pip_name(req) not in names:
            names.add(pip_name(req))
            res.requirements.append(req)
            res.notes.append(f"{req!r}: added for MLflow in this environment")


def _check_spec(env: EnvSpec) -> _Resolved:
    """Resolve a system-managed spec and refuse what this machine can never build or run (no interpreter needed)."""
    if env.needs_docker:
        what = "a Dockerfile" if env.dockerfile else (
            "a Docker build context" if env.build_context is not None else f"the image {env.docker_image!r}")
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
    _check_mlflow(env, res)
    if re.match(r"^\d+\.\d+", res.python_request) and not _supported(res.python_request):
        raise _floor_error(res.python_request)
    return res


def _plan(env: Any) -> tuple[_Resolved, str, str, list[str], str]:
    """Everything decided before building: resolution, interpreter, SDK requirements and cache key.

    `env` is an EnvSpec, an environment definition, or an Environment.
    """
    res = _check_spec(env_spec(env))
    python, version = find_interpreter(res.python_request)
    _add_companions(res, version)
    sdk_reqs = sdk_requirements(version)
    user_names = {pip_name(r) for r in res.requirements}
    sdk_reqs = [r for r in sdk_reqs if pip_name(r) not in user_names]  # the user's pin wins
    return res, python, version, sdk_reqs, _cache_key(version, res, sdk_reqs)


def preflight(env: Any, *, on_this_machine: bool = True) -> None:
    """Refuse at submit() what would fail later: Docker-only specs, an MLflow the bridge cannot serve, a Python
    older than jobs support or (when the job runs on this machine) not to be had here, a missing interpreter_path.

    Cheap when the spec asks for no particular Python; interpreter look-ups are cached per process.
    `env` is an EnvSpec, an environment definition, or an Environment.
    """
    env = env_spec(env)
    if env.user_managed:
        if on_this_machine:
            _user_managed(env, lambda _m: None)
        return
    res = _check_spec(env)
    if on_this_machine:
        find_interpreter(res.python_request)


def describe(env: Any, cache_dir: Path | None = None) -> dict[str, Any]:
    """Where ``env`` (an EnvSpec, a definition or an Environment) is, or would be, built, without building it."""
    env = env_spec(env)
    if env.user_managed:
        mat = _user_managed(env, lambda _m: None)
        return {"imageExistsInRegistry": True, "dockerImage": None, "specHash": mat.spec_hash,
                "pythonEnvironment": {"interpreterPath": str(mat.python), "userManaged": True}}
    res, python, version, _sdk, key = _plan(env)
    env_dir = Path(cache_dir or azuremlcore_home() / "envs") / key[:24]
    return {"imageExistsInRegistry": (env_dir / MARKER).is_file(), "dockerImage": None, "specHash": key,
            "pythonEnvironment": {"interpreterPath": str(_venv_python(env_dir)), "envDir": str(env_dir),
                                  "pythonVersion": version, "baseInterpreter": python,
                                  "requirements": res.requirements, "userManaged": False}}


def materialise(env: Any, *, cache_dir: Path | None = None, log: Log | None = None) -> MaterialisedEnv:
    """Return a ready interpreter for ``env``: reuse the cached build of its spec, or build it once (see module doc).

    `env` is an EnvSpec, an environment definition (what a run records), or an Environment.
    """
    emit: Log = log or _logger.info
    env = env_spec(env)
    if env.user_managed:
        return _user_managed(env, emit)
    res, python, version, sdk_reqs, key = _plan(env)
    root = Path(cache_dir) if cache_dir is not None else azuremlcore_home() / "envs"
    env_dir = root / key[:24]
    if (env_dir / MARKER).is_file():  # fast path: no lock, no subprocess
        link_sdk(env_dir)
        emit(f"Reusing environment {key[:12]} for {env.name!r} at {env_dir}")
        return MaterialisedEnv(_venv_python(env_dir), env_dir, _read(env_dir / FREEZE_FILE), key, True)
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / ".locks" / f"{key[:24]}.lock"):
        if (env_dir / MARKER).is_file():  # built by whoever held the lock before us
            link_sdk(env_dir)
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


def _build(env: EnvSpec, res: _Resolved, python: str, version: str, sdk_reqs: list[str], key: str,
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
            _run(cmd, lines, "creating the conda environment", emit=emit)
        elif uv is not None:
            _run([uv, "venv", "--relocatable", "--no-config", "--python", python, str(build_dir)], lines,
                 f"creating a virtualenv for Python {version}", env=uv_env, cwd=cwd, emit=emit)
        else:
            _run([python, "-m", "venv", str(build_dir)], lines, f"creating a virtualenv for Python {version}",
                 emit=emit)
        target_python = _venv_python(build_dir)
        req_file = build_dir / "azuremlcore-requirements.txt"
        req_file.write_text("\n".join([*res.pip_options, *res.requirements, *sdk_reqs]) + "\n")
        if uv is not None:
            # Bytecode compiled once here: every job then imports MLflow & co. fast (also with PYTHONDONTWRITEBYTECODE).
            _run([uv, "pip", "install", "--no-config", "--compile-bytecode", "--python", str(target_python), "-r",
                  str(req_file)], lines,
                 "installing packages", env=uv_env, cwd=cwd, emit=emit)
            frozen = _run([uv, "pip", "freeze", "--no-config", "--python", str(target_python)], lines,
                          "listing installed packages", env=uv_env, cwd=cwd, emit=emit,
                          echo_stdout=False)
        else:
            _run([str(target_python), "-m", "pip", "install", "-q", "-r", str(req_file)], lines, "installing packages",
                 emit=emit)
            frozen = _run([str(target_python), "-m", "pip", "freeze"], lines, "listing installed packages",
                          echo_stdout=False)
        link_sdk(build_dir)
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
