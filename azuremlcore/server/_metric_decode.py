"""The plain metric bodies (`runs/log-batch`, `runs/log-metric`) decoded by type in C, with msgspec.

Profiled in the server (a `log-batch` of 1,000 points, stock MLflow client's body), the answer's
critical path was 2.8 ms of CPU, about 90 % of it JSON into dicts (pydantic_core) and the
dict walk of `routes_mlflow.log_batch_points` building 1,000 `MetricPoint`s. msgspec decodes the
same body into structs of the expected types in one C pass (0.3-0.4 ms), and the `MetricPoint`s
are built when the points are stored: after the answer, with the write-behind (`server._ingest`).

Exactness: a decoder here accepts only bodies the dict walk would take as plain, giving the same
values (JSON numbers to float as Python's `float` does, the same int64 bounds, no unknown fields,
the last of duplicate keys, no `NaN` literals or strings, no bools); for anything else it returns
None and the walk decides as before (so every error answer is unchanged). Names still go
through `plain_name`, run ids through the caller's checks. Without msgspec installed the decoders
always return None.
"""
# No `from __future__ import annotations`: msgspec reads the structs' annotations, defined in `_load`'s scope.
from typing import Annotated, Any, Iterator

from azuremlcore._store.records import MetricPoint
from azuremlcore.server._mlflow_common import GOOD_NAMES, plain_name

_MAX_BATCH = 1000  # MLflow's limit of metrics in one log-batch call


class PlainPoints:
    """One request's validated points of one run, built as `MetricPoint`s only when iterated (at store time)."""

    __slots__ = ("run_id", "items")

    def __init__(self, run_id: str, items: list[Any]) -> None:
        self.run_id, self.items = run_id, items

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[MetricPoint]:
        run_id, point = self.run_id, MetricPoint
        for p in self.items:
            yield point(run_id, p.key, "scalar", p.value, None, p.step, p.timestamp)


#: (batch decoder, single decoder, decode errors) once built at the first call; False without msgspec.
#: Built then, not at import: msgspec is 0.7 MiB and some ms that an idle server need not hold.
_decoders: Any = None


def _load() -> Any:
    global _decoders
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec comes with the server extra
        _decoders = False
        return False
    Stamp = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]  # noqa: N806 - types, named as types
    Step = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]  # noqa: N806
    Empty = Annotated[list, msgspec.Meta(max_length=0)]  # noqa: N806

    # gc=False: fields of str, float and int only, so they cannot form cycles (and the collector skips them).
    class _Point(msgspec.Struct, forbid_unknown_fields=True, gc=False):
        key: str
        value: float
        timestamp: Stamp  # type: ignore[valid-type]
        step: Step = 0  # type: ignore[valid-type]

    class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
        run_id: str
        metrics: Annotated[list[_Point], msgspec.Meta(min_length=1, max_length=_MAX_BATCH)]
        params: Empty = []  # type: ignore[valid-type]
        tags: Empty = []  # type: ignore[valid-type]

    class _Single(msgspec.Struct, forbid_unknown_fields=True, gc=False, kw_only=True):
        key: str
        value: float
        timestamp: Stamp  # type: ignore[valid-type]
        step: Step = 0  # type: ignore[valid-type]
        run_id: str = ""
        run_uuid: str = ""

    _decoders = (msgspec.json.Decoder(_Batch), msgspec.json.Decoder(_Single),
                 (msgspec.ValidationError, msgspec.DecodeError))
    return _decoders


def _names_plain(items: list[Any]) -> bool:
    good = GOOD_NAMES
    for p in items:
        if p.key not in good:  # the common case: one set look-up a point; a new name is checked once
            if not plain_name(p.key):
                return False
    return True


def _typed(which: int, body: bytes) -> Any:
    """body decoded by decoder `which` (0: batch, 1: single), loading them at the first call; None when it does
    not decode by type or msgspec is missing."""
    decoders = _decoders or (_decoders is None and _load())
    if not decoders:
        return None
    try:
        return decoders[which].decode(body)
    except decoders[2]:
        return None


def decode_batch(body: bytes) -> tuple[str, PlainPoints] | None:
    """(run id, points) of a plain metric-only `runs/log-batch` body, else None (the dict walk decides).

    The run id's form is the caller's to check (as for the walk's result).
    """
    msg = _typed(0, body)
    if msg is None:
        return None
    items = msg.metrics
    if not _names_plain(items):
        return None
    return msg.run_id, PlainPoints(msg.run_id, items)


def decode_single(body: bytes) -> tuple[str, PlainPoints] | None:
    """(run id, point) of a plain `runs/log-metric` body, else None (the dict walk decides)."""
    msg = _typed(1, body)
    if msg is None:
        return None
    run_id = msg.run_id or msg.run_uuid
    if not run_id or not (msg.key in GOOD_NAMES or plain_name(msg.key)):
        return None
    return run_id, PlainPoints(run_id, [msg])
