"""TabularDataset: rows from delimited, Parquet or JSON-lines files, read into pandas on demand."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from azuremlcore.data.abstract_dataset import AbstractDataset
from azuremlcore.exceptions import UserErrorException


class TabularDataset(AbstractDataset):
    """A table defined by files and a format; create with `Dataset.Tabular.from_delimited_files(...)`.

    Nothing is read until `to_pandas_dataframe()` (needs pandas; Parquet also pyarrow).
    """

    _dataset_type = "tabular"

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> Any:
        """The whole table as a pandas DataFrame (files read in path order, selections applied)."""
        from azuremlcore._data.readers import read_all
        from azuremlcore._data.sources import readable_paths
        from azuremlcore._data.transforms import apply_frame

        files = self._files()
        with tempfile.TemporaryDirectory(prefix="azureml-tabular-") as scratch:
            paths = readable_paths(self._ws_handle(), files, Path(scratch))
            df = read_all(paths, [f.rel for f in files], self._definition["format"])
        return apply_frame(df, self._definition.get("transforms", []))

    def to_csv_files(self, separator: str = ",") -> Any:
        """Not available: read with to_pandas_dataframe() and write the CSV yourself."""
        raise UserErrorException("to_csv_files is not supported; use to_pandas_dataframe().to_csv(...).")

    def to_parquet_files(self) -> Any:
        """Not available: read with to_pandas_dataframe() and write Parquet yourself."""
        raise UserErrorException("to_parquet_files is not supported; use to_pandas_dataframe().to_parquet(...).")

    def to_spark_dataframe(self) -> Any:
        """The table as a Spark DataFrame of the active (or a new local) SparkSession; needs pyspark."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise UserErrorException("to_spark_dataframe needs pyspark: pip install pyspark (and Java), or use "
                                     "to_pandas_dataframe().") from exc
        return SparkSession.builder.getOrCreate().createDataFrame(self.to_pandas_dataframe())

    def head(self, count: int) -> Any:
        """The first `count` rows as a DataFrame."""
        return self.take(count).to_pandas_dataframe()

    # ------------------------------------------------------------------ selections
    def take(self, count: int) -> "TabularDataset":
        """The first `count` rows."""
        return self._derive({"op": "take", "count": int(count)})

    def skip(self, count: int) -> "TabularDataset":
        """All rows but the first `count`."""
        return self._derive({"op": "skip", "count": int(count)})

    def take_sample(self, probability: float, seed: int | None = None) -> "TabularDataset":
        """Each row kept with the given probability (repeatable with a seed)."""
        return self._derive({"op": "sample", "probability": float(probability), "seed": seed})

    def random_split(self, percentage: float, seed: int | None = None) -> tuple["TabularDataset", "TabularDataset"]:
        """Two datasets: about `percentage` of the rows, and the rest (repeatable with a seed)."""
        if not 0 < percentage < 1:
            raise UserErrorException("random_split percentage must be between 0 and 1.")
        op = {"op": "split", "percentage": float(percentage), "seed": seed if seed is not None else 0}
        return self._derive({**op, "part": 0}), self._derive({**op, "part": 1})

    def keep_columns(self, columns: str | list[str], validate: bool = False) -> "TabularDataset":
        """Only the named columns (missing ones raise when read, if validate)."""
        cols = [columns] if isinstance(columns, str) else list(columns)
        return self._derive({"op": "keep_columns", "columns": cols, "validate": validate})

    def drop_columns(self, columns: str | list[str]) -> "TabularDataset":
        """All columns but the named ones."""
        cols = [columns] if isinstance(columns, str) else list(columns)
        return self._derive({"op": "drop_columns", "columns": cols})
