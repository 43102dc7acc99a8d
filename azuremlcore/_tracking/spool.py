"""The durable local spool: what a run logs is appended to a file on disk before it is sent.

One spool file per run and writing process: `<root>/<run id>/<source>.spool`, where `source` is a
random id of the writer (a hex uuid). The file holds one JSON object per line (a record), appended
and fsynced in batches, never rewritten:

    {"n": 0, "t": "run", "run_id": ..., "endpoint": ..., "offline": false, ...}   header, always first
    {"n": 1, "t": "metrics", "key": "loss" | [...], "kind": "scalar" | [...], "value": [...],
     "value_json": null | [...], "step": [...], "timestamp": [...]}
    {"n": 1, "t": "metrics", "rows": [[key, kind, value, value_json, step, timestamp], ...]}
    {"n": 2, "t": "attrs", "kind": "tag" | "property" | "param", "values": {...}, "write_once": bool}
    {"n": 3, "t": "file", "name": "outputs/a.txt", "copy": "files/3-a.txt"}     (copy: inside the run folder)
    {"n": 4, "t": "status", "status": "Completed", "end_time": ms}

`n` counts up from 0 in each file: `(source, n)` is the record's idempotent id. A metrics record
holds its points as columns (what `run.log` writes: one list per field, and a single value where
every point has the same one, as `key` and `kind` in a loop, or `value_json` null for plain floats),
or as rows (MLflow's calls, offline runs and spools of earlier versions). Metric values are numbers,
or the strings "NaN", "Infinity" and "-Infinity". A columnar record is the server's wire format as
it stands: the sender passes its line on without decoding it. A line cut short by a crash (the last one)
is ignored. `<source>.ack` holds, per target (`endpoint|workspace`), the highest `n` the target
has acknowledged; the server also remembers the last metrics record it stored per (run, source), so a
record sent twice (its answer was lost) is stored once. `<source>.lock` is held (flock) by the live
writer: a spool whose lock is free belongs to a process that ended, and may be replayed by another
(`aml sync`, or the next SDK process that opens the workspace).
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import threading
import uuid
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

if TYPE_CHECKING:
    from azuremlcore._store.records import MetricPoint
    from azuremlcore._tracking.metrics_writer import MetricRow

# Where job and script spools go unless $AZUREMLCORE_SPOOL_DIR says otherwise ($AZUREMLCORE_HOME/spool).
SPOOL_DIR_ENV = "AZUREMLCORE_SPOOL_DIR"
# Offline runs (`Run.get_context(allow_offline=True)` outside a job) are kept on disk under this folder.
OFFLINE_DIR_ENV = "AZUREML_OFFLINE_DIR"
# "0" turns the spool off for runs on a workspace server (values are then only kept in memory).
SPOOL_SWITCH_ENV = "AZUREMLCORE_SPOOL"
SUFFIX = ".spool"
# Key of a read record's own line (bytes), so a sender can pass its rows on without encoding them again.
LINE = "_line"
# Metric rows (and records) kept in memory after they are appended, until they are read back; beyond
# that (the server is down or slow), records are read back from disk.
_RECENT_MAX = 50_000
_DUMPS: list[Callable[[Any], bytes]] = []  # the dumps metrics records are written with, chosen on first use


def spool_root() -> Path:
    """The folder that holds the spools of runs logged from this machine."""
    configured = os.environ.get(SPOOL_DIR_ENV)
    if configured:
        return Path(configured)
    from azuremlcore._store import azuremlcore_home

    return azuremlcore_home() / "spool"


def spool_enabled() -> bool:
    """Whether runs on a workspace server write through a spool (on unless AZUREMLCORE_SPOOL=0)."""
    return os.environ.get(SPOOL_SWITCH_ENV, "1") not in ("0", "false", "False", "no")


def encode_value(v: float | None) -> Any:
    """A float as JSON can hold it (non-finite values as strings)."""
    if v is None or math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def decode_value(v: Any) -> float | None:
    """The float a record's value stands for."""
    return float(v.replace("Infinity", "inf")) if isinstance(v, str) else v


def _dumps_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _fast_dumps() -> Callable[[Any], bytes]:
    """orjson's dumps (a tenth of json's cost on a batch of points), or json's where orjson is missing.
    Only for values already made JSON-safe: orjson would write NaN as null."""
    try:
        import orjson
    except ImportError:  # an environment without it still logs, more slowly
        return _dumps_json
    return orjson.dumps


def metric_columns(rows: "Sequence[MetricRow]") -> dict[str, Any]:
    """The columns of a metrics record for points of one run (`MetricRow` tuples), in C-speed passes.

    `key`, `kind` and `value_json` are single values when every point has the same one (a loop
    logging one name: no string per point); non-finite values are written as strings.
    """
    keys, kinds, values, value_jsons, steps, times = (list(map(itemgetter(i), rows)) for i in range(1, 7))
    try:
        # One C pass: a NaN or infinity makes the sum non-finite; None or a string raises.
        plain = math.isfinite(sum(values))
    except TypeError:
        plain = False
    if not plain:  # non-finite, missing (None: a string metric) or a sum that overflowed
        values = list(map(encode_value, values))
    key_set, kind_set = set(keys), set(kinds)
    return {"key": keys[0] if len(key_set) == 1 else keys, "kind": kinds[0] if len(kind_set) == 1 else kinds,
            "value": values, "value_json": value_jsons if any(value_jsons) else None, "step": steps,
            "timestamp": times}


def record_points(run_id: str, record: dict[str, Any]) -> "list[MetricPoint]":
    """The metric points of a metrics record (columns or rows; one read back holds only its line)."""
    from azuremlcore._store.records import MetricPoint

    if "points" in record:
        record = json.loads(record[LINE])
    from azuremlcore._store.metric_columns import points_of

    rows = record.get("rows")
    if rows is None:
        rows = points_of(record.get("key"), record.get("kind"), record["value"], record.get("value_json"),
                         record["step"], record["timestamp"])
    return [MetricPoint(run_id, r[0], r[1], decode_value(r[2]), r[3], r[4], r[5]) for r in rows]


# How a columnar metrics record's line starts after its number (json and orjson keep the keys' order).
_COLUMNS_HEAD = b'"t":"metrics","key":'


def _count_points(line: bytes) -> int:
    """Points in a columnar record's line, without parsing it: one step each (integers, comma-separated).
    No `"step":[` can occur earlier in the line: inside a JSON string its quote would be escaped."""
    start = line.index(b'"step":[') + 8
    end = line.index(b"]", start)
    return 0 if end == start else line.count(b",", start, end) + 1


def record_size(record: dict[str, Any]) -> int:
    """Points in a metrics record (columns, rows, or a record kept in memory that says it)."""
    if "points" in record:
        return int(record["points"])
    return len(record["rows"]) if "rows" in record else len(record["value"])


def columnar(record: dict[str, Any]) -> bool:
    """Whether a metrics record holds columns (else rows)."""
    return "rows" not in record


class Spool:
    """One append-only spool file of a run, written by this process (see the module doc for the format)."""

    def __init__(self, folder: Path, source: str | None = None, header: dict[str, Any] | None = None) -> None:
        """Open (or create, with `header`) the spool `folder/<source>.spool`; a new source when None."""
        self.folder = Path(folder)
        self.source = source or uuid.uuid4().hex
        self.path = self.folder / f"{self.source}{SUFFIX}"
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        # (n, offset after it) of the last record read: the next read starts there, not at the top.
        self._read_at = (-1, 0)
        # Records this process appended and has not read back yet: reading them costs no JSON parsing.
        self._recent: dict[int, dict[str, Any]] = {}
        self._recent_size = 0  # their metric rows (what bounds their memory)
        self._header: dict[str, Any] | None = None  # the first record, never rewritten: read once
        if header is not None and not self.path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._f = open(self.path, "ab", buffering=0)
            self.next_n = 0
            self.append({"t": "run", **header})
            self.sync()
        else:
            self._f = None  # type: ignore[assignment]
            self.next_n = -1  # a spool opened to be read is never appended to


    # ------------------------------------------------------------------ writing
    def _take_lock(self) -> bool:
        fd = os.open(self.folder / f"{self.source}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def append(self, record: dict[str, Any]) -> int:
        """Append a record (without fsync: see `sync`); returns its `n`."""
        with self._lock:
            n = self.next_n
            line = _dumps_json({"n": n, **record}) + b"\n"
            self._f.write(line)
            self.next_n = n + 1
            size = len(record.get("rows", ())) + 1
            if self._recent_size + size <= _RECENT_MAX:  # an outage leaves the rest on disk only
                self._recent[n] = {"n": n, **record, LINE: line}
                self._recent_size += size
            return n

    def append_metrics(self, rows: "Sequence[MetricRow]") -> int:
        """Append one run's points as a columnar metrics record (without fsync); returns its `n`."""
        columns = metric_columns(rows)
        if not _DUMPS:
            _DUMPS.append(_fast_dumps())
        dumps = _DUMPS[0]
        with self._lock:
            n = self.next_n
            line = dumps({"n": n, "t": "metrics", **columns}) + b"\n"
            self._f.write(line)  # not kept in memory: read back, its line is all the sender needs (`records`)
            self.next_n = n + 1
            return n

    def sync(self) -> None:
        """Make every appended record durable (fsync)."""
        if self._f is not None:
            os.fsync(self._f.fileno())

    def close(self) -> None:
        """Close the file and release the lock (the spool may then be replayed by another process)."""
        if self._f is not None:
            self.sync()
            self._f.close()
            self._f = None  # type: ignore[assignment]
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ reading
    def records(self, after: int = -1) -> Iterator[dict[str, Any]]:
        """The complete records with `n > after`, in order (a torn last line is skipped); each also
        holds its line as written under `LINE`."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        with f:
            last_n, offset = self._read_at
            if last_n <= after:
                f.seek(offset)
            else:
                last_n, offset = -1, 0
            for line in f:
                if not line.endswith(b"\n"):
                    return  # a crash cut the last record short: it was never acknowledged to anyone
                offset += len(line)
                # Every record starts with {"n":<number>,: skipped ones are not parsed.
                n = int(line[5:line.index(b",", 5)])
                if n <= after:
                    self._read_at = (n, offset)
                    continue
                rec = self._recent.pop(n, None)
                if rec is not None:
                    self._recent_size -= len(rec.get("rows", ())) + 1
                elif _COLUMNS_HEAD in line[:64]:
                    # A columnar metrics record: sent as its line, so it is not parsed (a backlog of
                    # millions of points would cost the writing process more than the loop itself).
                    rec = {"n": n, "t": "metrics", "points": _count_points(line), LINE: line}
                else:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        return
                    rec[LINE] = line
                self._read_at = (n, offset)
                yield rec

    def header(self) -> dict[str, Any]:
        """The spool's first record (which run, on which endpoint)."""
        if self._header is not None:
            return self._header
        try:
            with open(self.path, "rb") as f:
                line = f.readline()
        except FileNotFoundError:
            return {}
        if not line.endswith(b"\n"):
            return {}
        try:
            header = json.loads(line)
        except ValueError:
            return {}
        header[LINE] = line
        self._header = header
        return header

    # ------------------------------------------------------------------ acknowledgements
    @property
    def ack_path(self) -> Path:
        """The file of acknowledged record numbers, per target."""
        return self.folder / f"{self.source}.ack"

    def acked(self, target: str) -> int:
        """The highest record number `target` acknowledged (-1: none)."""
        try:
            return int(json.loads(self.ack_path.read_text()).get(target, -1))
        except (FileNotFoundError, ValueError):
            return -1

    def ack(self, target: str, n: int) -> None:
        """Record that `target` stored every record up to `n` (atomically replaced; no fsync needed:
        a lost acknowledgement only makes a record be sent again, and the target stores it once)."""
        try:
            acks = json.loads(self.ack_path.read_text())
        except (FileNotFoundError, ValueError):
            acks = {}
        acks[target] = n
        tmp = self.ack_path.with_suffix(".ack.tmp")
        tmp.write_text(json.dumps(acks))
        os.replace(tmp, self.ack_path)

    def abandoned(self) -> bool:
        """Whether no live process writes this spool (its lock is free); takes the lock when it is."""
        if self._lock_fd is not None:
            return True
        return self._take_lock()

    def remove(self) -> None:
        """Delete the spool's files (once everything was sent), and the run's folder when it is empty."""
        import shutil

        self.close()
        for path in (self.path, self.ack_path, self.folder / f"{self.source}.lock"):
            path.unlink(missing_ok=True)
        files = self.folder / "files"
        if files.is_dir() and not any(p.name.endswith(SUFFIX) for p in self.folder.iterdir()):
            shutil.rmtree(files, ignore_errors=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass  # another writer's spool is still there

    def release(self) -> None:
        """Release a lock taken by `abandoned`."""
        if self._lock_fd is not None and self._f is None:
            os.close(self._lock_fd)
            self._lock_fd = None


def find_spools(root: Path) -> list[Spool]:
    """Every spool under `root` (`root/<run>/<source>.spool`), oldest first."""
    if not root.is_dir():
        return []
    paths = sorted(root.glob(f"*/*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
    return [Spool(p.parent, p.name[:-len(SUFFIX)]) for p in paths]
