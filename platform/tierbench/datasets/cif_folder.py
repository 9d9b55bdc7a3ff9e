"""CGCNN's dataset layout: a folder of ``<id>.cif`` files and an ``id_prop.csv``.

``id_prop.csv`` has one row per sample: the id (the CIF's file stem), then one or more target values.
CGCNN writes it without a header; then the value columns are named by the spec's ``columns`` (default
``target`` for one column, ``target_0``, ``target_1`` … for several). A first row whose values are not
numbers is read as a header. An empty cell is a missing value; any other text in a value cell is kept
(as meta) so that the loader can quarantine the row if that target is requested. Units come from the
spec's ``units``. CIFs are parsed with pymatgen.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tierbench.config.dataset import DatasetSpec
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.source import SourceData
from tierbench.datasets.table import SiteArrays, TableBuilder
from tierbench.errors import InvalidStructureError, Reason
from tierbench.structures.readers import read_structure

ID_PROP_FILE = "id_prop.csv"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_names(rows: list[list[str]], spec: DatasetSpec) -> tuple[list[str], list[list[str]]]:
    """Value column names and the data rows (header removed)."""
    width = max((len(row) for row in rows), default=1) - 1
    header: list[str] | None = None
    if rows and not all(_is_number(cell) for cell in rows[0][1:]):
        header, rows = [cell.strip() for cell in rows[0][1:]], rows[1:]
    names = list(spec.columns or header or (["target"] if width == 1 else [f"target_{i}" for i in range(width)]))
    if len(names) != width:
        raise ValueError(f"{ID_PROP_FILE} has {width} value columns but {len(names)} names were given: {names}")
    return names, rows


def read_cif_folder(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read a CGCNN-style folder (see the module docstring).

    Args:
        path: The folder holding ``id_prop.csv`` and the CIFs.
        spec: ``columns`` names the value columns of a header-less ``id_prop.csv``.

    Raises:
        FileNotFoundError: The folder has no ``id_prop.csv``.
    """
    if path is None:
        raise ValueError("cif_folder needs a path")
    id_prop = path / ID_PROP_FILE
    if not id_prop.is_file():
        raise FileNotFoundError(f"{path} has no {ID_PROP_FILE} (CGCNN layout: <id>.cif files plus {ID_PROP_FILE})")
    with id_prop.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row and any(cell.strip() for cell in row)]
    names, rows = _column_names(rows, spec)
    builder = TableBuilder(periodic=True)
    report = QuarantineReport()
    for index, row in enumerate(rows):
        sample_id = row[0].strip()
        cif = path / f"{sample_id}.cif"
        try:
            if not cif.is_file():
                raise InvalidStructureError(
                    f"{ID_PROP_FILE} lists {sample_id!r} but {cif.name} is missing", reason=Reason.MISSING_FILE
                )
            sites = SiteArrays.from_structure(read_structure(cif))
        except InvalidStructureError as error:
            report.add(index, sample_id, error)
            continue
        cells = dict(zip(names, (cell.strip() for cell in row[1:]), strict=False))
        targets = {name: float(text) if _is_number(text) else None for name, text in cells.items()}
        text = {name: value for name, value in cells.items() if value and not _is_number(value)}
        builder.add(index, sample_id, sites, targets, {"file": cif.name, **text})
    table, hints = builder.build()
    return SourceData(table, report, {}, hints, str(path))
