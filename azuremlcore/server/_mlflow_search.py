"""MLflow's run-search grammar (filter and order_by strings) read without MLflow, into the store's search terms.

Covers what clients send in practice: `AND`-joined comparisons of metrics, params, tags and the
run attributes run_id, run_name, status, user_id, start_time and end_time, and order_by on any of
those. Anything else (datasets, synthesized `mlflow.*` tags, unknown attributes, odd syntax) is
`Unsupported`: the caller then takes MLflow's own search path, so its grammar and errors apply.
"""
from __future__ import annotations

import re
from typing import Any

from azuremlcore._store.run_search import Clause, Order

_ENTITY = {"metric": "metric", "metrics": "metric", "m": "metric",
           "param": "param", "params": "param", "p": "param", "parameter": "param", "parameters": "param",
           "tag": "tag", "tags": "tag", "t": "tag",
           "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute"}
_ATTRIBUTES = {"run_id": "string", "run_name": "string", "status": "string", "user_id": "string",
               "start_time": "number", "end_time": "number"}
_SYNTHESIZED_TAGS = frozenset({"mlflow.runName", "mlflow.parentRunId"})
_NUMBER_OPS = frozenset({"=", "!=", ">", ">=", "<", "<="})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<ident>[A-Za-z_]\w*\.(?:`[^`]+`|"[^"]+"|[\w.\-/:]+))
    | (?P<op>!=|>=|<=|=|>|<|(?i:NOT\s+IN\b)|(?i:ILIKE\b)|(?i:LIKE\b)|(?i:IN\b))
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
    | (?P<and>(?i:AND)\b)
    | (?P<list>\((?:\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*,?)*\s*\))
    )""", re.VERBOSE)
_MLFLOW_STATUS = {"RUNNING": ("Running", "Finalizing", "CancelRequested", "NotResponding"),
                  "SCHEDULED": ("NotStarted", "Starting", "Provisioning", "Preparing", "Queued"),
                  "FINISHED": ("Completed",), "FAILED": ("Failed",), "KILLED": ("Canceled",)}


class Unsupported(ValueError):
    """The string uses something this reader leaves to MLflow's own search."""


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'" else text


def _identifier(text: str) -> tuple[str, str]:
    entity, _, key = text.partition(".")
    kind = _ENTITY.get(entity.lower())
    key = _unquote(key.strip())
    if kind is None or not key:
        raise Unsupported(text)
    if kind == "attribute":
        if key not in _ATTRIBUTES:
            raise Unsupported(text)
    elif kind == "tag" and key in _SYNTHESIZED_TAGS:
        raise Unsupported(text)
    return kind, key


def _string(text: str) -> str:
    return _unquote(text).replace("\\'", "'").replace('\\"', '"')


def parse_filter(text: str | None) -> list[Clause]:
    """The clauses of a filter string (AND-joined comparisons), or Unsupported."""
    clauses: list[Clause] = []
    if not text or not text.strip():
        return clauses
    tokens = list(_tokens(text))
    i = 0
    while i < len(tokens):
        if len(tokens) < i + 3:
            raise Unsupported(text)
        (k1, ident), (k2, op), (k3, value) = tokens[i:i + 3]
        if k1 != "ident" or k2 != "op":
            raise Unsupported(text)
        kind, key = _identifier(ident)
        op = " ".join(op.upper().split())
        clauses.append(_clause(kind, key, op, k3, value))
        i += 3
        if i < len(tokens):
            if tokens[i][0] != "and":
                raise Unsupported(text)
            i += 1
            if i == len(tokens):
                raise Unsupported(text)
    return clauses


def _tokens(text: str) -> Any:
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise Unsupported(text)
        kind = m.lastgroup or ""
        yield kind, m.group(kind)
        pos = m.end()


def _clause(kind: str, key: str, op: str, value_kind: str, value: str) -> Clause:
    numeric = kind == "metric" or (kind == "attribute" and _ATTRIBUTES[key] == "number")
    if op in ("IN", "NOT IN"):
        if kind != "attribute" or key not in ("run_id", "status") or value_kind != "list":
            raise Unsupported(op)
        items = [_string(s) for s in re.findall(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", value)]
        return _status(Clause(kind, key, op, items)) if key == "status" else Clause(kind, key, op, items)
    if numeric:
        if op not in _NUMBER_OPS or value_kind != "number":
            raise Unsupported(op)
        return Clause(kind, key, op, float(value) if kind == "metric" else int(float(value)))
    if op not in _STRING_OPS or value_kind != "string":
        raise Unsupported(op)
    clause = Clause(kind, key, op, _string(value))
    return _status(clause) if kind == "attribute" and key == "status" else clause


def _status(clause: Clause) -> Clause:
    # The store holds Azure ML statuses; MLflow's names each stand for one or more of them.
    if clause.op not in ("=", "!=", "IN", "NOT IN"):
        raise Unsupported(clause.op)
    names = clause.value if isinstance(clause.value, list) else [clause.value]
    ours = [s for n in names for s in _MLFLOW_STATUS.get(str(n).upper(), ())]
    return Clause("attribute", "status", "NOT IN" if clause.op in ("!=", "NOT IN") else "IN", ours)


_ORDER = re.compile(r"^\s*(?P<ident>.+?)(?:\s+(?P<dir>(?i:ASC|DESC)))?\s*$")


def parse_order_by(items: list[str] | None) -> list[Order]:
    """The order terms of order_by strings (`metrics.loss DESC`, `attributes.start_time`), or Unsupported."""
    out: list[Order] = []
    for item in items or []:
        m = _ORDER.match(item or "")
        if m is None:
            raise Unsupported(item)
        ident = m.group("ident").strip()
        if "." not in ident:
            ident = "attributes." + ident
        kind, key = _identifier(ident)
        out.append(Order(kind, key, (m.group("dir") or "ASC").upper() == "ASC"))
    return out
