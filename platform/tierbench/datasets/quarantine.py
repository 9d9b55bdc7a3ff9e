"""Bad rows: found, explained and counted — never silently dropped, never fatal to a load.

Rows that cannot be read are quarantined by the adapters (reason ``unparseable``, ``missing_file`` or a
validation reason). Rows that were read are screened here in one vectorized pass over the whole
:class:`~tierbench.datasets.table.StructureTable`: empty structures, non-finite numbers, degenerate or
left-handed cells, impossible charges and atoms closer than
:data:`tierbench.structures.MIN_INTERATOMIC_DISTANCE` (periodic images included). The pass only finds
*suspects*; each suspect is then built and checked by :func:`tierbench.structures.validate_structure`,
whose reason code and message go into the report, so the verdict is always the one that function gives.
Repeated ids are quarantined as ``duplicate_id`` (the first occurrence is kept), and a requested target
whose value is text or infinite as ``invalid_target`` (a missing value is no error: the
``targets_present`` filter counts those).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from tierbench.datasets.table import StructureTable
from tierbench.errors import InvalidStructureError, Reason
from tierbench.structures.validation import MAX_EXTENT, MIN_INTERATOMIC_DISTANCE, validate_structure

MIN_CELL_VOLUME = 1e-3
"""Å³; the cell volume below which :func:`validate_structure` calls a lattice degenerate."""

SCREEN_TOLERANCE = 1e-6
"""Å added to the distance screen so that rounding never hides a pair at the threshold."""


@dataclass(frozen=True)
class QuarantinedRow:
    """One row that did not become a sample.

    Attributes:
        source_index: Row (line, frame, record) in the source.
        sample_id: Its id when it could be read.
        reason: A :mod:`tierbench.structures` reason code, or ``unparseable``, ``missing_file``,
            ``duplicate_id``.
        message: What exactly is wrong.
    """

    source_index: int
    sample_id: str | None
    reason: str
    message: str


@dataclass
class QuarantineReport:
    """All quarantined rows of one load."""

    rows: list[QuarantinedRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, source_index: int | np.integer, sample_id: str | None, error: Exception) -> None:
        """Record a row rejected with ``error`` (its ``reason`` attribute, else ``unparseable``)."""
        reason = getattr(error, "reason", Reason.UNPARSEABLE)
        self.rows.append(QuarantinedRow(int(source_index), sample_id, reason, str(error)))

    def counts(self) -> dict[str, int]:
        """Reason → number of rows, most frequent first."""
        return dict(Counter(row.reason for row in self.rows).most_common())

    def to_dict(self, examples: int = 5) -> dict[str, Any]:
        """JSON-able summary: total, counts per reason and the first ``examples`` rows of each reason."""
        shown: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(self.rows, key=lambda item: item.source_index):
            bucket = shown.setdefault(row.reason, [])
            if len(bucket) < examples:
                bucket.append({"source_index": row.source_index, "id": row.sample_id, "message": row.message})
        return {"total": len(self), "counts": self.counts(), "examples": shown}

    def summary(self) -> str:
        """One line, e.g. ``3 quarantined (overlapping_atoms: 2, unparseable: 1)``."""
        if not self.rows:
            return "0 quarantined"
        reasons = ", ".join(f"{reason}: {count}" for reason, count in self.counts().items())
        return f"{len(self)} quarantined ({reasons})"


def _rows_with(table: StructureTable, site_flags: np.ndarray) -> np.ndarray:
    return np.bincount(table.owners()[site_flags], minlength=len(table)) > 0


def _periodic_points(
    table: StructureTable, cells: np.ndarray, rows: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cartesian sites of ``rows`` plus every periodic image that lies within ``cutoff`` of the cell.

    A pair of sites closer than ``cutoff`` (any image) then appears as a pair of these points, provided
    every interplanar spacing exceeds ``cutoff``; rows with thinner cells are returned as suspects.
    """
    lattices = np.where(rows[:, None, None], cells, np.eye(3))
    margin = cutoff * np.linalg.norm(np.linalg.inv(lattices), axis=1)  # fractional reach per axis
    thin = rows & (margin >= 1.0).any(axis=1)
    owners = table.owners()
    considered = (rows & ~thin)[owners]
    fractional = table.positions[considered] - np.floor(table.positions[considered])
    point_owner = owners[considered]
    site_margin = margin[point_owner]
    # An image shifted by +1 (-1) along an axis lies within reach of the cell only if the site lies
    # within the margin of the lower (upper) face; shifts are combined per axis.
    reachable = {
        -1.0: fractional > 1.0 - site_margin,
        0.0: np.ones_like(fractional, dtype=bool),
        1.0: fractional < site_margin,
    }
    points, point_owners = [], []
    for shift in itertools.product((-1.0, 0.0, 1.0), repeat=3):
        keep = reachable[shift[0]][:, 0] & reachable[shift[1]][:, 1] & reachable[shift[2]][:, 2]
        shifted = fractional[keep] + np.array(shift)
        points.append(np.matmul(shifted[:, None, :], cells[point_owner[keep]])[:, 0])
        point_owners.append(point_owner[keep])
    return np.concatenate(points), np.concatenate(point_owners), thin


def _close_contact_rows(table: StructureTable, rows: np.ndarray, cutoff: float) -> np.ndarray:
    """Rows (among ``rows``) with two sites, or a site and an image, closer than ``cutoff``."""
    if table.lattices is not None:
        points, owner, flagged = _periodic_points(table, table.lattices, rows, cutoff)
    else:
        considered = rows[table.owners()]
        points, owner, flagged = table.positions[considered], table.owners()[considered], np.zeros(len(table), bool)
    if len(points) == 0:
        return flagged
    # Lay the structures side by side along x with gaps wider than the cutoff: one k-d tree then finds
    # every close pair of every structure at once, and no pair can span two structures.
    low = np.full(len(table), np.inf)
    high = np.full(len(table), -np.inf)
    np.minimum.at(low, owner, points[:, 0])
    np.maximum.at(high, owner, points[:, 0])
    width = np.where(np.isfinite(low), high - low, 0.0) + 2.0 * cutoff + 1.0
    start = np.concatenate([[0.0], np.cumsum(width)[:-1]])
    laid_out = points.copy()
    laid_out[:, 0] += start[owner] - low[owner]
    pairs = cKDTree(laid_out, balanced_tree=False, compact_nodes=False).query_pairs(cutoff, output_type="ndarray")
    flagged[owner[pairs[:, 0]]] = True
    return flagged


def _molecule_spans(table: StructureTable) -> np.ndarray:
    """Widest extent (Å) of each molecule's atoms along x, y or z (0 for an empty one)."""
    low = np.full((len(table), 3), np.inf)
    high = np.full((len(table), 3), -np.inf)
    finite = np.isfinite(table.positions).all(axis=1)
    np.minimum.at(low, table.owners()[finite], table.positions[finite])
    np.maximum.at(high, table.owners()[finite], table.positions[finite])
    return np.where(np.isfinite(low), high - low, 0.0).max(axis=1)


def suspect_rows(table: StructureTable, min_distance: float = MIN_INTERATOMIC_DISTANCE) -> np.ndarray:
    """Rows that may fail :func:`validate_structure` (a superset of those that do)."""
    suspects = table.site_counts() == 0
    suspects |= _rows_with(table, ~np.isfinite(table.positions).all(axis=1))
    if table.lattices is not None:
        finite_cell = np.isfinite(table.lattices).all(axis=(1, 2))
        volume = np.linalg.det(np.where(finite_cell[:, None, None], table.lattices, 0.0))
        suspects |= ~finite_cell | (volume < MIN_CELL_VOLUME)
        suspects |= ~(
            np.linalg.norm(np.where(finite_cell[:, None, None], table.lattices, 0.0), axis=2) <= MAX_EXTENT
        ).all(axis=1)
    else:
        if table.charges is not None:
            electrons = np.bincount(table.owners(), weights=table.numbers, minlength=len(table)) - table.charges
            suspects |= electrons < 0
        suspects |= _molecule_spans(table) > MAX_EXTENT
    suspects |= _close_contact_rows(table, ~suspects, min_distance + SCREEN_TOLERANCE)
    return suspects


def screen_table(table: StructureTable, report: QuarantineReport) -> np.ndarray:
    """Validate every row; quarantine the bad ones into ``report``.

    Returns:
        The rows that passed, in table order.
    """
    keep = np.ones(len(table), dtype=bool)
    for row in np.flatnonzero(suspect_rows(table)):
        try:
            validate_structure(table.structure(int(row)))
        except InvalidStructureError as error:
            report.add(table.source_index[row], table.ids[row], error)
            keep[row] = False
        except (ValueError, TypeError, IndexError) as error:  # pymatgen could not even build it
            report.add(
                table.source_index[row],
                table.ids[row],
                InvalidStructureError(f"cannot build the structure: {error}", reason=Reason.UNPARSEABLE),
            )
            keep[row] = False
    _, first, inverse = np.unique(table.ids.astype(str), return_index=True, return_inverse=True)
    for row in np.flatnonzero(first[inverse] != np.arange(len(table))):
        if keep[row]:
            original = table.source_index[first[inverse[row]]]
            report.add(
                table.source_index[row],
                table.ids[row],
                InvalidStructureError(
                    f"id {table.ids[row]!r} repeats source row {original}", reason=Reason.DUPLICATE_ID
                ),
            )
            keep[row] = False
    return np.flatnonzero(keep)


def screen_targets(table: StructureTable, rows: np.ndarray, names: list[str], report: QuarantineReport) -> np.ndarray:
    """Quarantine the ``rows`` whose value of a requested target is text (kept as meta) or infinite.

    Returns:
        The rows that passed, in order.
    """
    keep = np.zeros(len(table), dtype=bool)
    keep[rows] = True
    for name in names:
        values = table.targets[name]
        text = table.meta.get(name, np.full(len(table), None, dtype=object))
        has_text = np.array([value is not None for value in text], dtype=bool)
        for row in np.flatnonzero(keep & (np.isinf(values) | has_text)):
            value = text[row] if text[row] is not None else float(values[row])
            error = InvalidStructureError(
                f"target {name!r} is {value!r}, not a finite number", reason=Reason.INVALID_TARGET
            )
            report.add(table.source_index[row], table.ids[row], error)
            keep[row] = False
    return np.flatnonzero(keep)
