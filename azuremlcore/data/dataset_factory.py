"""Dataset factories: `Dataset.Tabular` (TabularDatasetFactory) and `Dataset.File` (FileDatasetFactory)."""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from azuremlcore.data.dataset_type_definitions import FileEncoding, PromoteHeadersBehavior, codec, header_flag
from azuremlcore.exceptions import UserErrorException

if TYPE_CHECKING:
    from azuremlcore.data.file_dataset import FileDataset
    from azuremlcore.data.tabular_dataset import TabularDataset


def _tabular(path: Any, fmt: dict[str, Any], validate: bool) -> "TabularDataset":
    from azuremlcore._data.catalog import tabular_definition
    from azuremlcore._data.sources import resolve
    from azuremlcore.data._sources import sources_from_path
    from azuremlcore.data.tabular_dataset import TabularDataset

    sources, ws = sources_from_path(path)
    if validate:  # fail now, with the path in the message, rather than at first read
        resolve(ws._handle if ws is not None else None, sources)
    return TabularDataset._create(tabular_definition(sources, fmt), ws)


def _ignored(partition_format: Any, **others: Any) -> None:
    if partition_format:
        warnings.warn("partition_format is not supported and was ignored.", stacklevel=3)
    for name, value in others.items():
        if value:
            warnings.warn(f"{name} is not supported and was ignored.", stacklevel=3)


class TabularDatasetFactory:
    """Creates TabularDatasets: `Dataset.Tabular.from_delimited_files(path=(datastore, 'folder/*.csv'))`."""

    @staticmethod
    def from_delimited_files(path: Any, validate: bool = True, include_path: bool = False,
                             infer_column_types: bool = True, set_column_types: dict | None = None,
                             separator: str = ",", header: Any = True, partition_format: str | None = None,
                             support_multi_line: bool = False, empty_as_string: bool = False,
                             encoding: Any = "utf8", skip_rows: int = 0, comment: str | None = None,
                             quoting: bool = False) -> "TabularDataset":
        """A table from CSV/TSV files: `path` is (datastore, pattern), a list of those, a local glob or URL."""
        _ignored(partition_format)
        from azuremlcore._data.catalog import delimited_format

        fmt = delimited_format(separator=separator, header=header_flag(header), encoding=codec(encoding),
                               infer_column_types=infer_column_types, include_path=include_path, skip_rows=skip_rows,
                               comment=comment)
        return _tabular(path, fmt, validate)

    @staticmethod
    def from_parquet_files(path: Any, validate: bool = True, include_path: bool = False,
                           set_column_types: dict | None = None, partition_format: str | None = None) -> "TabularDataset":
        """A table from Parquet files (reading needs pyarrow)."""
        from azuremlcore._data.catalog import parquet_format

        _ignored(partition_format)
        return _tabular(path, parquet_format(include_path), validate)

    @staticmethod
    def from_json_lines_files(path: Any, validate: bool = True, include_path: bool = False,
                              set_column_types: dict | None = None, partition_format: str | None = None,
                              invalid_lines: str = "error", encoding: Any = "utf8") -> "TabularDataset":
        """A table from JSON-lines files (one object per line)."""
        _ignored(partition_format)
        return _tabular(path, {"kind": "json_lines", "include_path": include_path,
                               "encoding": codec(encoding).replace("utf8", "utf-8")}, validate)

    @staticmethod
    def from_sql_query(query: Any, validate: bool = True, set_column_types: dict | None = None,
                       query_timeout: int = 30) -> "TabularDataset":
        """Not available: SQL datastores are not supported; read with pandas.read_sql instead."""
        raise UserErrorException("from_sql_query is not supported: SQL datastores are not available. Read the query "
                                 "with pandas.read_sql and use register_pandas_dataframe.")

    @staticmethod
    def register_pandas_dataframe(dataframe: Any, target: Any, name: str, description: str | None = None,
                                  tags: dict[str, str] | None = None, show_progress: bool = True) -> "TabularDataset":
        """Write a DataFrame as Parquet to `target` ((datastore, folder) or a datastore) and register it."""
        import tempfile
        import uuid
        from pathlib import Path

        from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore

        ds, folder = (target, "") if isinstance(target, AbstractAzureStorageDatastore) else target
        folder = f"{str(folder).strip('/')}/{name}/{uuid.uuid4().hex[:8]}".lstrip("/")
        with tempfile.TemporaryDirectory() as tmp:
            try:
                dataframe.to_parquet(Path(tmp) / "part-00000.parquet", index=False)
            except ImportError as exc:
                raise UserErrorException("register_pandas_dataframe needs pyarrow: pip install pyarrow.") from exc
            ds.upload(tmp, target_path=folder, overwrite=True, show_progress=show_progress)
        dataset = TabularDatasetFactory.from_parquet_files(path=(ds, f"{folder}/*.parquet"))
        return dataset.register(ds.workspace, name, description=description, tags=tags, create_new_version=True)


class FileDatasetFactory:
    """Creates FileDatasets: `Dataset.File.from_files(path=(datastore, 'images/**'))`."""

    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None,
                   is_file: bool = False) -> "FileDataset":
        """Files from (datastore, pattern) tuples, DataReferences, local paths/globs or URLs."""
        from azuremlcore._data.catalog import file_definition
        from azuremlcore._data.sources import resolve
        from azuremlcore.data._sources import sources_from_path
        from azuremlcore.data.file_dataset import FileDataset

        _ignored(partition_format)
        sources, ws = sources_from_path(path)
        if validate:
            resolve(ws._handle if ws is not None else None, sources)
        return FileDataset._create(file_definition(sources), ws)

    @staticmethod
    def upload_directory(src_dir: str, target: Any, pattern: str | None = None, overwrite: bool = False,
                         show_progress: bool = True) -> "FileDataset":
        """Upload a local folder to target ((datastore, folder)) and return a FileDataset of it."""
        from azuremlcore.data.azure_storage_datastore import AbstractAzureStorageDatastore

        ds, folder = (target, "") if isinstance(target, AbstractAzureStorageDatastore) else target
        if pattern:
            from pathlib import Path

            files = [str(p) for p in Path(src_dir).rglob(pattern) if p.is_file()]
            ds.upload_files(files, relative_root=src_dir, target_path=folder, overwrite=overwrite,
                            show_progress=show_progress)
        else:
            ds.upload(src_dir, target_path=folder, overwrite=overwrite, show_progress=show_progress)
        return FileDatasetFactory.from_files((ds, f"{str(folder).strip('/')}/**" if folder else "**"))


__all__ = ["TabularDatasetFactory", "FileDatasetFactory", "PromoteHeadersBehavior", "FileEncoding"]
