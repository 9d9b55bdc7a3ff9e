"""The loaded dataset: a sized, indexable sequence of :class:`~tierbench.structures.Sample`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, overload

import numpy as np
from pymatgen.core import Molecule, Structure

from tierbench.config.base import TaskType
from tierbench.config.dataset import DatasetSpec
from tierbench.datasets.filters import SelectionStep
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.table import StructureTable
from tierbench.structures.sample import Sample

FINGERPRINT_DECIMALS = 6
"""Coordinates and lattices enter the fingerprint rounded to this many decimals (Å or fractional)."""


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset came from and what happened while loading it.

    Attributes:
        name: The spec's name.
        spec: The effective spec (catalog defaults filled in).
        source: The file, folder or package read.
        source_rows: Rows in the source, before quarantine and selection.
        units: Target → unit.
        task_types: Target → ``regression`` / ``classification``.
        quarantine: Rows rejected, with reasons.
        selection: Filters and subset steps, with counts.
        load_seconds: Wall time of the load.
    """

    name: str
    spec: DatasetSpec
    source: str
    source_rows: int
    units: dict[str, str]
    task_types: dict[str, TaskType]
    quarantine: QuarantineReport
    selection: tuple[SelectionStep, ...]
    load_seconds: float


class Dataset(Sequence[Sample]):
    """Samples with targets in stated units, built lazily from a :class:`StructureTable`.

    Indexing builds the pymatgen object of one sample; everything else (ids, targets, site counts,
    element statistics, the fingerprint) reads the arrays and never builds a structure.
    """

    def __init__(self, table: StructureTable, info: DatasetInfo) -> None:
        self.table = table
        self.info = info

    @property
    def name(self) -> str:
        """The spec's name."""
        return self.info.name

    @property
    def units(self) -> dict[str, str]:
        """Target → unit string."""
        return dict(self.info.units)

    @property
    def task_types(self) -> dict[str, TaskType]:
        """Target → ``regression`` or ``classification``."""
        return dict(self.info.task_types)

    @property
    def quarantine(self) -> QuarantineReport:
        """Rows of the source that were rejected, with reasons."""
        return self.info.quarantine

    @property
    def target_names(self) -> tuple[str, ...]:
        """The loaded targets."""
        return tuple(self.table.targets)

    @cached_property
    def ids(self) -> tuple[str, ...]:
        """Sample ids, in dataset order."""
        return tuple(self.table.ids.tolist())

    @property
    def periodic(self) -> bool:
        """Whether the samples are crystals."""
        return self.table.periodic

    @property
    def source_index(self) -> np.ndarray:
        """Row of each sample in the source file (what matbench folds refer to)."""
        return self.table.source_index

    def __len__(self) -> int:
        return len(self.table)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index: int | slice) -> Sample | list[Sample]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        position = range(len(self))[index]  # IndexError and negative indices as for a list
        values = {name: float(column[position]) for name, column in self.table.targets.items()}
        meta: dict[str, Any] = {name: column[position] for name, column in self.table.meta.items()}
        meta["source_index"] = int(self.table.source_index[position])
        return Sample(
            id=str(self.table.ids[position]),
            structure=self.structure(position),
            targets={name: value for name, value in values.items() if np.isfinite(value)},
            units=self.units,
            meta=meta,
        )

    def structure(self, position: int) -> Structure | Molecule:
        """The pymatgen object of one sample."""
        return self.table.structure(position)

    def target_values(self, name: str) -> np.ndarray:
        """All values of one target (NaN where a sample has none), in its unit."""
        if name not in self.table.targets:
            raise KeyError(f"{self.name} has no target {name!r}; it has {', '.join(self.target_names)}")
        return self.table.targets[name]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {sample_id: position for position, sample_id in enumerate(self.ids)}

    def index_of(self, sample_id: str) -> int:
        """Position of a sample id.

        Raises:
            KeyError: Unknown id.
        """
        return self._positions[sample_id]

    def positions_of(self, sample_ids: Iterable[str]) -> np.ndarray:
        """Positions of several ids (see :meth:`index_of`)."""
        return np.array([self.index_of(sample_id) for sample_id in sample_ids], dtype=np.int64)

    def subset(self, positions: Sequence[int] | np.ndarray, reason: str = "subset") -> Dataset:
        """A dataset of the samples at ``positions`` (same units, quarantine and provenance)."""
        rows = np.asarray(positions, dtype=np.int64)
        step = SelectionStep(reason, len(self) - len(rows), len(rows))
        return Dataset(self.table.take(rows), replace(self.info, selection=(*self.info.selection, step)))

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the content: ids, targets with units, species, coordinates, lattices, charges.

        Two loads of the same data with the same selection give the same fingerprint on any machine;
        splits are keyed by it.
        """
        digest = hashlib.sha256()

        def feed(label: str, data: bytes) -> None:
            digest.update(f"{label}:{len(data)}:".encode())
            digest.update(data)

        table = self.table
        feed("ids", "\0".join(map(str, table.ids)).encode())
        for name in sorted(table.targets):
            values = table.targets[name]
            feed(
                f"target {name} [{self.info.units.get(name, '')}]",
                np.nan_to_num(values, nan=0.0).astype("<f8").tobytes(),
            )
            feed(f"missing {name}", np.isnan(values).tobytes())
        feed("numbers", table.numbers.astype("<i2").tobytes())
        feed("offsets", table.offsets.astype("<i8").tobytes())
        feed("positions", (np.round(table.positions, FINGERPRINT_DECIMALS) + 0.0).astype("<f8").tobytes())
        if table.lattices is not None:
            feed("lattices", (np.round(table.lattices, FINGERPRINT_DECIMALS) + 0.0).astype("<f8").tobytes())
        if table.charges is not None:
            feed("charges", table.charges.astype("<f8").tobytes())
        return digest.hexdigest()

    def __repr__(self) -> str:
        kind = "crystals" if self.periodic else "molecules"
        return (
            f"Dataset({self.name!r}, {len(self)} {kind}, targets={list(self.target_names)}, "
            f"{self.quarantine.summary()})"
        )
