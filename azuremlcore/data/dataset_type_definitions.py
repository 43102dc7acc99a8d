"""Enumerations used by dataset factories (header handling, file encodings)."""
from __future__ import annotations

from enum import Enum
from typing import Any


class PromoteHeadersBehavior(Enum):
    """How column headers are read from delimited files."""

    NO_HEADERS = 0
    ONLY_FIRST_FILE_HAS_HEADERS = 1
    COMBINE_ALL_FILES_HEADERS = 2
    ALL_FILES_HAVE_SAME_HEADERS = 3


class FileEncoding(Enum):
    """Text encodings of delimited and JSON files."""

    UTF8 = 0
    ISO88591 = 1
    LATIN1 = 2
    ASCII = 3
    UTF16 = 4
    UTF32 = 5
    UTF8BOM = 6
    WINDOWS1252 = 7


_CODECS = {FileEncoding.UTF8: "utf-8", FileEncoding.ISO88591: "iso-8859-1", FileEncoding.LATIN1: "latin-1",
           FileEncoding.ASCII: "ascii", FileEncoding.UTF16: "utf-16", FileEncoding.UTF32: "utf-32",
           FileEncoding.UTF8BOM: "utf-8-sig", FileEncoding.WINDOWS1252: "cp1252"}


def header_flag(header: Any) -> bool:
    """True when the files have a header row (bool or PromoteHeadersBehavior)."""
    if isinstance(header, PromoteHeadersBehavior):
        return header is not PromoteHeadersBehavior.NO_HEADERS
    return bool(header)


def codec(encoding: Any) -> str:
    """The Python codec name of an encoding given as FileEncoding or text."""
    if isinstance(encoding, FileEncoding):
        return _CODECS[encoding]
    return str(encoding or "utf-8")
