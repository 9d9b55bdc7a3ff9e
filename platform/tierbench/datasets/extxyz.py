"""Extended XYZ files and ASE databases, read through ASE.

Each frame (or database row) is one sample. Numeric and boolean ``info`` entries (database
key-value pairs) and scalar calculator results (``energy`` …) are targets; string entries go to
``Sample.meta``; ``charge`` is the molecule's net charge. The id is the ``id_key`` entry when given,
else an ``id`` or ``name`` entry, else the frame number. Frames without periodic boundary conditions
are molecules; fully periodic frames are crystals; a file holds one kind.

Compressed files are decompressed in memory and split into frames first: ASE seeking inside a gzip
stream took more than 9 minutes for 10,000 molecules, and a damaged frame then costs one quarantined
sample instead of the whole file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tierbench.config.dataset import DatasetSpec
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.source import SourceData, read_text
from tierbench.datasets.table import SiteArrays, TableBuilder
from tierbench.errors import InvalidStructureError, Reason

FALLBACK_ID_KEYS = ("id", "name")
CHARGE_KEY = "charge"


def _is_count_line(line: str) -> bool:
    fields = line.split()
    return len(fields) == 1 and fields[0].isdigit()


def _is_atom_line(line: str) -> bool:
    fields = line.split()
    try:
        [float(field) for field in fields[1:4]]
    except ValueError:
        return False
    return len(fields) >= 4


def _next_count_line(lines: list[str], start: int) -> int:
    return next((number for number in range(start, len(lines)) if _is_count_line(lines[number])), len(lines))


def split_frames(text: str) -> Iterator[tuple[int, str | None, str]]:
    """``(frame number, frame text or None, problem)`` for each frame of an (ext)xyz text.

    A frame is an atom-count line, a comment line and that many atom lines. A count line that cannot be
    read, or a count followed by more atom lines than it announced, gives one item with ``None`` and the
    problem; framing resumes at the next count line, so one bad frame costs only itself.
    """
    lines = text.splitlines(keepends=True)
    line, frame = 0, 0
    while line < len(lines):
        if not lines[line].strip():
            line += 1
            continue
        start = line
        if _is_count_line(lines[line]):
            count = int(lines[line])
            end = line + count + 2
            if end > len(lines):
                yield frame, None, f"line {line + 1}: frame of {count} atoms is cut off at the end of the file"
                return
            if end == len(lines) or not _is_atom_line(lines[end]):
                yield frame, "".join(lines[line:end]), ""
                line, frame = end, frame + 1
                continue
            problem = f"line {line + 1}: {count} atoms announced, but line {end + 1} is one more atom line"
        else:
            problem = f"line {line + 1}: expected an atom count, found {lines[line].strip()[:40]!r}"
        line = _next_count_line(lines, start + 1)
        yield frame, None, f"{problem} (lines {start + 1}-{line} skipped)"
        frame += 1


def _sites(atoms: Any, charge: float) -> SiteArrays:
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.all():
        cell = atoms.cell.array.copy()
        return SiteArrays(atoms.numbers.astype(np.int16), atoms.cell.scaled_positions(atoms.positions), cell)
    if pbc.any():
        raise InvalidStructureError(
            f"periodic along some axes only (pbc={pbc.tolist()}); slabs and wires are not supported",
            reason=Reason.UNSUPPORTED_FORMAT,
        )
    return SiteArrays(atoms.numbers.astype(np.int16), atoms.positions.copy(), None, charge)


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _add_atoms(builder: TableBuilder, index: int, atoms: Any, fields: Mapping[str, Any], id_key: str | None) -> None:
    values = {key: _scalar(value) for key, value in fields.items()}
    results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
    values.update({key: _scalar(value) for key, value in results.items() if np.ndim(value) == 0})
    key = id_key or next((name for name in FALLBACK_ID_KEYS if name in values), None)
    if key is not None and key not in values:
        raise InvalidStructureError(f"frame {index} has no {key!r} entry for its id", reason=Reason.UNPARSEABLE)
    sample_id = str(values.pop(key)) if key is not None else str(index)
    charge = float(values.pop(CHARGE_KEY, 0.0) or 0.0)
    targets = {name: value for name, value in values.items() if isinstance(value, int | float | bool)}
    meta = {name: value for name, value in values.items() if name not in targets and isinstance(value, str)}
    builder.add(index, sample_id, _sites(atoms, charge), targets, meta)


def _read_frame(read_xyz: Any, frame: str, index: int) -> Any:
    """One frame as ASE atoms.

    Raises:
        InvalidStructureError: ``unknown_element`` for a symbol that is no element (ASE's KeyError).
    """
    from pymatgen.core import Element

    try:
        return next(read_xyz(io.StringIO(frame), 0))
    except KeyError as error:
        symbol = error.args[0] if error.args else None
        if not isinstance(symbol, str) or Element.is_valid_symbol(symbol):
            raise
        message = f"frame {index}: unknown element symbol {symbol!r}"
        raise InvalidStructureError(message, reason=Reason.UNKNOWN_ELEMENT) from error


def read_extxyz(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read an (extended) XYZ file, optionally compressed (see the module docstring)."""
    from ase.io.extxyz import read_xyz

    if path is None:
        raise ValueError("extxyz needs a path")
    builder = TableBuilder()
    report = QuarantineReport()
    for index, frame, problem in split_frames(read_text(path)):
        try:
            if frame is None:
                raise InvalidStructureError(problem, reason=Reason.UNPARSEABLE)
            atoms = _read_frame(read_xyz, frame, index)
            _add_atoms(builder, index, atoms, atoms.info, spec.id_key)
        except InvalidStructureError as error:
            report.add(index, None, error)
        except (ValueError, KeyError, IndexError, StopIteration) as error:
            message = f"frame {index}: {type(error).__name__}: {error}"
            report.add(index, None, InvalidStructureError(message, reason=Reason.UNPARSEABLE))
    table, hints = builder.build()
    return SourceData(table, report, {}, hints, str(path))


def read_ase_db(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read an ASE database (``.db`` SQLite or ``.json``); rows' key-value pairs are the fields."""
    import ase.db

    if path is None:
        raise ValueError("ase_db needs a path")
    builder = TableBuilder()
    report = QuarantineReport()
    for row in ase.db.connect(str(path)).select():
        try:
            _add_atoms(builder, row.id, row.toatoms(), row.key_value_pairs, spec.id_key)
        except InvalidStructureError as error:
            report.add(row.id, None, error)
        except (ValueError, KeyError, IndexError) as error:
            message = f"row {row.id}: {type(error).__name__}: {error}"
            report.add(row.id, None, InvalidStructureError(message, reason=Reason.UNPARSEABLE))
    table, hints = builder.build()
    return SourceData(table, report, {}, hints, str(path))
