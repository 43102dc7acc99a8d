"""Conda package specs -> PyPI requirements, for building conda environment files without conda.

Only names known to be the same project on PyPI are converted; anything else is "conda-only" and
needs conda on PATH. Version pins follow conda's meaning: ``numpy=1.21`` matches 1.21.x, so it becomes
``numpy==1.21.*``; ``numpy==1.21.2`` stays exact; build strings (``=py38h_0``) and channels
(``conda-forge::``) are dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# conda name -> PyPI name, where they differ
RENAMED: dict[str, str] = {
    "pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch", "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost", "py-xgboost-gpu": "xgboost", "xgboost-cpu": "xgboost", "tensorflow-gpu": "tensorflow",
    "tensorflow-cpu": "tensorflow", "matplotlib-base": "matplotlib", "opencv": "opencv-python",
    "py-opencv": "opencv-python", "pytables": "tables", "msgpack-python": "msgpack", "python-graphviz": "graphviz",
    "py-lightgbm": "lightgbm", "pyqt": "PyQt5", "pytorch-lightning": "pytorch-lightning", "lightning": "lightning",
    "keras-gpu": "keras", "tensorboardx": "tensorboardX", "pywin32": "pywin32", "ruamel_yaml": "ruamel.yaml",
    "typing_extensions": "typing-extensions", "importlib_metadata": "importlib-metadata", "cudf": "cudf-cu12",
    "pymc3": "pymc3", "py-spy": "py-spy", "pyside2": "PySide2", "python-kaleido": "kaleido",
    "scikit-learn-intelex": "scikit-learn-intelex", "sentencepiece": "sentencepiece", "pyarrow-core": "pyarrow",
    "libpython": "", "python-tzdata": "tzdata", "python-dotenv": "python-dotenv", "python-dateutil": "python-dateutil",
    "python-json-logger": "python-json-logger", "python-multipart": "python-multipart", "python-snappy": "python-snappy",
    "python-xxhash": "xxhash", "pyjwt": "PyJWT", "beautifulsoup4": "beautifulsoup4", "pillow-simd": "Pillow-SIMD",
}

# conda names that are the same project on PyPI
SAME_ON_PYPI: frozenset[str] = frozenset("""
numpy pandas scipy scikit-learn scikit-image matplotlib seaborn plotly bokeh altair statsmodels sympy networkx
pillow imageio opencv-python opencv-python-headless tensorflow tensorboard keras torch torchvision torchaudio torchtext
torchmetrics transformers tokenizers datasets accelerate sentence-transformers huggingface_hub huggingface-hub
safetensors lightgbm xgboost catboost optuna hyperopt shap lime mlflow mlflow-skinny onnx onnxruntime skl2onnx
joblib numba llvmlite cython dask distributed pyarrow fastparquet h5py tables netcdf4 xarray zarr numexpr bottleneck
nltk gensim spacy textblob wordcloud tqdm requests urllib3 idna certifi chardet charset-normalizer six attrs
click jinja2 markupsafe pyyaml toml tomli packaging setuptools wheel cloudpickle psutil filelock fsspec s3fs gcsfs
adlfs azure-storage-blob azure-identity boto3 botocore sqlalchemy alembic psycopg2 psycopg2-binary pymysql pyodbc
pymongo redis flask fastapi uvicorn gunicorn waitress werkzeug starlette pydantic typing-extensions
ipython ipykernel ipywidgets jupyter jupyterlab notebook nbformat nbconvert papermill pytest pytest-cov black flake8
pylint mypy isort pre-commit tabulate xlrd openpyxl xlsxwriter lxml beautifulsoup4 html5lib pytz tzdata
python-dateutil regex protobuf grpcio absl-py termcolor wrapt gast astunparse opt_einsum opt-einsum flatbuffers
google-pasta h5py keras-preprocessing scikit-optimize imbalanced-learn category_encoders category-encoders
pmdarima prophet sktime tsfresh pyod umap-learn hdbscan mpi4py horovod ray pyspark findspark
gym gymnasium pygame shapely geopandas fiona pyproj rasterio folium descartes
cryptography pyopenssl paramiko sshtunnel docker kubernetes azureml-sdk
more-itertools toolz cytoolz sortedcontainers cachetools msgpack ujson orjson simplejson rich colorama
graphviz pydot pydotplus tensorflow-datasets tensorflow-hub tensorflow-probability jax jaxlib flax optax
einops timm albumentations kornia pycocotools fairlearn interpret econml dowhy statsforecast
seqeval evaluate rouge-score sacrebleu peft bitsandbytes deepspeed pytorch-lightning lightning
""".split())

# Compiled libraries and toolchains that PyPI wheels already bundle: dropped, with a note.
BUNDLED_IN_WHEELS: frozenset[str] = frozenset("""
mkl mkl-service mkl_fft mkl_random mkl-include nomkl blas libblas libcblas liblapack openblas libopenblas intel-openmp
cudatoolkit cuda-toolkit cudnn nccl pytorch-cuda cuda-version cpuonly pytorch-mutex _libgcc_mutex _openmp_mutex
libgcc libgcc-ng libstdcxx-ng libgomp ca-certificates openssl libffi zlib xz bzip2 ncurses readline sqlite tk
libuuid libzlib tzdata-bin ld_impl_linux-64 vc vs2015_runtime ucrt libsqlite libnsl libxcrypt
""".split())


@dataclass(frozen=True)
class Converted:
    """The outcome for one conda spec: ``kind`` is 'pip', 'python', 'drop' or 'conda-only'."""

    kind: str
    requirement: str = ""
    python_spec: str = ""
    note: str = ""


def _split(spec: str) -> tuple[str, str, str]:
    """'conda-forge::numpy=1.21.2=py38_0' -> ('numpy', '=1.21.2', 'py38_0'); also 'numpy 1.21.* py38_0'."""
    spec = spec.strip()
    if "::" in spec:
        spec = spec.split("::", 1)[1]
    spec = re.sub(r"\[.*\]$", "", spec).strip()  # conda bracket selectors like [build_number=3]
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not m:
        return spec.lower(), "", ""
    name, rest = m.group(1).lower(), m.group(2).strip()
    build = ""
    if rest and rest[0] not in "=<>!~":
        # space-separated form: "1.21.* py38_0"
        parts = rest.split()
        rest = parts[0] if parts else ""
        build = parts[1] if len(parts) > 1 else ""
        if rest and rest[0] not in "=<>!~":
            rest = "=" + rest if not rest.endswith("*") else "==" + rest
    elif rest.startswith("=") and not rest.startswith("=="):
        # single "=": "=1.21" or "=1.21.2=build"
        pieces = rest[1:].split("=")
        rest, build = "=" + pieces[0], "=".join(pieces[1:])
    elif rest.startswith("=="):
        pieces = rest[2:].split("=")
        rest, build = "==" + pieces[0], "=".join(pieces[1:])
    return name, rest, build


def _pep440(version_part: str, has_build: bool) -> str:
    """Conda version constraint -> PEP 440 specifier ('' when unconstrained)."""
    if not version_part:
        return ""
    clauses = []
    for clause in version_part.split(","):
        clause = clause.strip()
        if not clause:
            continue
        if "|" in clause:
            raise ValueError(f"'|' (or) in conda version '{version_part}' has no pip equivalent")
        if clause.startswith("==") or clause[:2] in (">=", "<=", "!=", "~="):
            op, ver = clause[:2], clause[2:].strip()
        elif clause[0] in "<>":
            op, ver = clause[0], clause[1:].strip()
        elif clause.startswith("="):
            op, ver = "=", clause[1:].strip()
        else:
            op, ver = "=", clause
        if op == "=":
            # conda "=1.21" is a prefix match (1.21, 1.21.x); with a build string it names one exact build
            ver = ver.rstrip("*").rstrip(".")
            clauses.append(f"=={ver}" if has_build else f"=={ver}.*")
        elif op == "==" and ver.endswith("*"):
            base = ver.rstrip("*").rstrip(".")
            clauses.append(f"=={base}.*")
        else:
            clauses.append(f"{op}{ver}")
    return ",".join(clauses)


def convert(spec: str) -> Converted:
    """Convert one conda dependency string (see the module doc)."""
    name, version_part, build = _split(spec)
    if name == "python":
        return Converted("python", python_spec=version_part.lstrip("=") if version_part.startswith("=") and not
                         version_part.startswith("==") else version_part)
    if name in ("pip",):
        return Converted("drop", note=f"{spec!r}: pip is not needed, uv installs the packages")
    if name in BUNDLED_IN_WHEELS:
        return Converted("drop", note=f"{spec!r}: a compiled library that PyPI wheels bundle; skipped")
    pypi = RENAMED.get(name, name if name in SAME_ON_PYPI else None)
    if pypi is None:
        return Converted("conda-only")
    if pypi == "":
        return Converted("drop", note=f"{spec!r}: not needed in a virtualenv; skipped")
    try:
        specifier = _pep440(version_part, bool(build))
    except ValueError as exc:
        return Converted("conda-only", note=str(exc))
    return Converted("pip", requirement=pypi + specifier)
