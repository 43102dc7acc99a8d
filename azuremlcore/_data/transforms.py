"""Row and file selections of a dataset definition (take, skip, sample, split), applied in order."""
from __future__ import annotations

import random
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


def _mask(n: int, probability: float, seed: int | None) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < probability for _ in range(n)]


def select_items(items: Sequence[T], op: dict[str, Any]) -> list[T]:
    """Apply one selection op to a list (files of a FileDataset)."""
    kind = op["op"]
    if kind == "take":
        return list(items[: op["count"]])
    if kind == "skip":
        return list(items[op["count"]:])
    if kind in ("sample", "split"):
        p = op["probability"] if kind == "sample" else op["percentage"]
        mask = _mask(len(items), p, op.get("seed"))
        want = op.get("part", 0) == 0
        return [x for x, m in zip(items, mask) if m == want]
    raise ValueError(f"Unknown selection {kind!r}")


def apply_frame(df: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply every op of a tabular definition to a pandas DataFrame."""
    for op in ops:
        kind = op["op"]
        if kind in ("take", "skip", "sample", "split"):
            keep = select_items(list(range(len(df))), op)
            df = df.iloc[keep]
        elif kind == "keep_columns":
            missing = [c for c in op["columns"] if c not in df.columns]
            if missing and op.get("validate"):
                raise KeyError(missing)
            df = df[[c for c in op["columns"] if c in df.columns]]
        elif kind == "stratified":
            df = _stratified(df, op)
        elif kind == "drop_columns":
            df = df.drop(columns=[c for c in op["columns"] if c in df.columns])
        else:
            raise ValueError(f"Unknown transformation {kind!r}")
    return df.reset_index(drop=True)


def _stratified(df: Any, op: dict[str, Any]) -> Any:
    """Rows of each stratum (a value combination of op['columns']) kept with that stratum's fraction."""
    missing = [c for c in op["columns"] if c not in df.columns]
    if missing:
        raise KeyError(f"stratified sample: no column(s) {missing}")
    rng = random.Random(op.get("seed"))
    fractions = {_key(k): float(v) for k, v in op["fractions"].items()}
    keep = []
    for i, row in enumerate(df[op["columns"]].itertuples(index=False, name=None)):
        key = _key(row[0] if len(row) == 1 else row)
        if rng.random() < fractions.get(key, 0.0):
            keep.append(i)
    return df.iloc[keep]


def _key(value: Any) -> str:
    """Strata keys compared as text, so fractions given with JSON keys ('1') match numeric values (1)."""
    if isinstance(value, (tuple, list)):
        return "|".join(_key(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)
