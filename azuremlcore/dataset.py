"""Dataset: entry point for creating and finding datasets (``azureml.core.Dataset``).

`Dataset.Tabular.from_delimited_files(...)`, `Dataset.File.from_files(...)`, then `.register(ws, name)`;
`Dataset.get_by_name(ws, name)` returns the TabularDataset or FileDataset registered under name.
The older static factories (`Dataset.from_delimited_files`, `auto_read_files`, ...) return the same
TabularDataset/FileDataset objects, which carry the older instance API too (state, snapshots, profiles).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from azuremlcore.data.abstract_dataset import AbstractDataset, _from_record, _latest_records
from azuremlcore.data.dataset_factory import FileDatasetFactory, TabularDatasetFactory
from azuremlcore.data.dataset_type_definitions import FileEncoding, PromoteHeadersBehavior
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.file_dataset import FileDataset
    from azuremlcore.data.tabular_dataset import TabularDataset
    from azuremlcore.workspace import Workspace

_TABULAR_BY_SUFFIX = {".csv": ("delimited", ","), ".tsv": ("delimited", "\t"), ".parquet": ("parquet", None),
                      ".json": ("json", None), ".jsonl": ("json", None), ".xlsx": ("excel", None),
                      ".xls": ("excel", None)}


class Dataset(AbstractDataset):
    """Factories (`Dataset.Tabular`, `Dataset.File`), lookup of registered datasets, and the older Dataset API.

    Instances are always TabularDataset or FileDataset: the instance members listed here (state, archive,
    snapshots, profiles, ...) are the ones those classes share.
    """

    Tabular = TabularDatasetFactory
    File = FileDatasetFactory

    class Scenario:
        """Why a model used a dataset: `Model.register(..., datasets=[(Dataset.Scenario.TRAINING, ds)])`."""

        TRAINING = "training"
        VALIDATION = "validation"
        INFERENCING = "inferencing"

    def __init__(self, definition: Any = None, workspace: "Workspace | None" = None, name: str | None = None,
                 id: str | None = None) -> None:
        """Not for direct use: create datasets with the factories, load registered ones with get_by_name."""
        raise UserErrorException("Create datasets with Dataset.Tabular.from_delimited_files(...) or "
                                 "Dataset.File.from_files(...); load registered ones with Dataset.get_by_name(ws, name).")

    # ------------------------------------------------------------------ lookup
    @staticmethod
    def get_by_name(workspace: "Workspace", name: str, version: int | str = "latest", **kwargs: Any) -> Any:
        """The registered dataset of that name and version ('latest' by default)."""
        return AbstractDataset.get_by_name(workspace, name, version)

    @staticmethod
    def get_by_id(workspace: "Workspace", id: str, **kwargs: Any) -> Any:
        """The dataset with that id."""
        return AbstractDataset.get_by_id(workspace, id)

    @staticmethod
    def get_all(workspace: "Workspace") -> dict[str, Any]:
        """Registered datasets by name (latest version), without those registered with visible=False."""
        return AbstractDataset.get_all(workspace)

    @staticmethod
    def get(workspace: "Workspace", name: str | None = None, id: str | None = None) -> Any:
        """(Deprecated) A dataset by name or id."""
        if name:
            return AbstractDataset.get_by_name(workspace, name)
        if id:
            return AbstractDataset.get_by_id(workspace, id)
        raise UserErrorException("Dataset.get needs name= or id=.")

    @staticmethod
    def list(workspace: "Workspace") -> list[Any]:
        """(Deprecated) Registered datasets (latest version of each), including hidden ones."""
        return [_from_record(workspace, r) for r in _latest_records(workspace).values()]

    # ------------------------------------------------------------------ older factories
    @staticmethod
    def from_delimited_files(path: Any, separator: str = ",",
                             header: Any = PromoteHeadersBehavior.ALL_FILES_HAVE_SAME_HEADERS,
                             encoding: Any = FileEncoding.UTF8, quoting: bool = False, infer_column_types: bool = True,
                             skip_rows: int = 0, skip_mode: Any = None, comment: str | None = None,
                             include_path: bool = False, archive_options: Any = None,
                             partition_format: str | None = None) -> "TabularDataset":
        """(Deprecated) Same as Dataset.Tabular.from_delimited_files; archive_options is not supported."""
        if archive_options is not None:
            raise UserErrorException("archive_options is not supported: extract the archive and point path at the "
                                     "files.")
        return TabularDatasetFactory.from_delimited_files(
            path, include_path=include_path, infer_column_types=infer_column_types, separator=separator,
            header=header, partition_format=partition_format, encoding=encoding, skip_rows=skip_rows,
            comment=comment, quoting=quoting)

    @staticmethod
    def from_parquet_files(path: Any, include_path: bool = False,
                           partition_format: str | None = None) -> "TabularDataset":
        """(Deprecated) Same as Dataset.Tabular.from_parquet_files."""
        return TabularDatasetFactory.from_parquet_files(path, include_path=include_path,
                                                        partition_format=partition_format)

    @staticmethod
    def from_json_files(path: Any, encoding: Any = FileEncoding.UTF8, flatten_nested_arrays: bool = False,
                        include_path: bool = False, partition_format: str | None = None) -> "TabularDataset":
        """(Deprecated) A table from JSON files: an array of objects per file, or one object a line.

        flatten_nested_arrays=True expands nested objects into dotted columns (pandas.json_normalize).
        """
        from azuremlcore.data.dataset_factory import _tabular
        from azuremlcore.data.dataset_type_definitions import codec

        if partition_format:
            raise UserErrorException("partition_format is not supported for JSON files.")
        fmt = {"kind": "json", "include_path": include_path, "flatten": bool(flatten_nested_arrays),
               "encoding": codec(encoding).replace("utf8", "utf-8")}
        return _tabular(path, fmt, True)

    @staticmethod
    def from_excel_files(path: Any, sheet_name: str | None = None, use_column_headers: bool = False,
                         skip_rows: int = 0, include_path: bool = False, infer_column_types: bool = True,
                         partition_format: str | None = None) -> "TabularDataset":
        """(Deprecated) A table from .xlsx files (the first sheet unless sheet_name); needs openpyxl."""
        from azuremlcore._data.readers import require_excel
        from azuremlcore.data.dataset_factory import _tabular

        require_excel()
        if partition_format:
            raise UserErrorException("partition_format is not supported for Excel files.")
        fmt = {"kind": "excel", "sheet_name": sheet_name, "header": bool(use_column_headers),
               "skip_rows": int(skip_rows or 0), "include_path": include_path,
               "infer_column_types": infer_column_types}
        return _tabular(path, fmt, True)

    @staticmethod
    def from_binary_files(path: Any) -> "FileDataset":
        """(Deprecated) The files as a FileDataset (same as Dataset.File.from_files)."""
        return FileDatasetFactory.from_files(path)

    @staticmethod
    def from_sql_query(data_source: Any, query: str) -> "TabularDataset":
        """Not available: SQL datastores are not supported."""
        raise UserErrorException("from_sql_query is not supported: SQL datastores are not available here. Read the "
                                 "query with pandas.read_sql and use Dataset.from_pandas_dataframe(df, path=...).")

    @staticmethod
    def from_pandas_dataframe(dataframe: Any, path: Any = None, in_memory: bool = False) -> "TabularDataset":
        """(Deprecated) A TabularDataset of the DataFrame, written as Parquet (needs pyarrow).

        path: (datastore, folder), a DataReference or a datastore (written there), a local folder, or None
        (a new folder under $AZUREMLCORE_HOME/dataframes). in_memory is accepted; the data is always written.
        """
        import tempfile
        import uuid
        from pathlib import Path

        from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore
        from azuremlcore.data.data_reference import DataReference

        if not hasattr(dataframe, "to_parquet"):
            raise UserErrorException("from_pandas_dataframe needs a pandas DataFrame.")
        if isinstance(path, DataReference):
            path = (path.datastore, path.path_on_datastore or "")
        if isinstance(path, AbstractAzureStorageDatastore):
            path = (path, "")
        part = f"dataframe-{uuid.uuid4().hex[:8]}"
        if isinstance(path, tuple):
            store, folder = path
            folder = f"{str(folder or '').strip('/')}/{part}".lstrip("/")
            with tempfile.TemporaryDirectory() as tmp:
                _write_parquet(dataframe, Path(tmp) / "part-00000.parquet")
                store.upload(tmp, target_path=folder, overwrite=True, show_progress=False)
            return TabularDatasetFactory.from_parquet_files(path=(store, f"{folder}/*.parquet"))
        if path is None:
            from azuremlcore._store import azuremlcore_home

            target = Path(azuremlcore_home()) / "dataframes" / part
        elif isinstance(path, (str, os.PathLike)):
            target = Path(path).expanduser().resolve() / part
        else:
            raise UserErrorException("path must be (datastore, folder), a DataReference, a datastore, a local folder, "
                                     "or None.")
        target.mkdir(parents=True, exist_ok=True)
        _write_parquet(dataframe, target / "part-00000.parquet")
        return TabularDatasetFactory.from_parquet_files(path=str(target / "*.parquet"))

    @staticmethod
    def auto_read_files(path: Any, include_path: bool = False, partition_format: str | None = None) -> Any:
        """(Deprecated) A TabularDataset when the files are CSV/TSV, Parquet, JSON or Excel, else a FileDataset.

        The first file decides: by its extension, else by its content (Parquet magic bytes, JSON, or text
        with a consistent delimiter).
        """
        import tempfile
        from pathlib import Path

        from azuremlcore._data.sources import readable_paths, resolve
        from azuremlcore.data._sources import sources_from_path

        sources, workspace = sources_from_path(path)
        ws = workspace._handle if workspace is not None else None
        files = resolve(ws, sources)
        first = files[0]
        kind_sep = _TABULAR_BY_SUFFIX.get(Path(first.rel).suffix.lower())
        if kind_sep is None:
            with tempfile.TemporaryDirectory(prefix="azureml-sniff-") as scratch:
                local = readable_paths(ws, [first], Path(scratch))[0]
                kind_sep = _sniff(local)
        if kind_sep is None:
            return FileDatasetFactory.from_files(path, partition_format=partition_format)
        kind, sep = kind_sep
        if kind == "delimited":
            return TabularDatasetFactory.from_delimited_files(path, separator=sep or ",", include_path=include_path,
                                                              partition_format=partition_format)
        if kind == "parquet":
            return TabularDatasetFactory.from_parquet_files(path, include_path=include_path,
                                                            partition_format=partition_format)
        if kind == "excel":
            return Dataset.from_excel_files(path, use_column_headers=True, include_path=include_path)
        return Dataset.from_json_files(path, include_path=include_path)


def _write_parquet(dataframe: Any, dest: Any) -> None:
    try:
        dataframe.to_parquet(dest, index=False)
    except ImportError as exc:
        raise UserErrorException("from_pandas_dataframe writes Parquet, which needs pyarrow: pip install pyarrow.") \
            from exc


def _sniff(path: Any) -> tuple[str, str | None] | None:
    """('parquet'|'json'|'delimited', separator) from a file's first bytes, or None for other files."""
    import csv

    with open(path, "rb") as fh:
        head = fh.read(8192)
    if head.startswith(b"PAR1"):
        return "parquet", None
    if head.startswith(b"PK\x03\x04"):
        return None  # zip-based (xlsx/docx/zip): without an .xlsx name, treat as plain files
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.lstrip().startswith(("[", "{")):
        return "json", None
    lines = [ln for ln in text.splitlines()[:20] if ln.strip()]
    if len(lines) < 2:
        return None
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|")
    except csv.Error:
        return None
    counts = {ln.count(dialect.delimiter) for ln in lines[:-1]}  # the last line may be cut off
    return ("delimited", dialect.delimiter) if len(counts) == 1 and counts != {0} else None
