"""Reading tabular files into pandas (pandas and pyarrow are optional extras)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from azuremlcore.exceptions import UserErrorException


def pandas() -> Any:
    """The pandas module, or a clear error saying how to install it."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise UserErrorException("Tabular datasets need pandas: pip install 'amlcore-open[data]' "
                                 "(or pip install pandas pyarrow).") from exc
    return pd


def read_file(path: Path, fmt: dict[str, Any]) -> Any:
    """One file as a DataFrame, per the dataset's format settings."""
    pd = pandas()
    kind = fmt["kind"]
    if kind == "delimited":
        kwargs: dict[str, Any] = {"sep": fmt.get("separator", ","), "header": 0 if fmt.get("header", True) else None,
                                  "encoding": fmt.get("encoding", "utf-8"), "skiprows": fmt.get("skip_rows") or None,
                                  "comment": fmt.get("comment")}
        if not fmt.get("infer_column_types", True):
            kwargs["dtype"] = str
        df = pd.read_csv(path, **kwargs)
        if not fmt.get("header", True):
            df.columns = [f"Column{i + 1}" for i in range(len(df.columns))]
        return df
    if kind == "parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise UserErrorException("Parquet datasets need pyarrow: pip install pyarrow.") from exc
    if kind == "json_lines":
        return pd.read_json(path, lines=True, encoding=fmt.get("encoding", "utf-8"))
    raise UserErrorException(f"Unknown tabular format {kind!r}.")


def read_all(paths: list[Path], rels: list[str], fmt: dict[str, Any]) -> Any:
    """Every file read and stacked, with a 'Path' column first when include_path was asked for."""
    pd = pandas()
    frames = []
    for path, rel in zip(paths, rels):
        df = read_file(path, fmt)
        if fmt.get("include_path"):
            df.insert(0, "Path", "/" + rel)
        frames.append(df)
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
