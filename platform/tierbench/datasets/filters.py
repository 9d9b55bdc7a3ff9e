"""Selection filters (element sets, size, periodicity, targets), applied vectorized over a table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from pymatgen.core import Element

from tierbench.config.dataset import FilterSpec
from tierbench.datasets.table import StructureTable

MAX_Z = 118


@dataclass(frozen=True)
class SelectionStep:
    """One step of a selection and how many samples it removed.

    Attributes:
        step: What was applied, e.g. ``elements_all=O`` or ``size=3000 (seed 0)``.
        excluded: Samples it removed.
        remaining: Samples left after it.
    """

    step: str
    excluded: int
    remaining: int


@cache
def _metal_numbers() -> np.ndarray:
    return np.array([Element.from_Z(z).is_metal for z in range(1, MAX_Z + 1)]).nonzero()[0] + 1


def _numbers(symbols: Sequence[str]) -> np.ndarray:
    return np.array([Element(symbol).Z for symbol in symbols], dtype=np.int64)


def _element_presence(table: StructureTable) -> np.ndarray:
    presence = np.zeros((len(table), MAX_Z + 1), dtype=bool)
    presence[table.owners(), table.numbers] = True
    return presence


def _tests(
    table: StructureTable, filters: FilterSpec, targets: Sequence[str]
) -> Iterator[tuple[str, np.ndarray | np.bool_]]:
    """``(step, passed)`` for each active filter, computed when the caller asks for it."""
    counts = table.site_counts()
    if filters.periodic is not None:
        yield f"periodic={filters.periodic}", np.full(len(table), table.periodic == filters.periodic)
    if filters.min_atoms is not None:
        yield f"min_atoms={filters.min_atoms}", counts >= filters.min_atoms
    if filters.max_atoms is not None:
        yield f"max_atoms={filters.max_atoms}", counts <= filters.max_atoms
    if filters.targets_present and targets:
        present = np.all([np.isfinite(table.targets[name]) for name in targets], axis=0)
        yield f"targets_present={','.join(targets)}", present
    for name, (low, high) in filters.target_range.items():
        values = table.targets[name]
        in_range = (values >= (-np.inf if low is None else low)) & (values <= (np.inf if high is None else high))
        yield f"target_range {name}=[{low}, {high}]", in_range
    by_element = filters.elements_all or filters.elements_any or filters.elements_none
    if not by_element and filters.elements_only is None and filters.any_metal is None:
        return
    presence = _element_presence(table)
    if filters.elements_all:
        yield f"elements_all={','.join(filters.elements_all)}", presence[:, _numbers(filters.elements_all)].all(axis=1)
    if filters.elements_any:
        yield f"elements_any={','.join(filters.elements_any)}", presence[:, _numbers(filters.elements_any)].any(axis=1)
    if filters.elements_none:
        banned = presence[:, _numbers(filters.elements_none)].any(axis=1)
        yield f"elements_none={','.join(filters.elements_none)}", ~banned
    if filters.elements_only is not None:
        outside = np.setdiff1d(np.arange(MAX_Z + 1), _numbers(filters.elements_only))
        yield f"elements_only={','.join(filters.elements_only)}", ~presence[:, outside].any(axis=1)
    if filters.any_metal is not None:
        has_metal = presence[:, _metal_numbers()].any(axis=1)
        yield f"any_metal={filters.any_metal}", has_metal == filters.any_metal


def apply_filters(
    table: StructureTable, rows: np.ndarray, filters: FilterSpec, targets: Sequence[str]
) -> tuple[np.ndarray, list[SelectionStep]]:
    """Keep the ``rows`` of ``table`` that pass every filter.

    Args:
        table: All samples read from the source.
        rows: Candidate rows (those that passed validation), in order.
        filters: The filters to apply.
        targets: Requested targets (for ``targets_present``).

    Returns:
        The remaining rows (order kept) and one :class:`SelectionStep` per active filter.
    """
    keep = np.zeros(len(table), dtype=bool)
    keep[rows] = True
    steps: list[SelectionStep] = []

    for step, passed in _tests(table, filters, targets):
        before = int(keep.sum())
        keep &= passed
        steps.append(SelectionStep(step, before - int(keep.sum()), int(keep.sum())))
    return np.flatnonzero(keep), steps
