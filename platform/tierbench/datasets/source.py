"""What an adapter returns, and reading (compressed) source files into memory."""

from __future__ import annotations

import bz2
import gzip
import lzma
from dataclasses import dataclass, field
from pathlib import Path

from tierbench.config.base import TaskType
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.table import StructureTable

_OPENERS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


@dataclass
class SourceData:
    """Everything an adapter read from one source.

    Attributes:
        table: The rows that could be read.
        quarantine: The rows that could not, with reasons.
        units: Target → unit, as the format documents it.
        task_types: Target → task type, where the format tells (e.g. boolean labels).
        source: The file, folder or package read.
    """

    table: StructureTable
    quarantine: QuarantineReport
    units: dict[str, str] = field(default_factory=dict)
    task_types: dict[str, TaskType] = field(default_factory=dict)
    source: str = ""


def read_bytes(path: Path) -> bytes:
    """A file's content, decompressed in memory when it ends in ``.gz``, ``.bz2`` or ``.xz``.

    Decompressing whole files is deliberate: parsers that seek inside a gzip stream (ASE's extxyz
    reader does) take minutes on files that decompress in a fraction of a second.
    """
    data = path.read_bytes()
    opener = _OPENERS.get(path.suffix.lower())
    return opener(data) if opener else data


def read_text(path: Path) -> str:
    """A (possibly compressed) text file, decoded as UTF-8."""
    return read_bytes(path).decode("utf-8")
