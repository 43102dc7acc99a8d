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
    if kind == "json":
        return _read_json(pd, path, fmt)
    if kind == "excel":
        return _read_excel(pd, path, fmt)
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


def _read_json(pd: Any, path: Path, fmt: dict[str, Any]) -> Any:
    """A JSON file holding an array of objects (or one object), or JSON lines."""
    import json

    text = Path(path).read_text(encoding=fmt.get("encoding", "utf-8"))
    stripped = text.lstrip()
    if stripped.startswith("["):
        records = json.loads(text)
    elif stripped.startswith("{"):
        try:
            records = [json.loads(text)]
        except json.JSONDecodeError:  # several objects, one a line
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        raise UserErrorException(f"{path} is not JSON (expected an array of objects or one object a line).")
    return pd.json_normalize(records) if fmt.get("flatten") else pd.DataFrame.from_records(records)


def require_excel() -> None:
    """A clear error when the Excel reader (openpyxl) is missing."""
    try:
        import openpyxl  # noqa: F401
    except ImportError as exc:
        raise UserErrorException("Excel datasets need openpyxl: pip install openpyxl.") from exc


def _read_excel(pd: Any, path: Path, fmt: dict[str, Any]) -> Any:
    require_excel()
    header = 0 if fmt.get("header") else None
    df = pd.read_excel(path, sheet_name=fmt.get("sheet_name") or 0, header=header,
                       skiprows=fmt.get("skip_rows") or None,
                       dtype=None if fmt.get("infer_column_types", True) else str)
    if header is None:
        df.columns = [f"Column{i + 1}" for i in range(len(df.columns))]
    return df
