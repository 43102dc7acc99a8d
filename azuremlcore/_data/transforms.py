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
        elif kind == "drop_columns":
            df = df.drop(columns=[c for c in op["columns"] if c in df.columns])
        else:
            raise ValueError(f"Unknown transformation {kind!r}")
    return df.reset_index(drop=True)
