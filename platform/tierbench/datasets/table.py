"""A columnar store of structures and labels that every adapter fills.

Holding all sites of a dataset in a few flat arrays (instead of one pymatgen object per sample) is
what lets the full QM9 or the 33k Materials Project set load in seconds: validation and filters run
vectorized over the arrays, and a pymatgen ``Structure``/``Molecule`` is built only when a sample is
accessed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from pymatgen.core import Element, Molecule, Structure

from tierbench.config.base import TaskType
from tierbench.errors import InvalidStructureError, Reason
from tierbench.structures.canonical import canonical_arrays
from tierbench.structures.readers import plain_structure_dict
from tierbench.structures.sample import structure_from_arrays
from tierbench.structures.validation import validate_structure


@cache
def _atomic_numbers() -> dict[str, int]:
    return {element.symbol: element.Z for element in Element}


@cache
def _symbols() -> tuple[str, ...]:
    """Element symbols indexed by atomic number (as pymatgen names the element of that number)."""
    return ("", *(Element.from_Z(number).symbol for number in range(1, 119)))


def lookup_numbers(symbols: Iterable[str]) -> np.ndarray:
    """Atomic numbers of element symbols, 0 for a symbol that is not an element."""
    table = _atomic_numbers()
    return np.array([table.get(symbol, 0) for symbol in symbols], dtype=np.int16)


def symbols_to_numbers(symbols: Sequence[str]) -> np.ndarray:
    """Atomic numbers of element symbols.

    Raises:
        InvalidStructureError: ``unknown_element`` naming the first symbol that is not an element.
    """
    table = _atomic_numbers()
    unknown = next((symbol for symbol in symbols if symbol not in table), None)
    if unknown is not None:
        raise InvalidStructureError(f"unknown element symbol {unknown!r}", reason=Reason.UNKNOWN_ELEMENT)
    return np.array([table[symbol] for symbol in symbols], dtype=np.int16)


@dataclass(frozen=True)
class SiteArrays:
    """The sites of one structure as arrays.

    Attributes:
        numbers: Atomic numbers ``[n]``.
        positions: Fractional coordinates for a crystal, Cartesian Å for a molecule ``[n, 3]``.
        lattice: Lattice row vectors in Å ``[3, 3]``, ``None`` for a molecule.
        charge: Net charge of a molecule (0 for crystals).
    """

    numbers: np.ndarray
    positions: np.ndarray
    lattice: np.ndarray | None = None
    charge: float = 0.0

    @classmethod
    def from_lists(cls, symbols: Sequence[str], positions: Any, lattice: Any = None, charge: float = 0.0) -> SiteArrays:
        """Check shapes and element symbols of raw lists.

        Raises:
            InvalidStructureError: ``unknown_element``, or ``unparseable`` for inconsistent shapes.
        """
        coordinates = np.asarray(positions, dtype=float).reshape(-1, 3) if len(symbols) else np.zeros((0, 3))
        if coordinates.shape[0] != len(symbols):
            raise InvalidStructureError(
                f"{len(symbols)} species but {coordinates.shape[0]} coordinate triples", reason=Reason.UNPARSEABLE
            )
        matrix = None
        if lattice is not None:
            matrix = np.asarray(lattice, dtype=float)
            if matrix.shape != (3, 3):
                raise InvalidStructureError(f"lattice has shape {matrix.shape}, not 3x3", reason=Reason.UNPARSEABLE)
        return cls(symbols_to_numbers(symbols), coordinates, matrix, float(charge))

    @classmethod
    def from_structure(cls, structure: Structure | Molecule) -> SiteArrays:
        """Arrays of a pymatgen object that passes :func:`validate_structure`.

        Raises:
            InvalidStructureError: The structure fails validation (with its reason code).
        """
        validate_structure(structure)
        numbers = np.array([site.specie.Z for site in structure], dtype=np.int16)
        if isinstance(structure, Structure):
            return cls(numbers, structure.frac_coords, structure.lattice.matrix.copy())
        return cls(numbers, structure.cart_coords, None, float(structure.charge))

    @classmethod
    def from_pymatgen_dict(cls, payload: Mapping[str, Any]) -> SiteArrays:
        """Arrays of a ``Structure.as_dict()`` payload (as matminer and MP store structures).

        Ordered sites are read directly (oxidation states are dropped: tiers read elements); anything
        else goes through pymatgen (without site properties, which pymatgen would decode into arbitrary
        objects) and validation.
        """
        sites = payload["sites"]
        simple = all(len(site["species"]) == 1 and float(site["species"][0].get("occu", 1)) == 1.0 for site in sites)
        if not simple:
            return cls.from_structure(Structure.from_dict(plain_structure_dict(payload)))
        symbols = [site["species"][0]["element"] for site in sites]
        return cls.from_lists(symbols, [site["abc"] for site in sites], payload["lattice"]["matrix"])


@dataclass(frozen=True)
class StructureTable:
    """Structures and labels of many samples in flat arrays (all crystals or all molecules).

    Attributes:
        ids: Sample ids ``[n]`` (object array of str).
        numbers: Atomic numbers of all sites ``[N]``.
        positions: Fractional (crystals) or Cartesian Å (molecules) coordinates ``[N, 3]``.
        offsets: Sample ``i`` owns sites ``offsets[i]:offsets[i + 1]`` ``[n + 1]``.
        lattices: Lattice row vectors ``[n, 3, 3]`` in Å, ``None`` for molecules.
        charges: Net charges ``[n]`` of molecules, ``None`` for crystals.
        targets: Target name → values ``[n]`` (NaN where the source has no value).
        meta: Column name → values ``[n]`` (object arrays: formula, SMILES, source file …).
        source_index: Row of each sample in its source file ``[n]``.
    """

    ids: np.ndarray
    numbers: np.ndarray
    positions: np.ndarray
    offsets: np.ndarray
    lattices: np.ndarray | None
    charges: np.ndarray | None
    targets: dict[str, np.ndarray]
    meta: dict[str, np.ndarray]
    source_index: np.ndarray

    @property
    def periodic(self) -> bool:
        """Whether the samples are crystals."""
        return self.lattices is not None

    def __len__(self) -> int:
        return len(self.ids)

    def site_counts(self) -> np.ndarray:
        """Number of sites of each sample."""
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """For each site, the row of the sample it belongs to."""
        return np.repeat(np.arange(len(self)), self.site_counts())

    def sites(self, row: int) -> SiteArrays:
        """The sites of one sample."""
        start, stop = self.offsets[row], self.offsets[row + 1]
        return SiteArrays(
            self.numbers[start:stop],
            self.positions[start:stop],
            None if self.lattices is None else self.lattices[row],
            0.0 if self.charges is None else float(self.charges[row]),
        )

    def structure(self, row: int) -> Structure | Molecule:
        """The pymatgen object of one sample."""
        sites = self.sites(row)
        return structure_from_arrays(
            sites.numbers.tolist(), sites.positions, lattice=sites.lattice, fractional=True, charge=sites.charge
        )

    def canonical_form(self, row: int) -> dict[str, Any]:
        """:func:`tierbench.structures.canonical.canonical_form` of :meth:`structure`, without building it."""
        sites = self.sites(row)
        symbols = _symbols()
        species = [symbols[number] for number in sites.numbers.tolist()]
        if sites.lattice is not None:
            return canonical_arrays(species, sites.positions, sites.lattice)
        electrons = float(sites.numbers.sum()) - sites.charge  # pymatgen's default spin follows its parity
        spin = 1 if electrons % 2 == 0 else 2
        return canonical_arrays(species, sites.positions, None, charge=sites.charge, spin_multiplicity=spin)

    def take(self, rows: np.ndarray) -> StructureTable:
        """The samples at ``rows`` (in that order) as a new table."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.offsets[rows]
        counts = self.offsets[rows + 1] - starts
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        atoms = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts) + np.repeat(starts, counts)
        return StructureTable(
            ids=self.ids[rows],
            numbers=self.numbers[atoms],
            positions=self.positions[atoms],
            offsets=offsets,
            lattices=None if self.lattices is None else self.lattices[rows],
            charges=None if self.charges is None else self.charges[rows],
            targets={name: values[rows] for name, values in self.targets.items()},
            meta={name: values[rows] for name, values in self.meta.items()},
            source_index=self.source_index[rows],
        )

    def with_targets(self, targets: dict[str, np.ndarray]) -> StructureTable:
        """The same samples with other target columns."""
        return replace(self, targets=targets)


def _object_array(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return array


class TableBuilder:
    """Collects samples one by one (for formats read row by row) and builds a :class:`StructureTable`.

    Target values may be numbers, booleans (a classification hint) or ``None`` (missing).
    """

    def __init__(self, periodic: bool | None = None) -> None:
        self.periodic = periodic
        self._ids: list[str] = []
        self._sites: list[SiteArrays] = []
        self._targets: list[Mapping[str, Any]] = []
        self._meta: list[Mapping[str, Any]] = []
        self._source_index: list[int] = []

    def __len__(self) -> int:
        return len(self._ids)

    def add(
        self,
        source_index: int,
        sample_id: str,
        sites: SiteArrays,
        targets: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Append one sample.

        The first sample fixes whether the table holds crystals or molecules, unless the builder was
        created for one kind.

        Raises:
            InvalidStructureError: ``unparseable`` when the sample's periodicity differs from the table's.
        """
        if self.periodic is None:
            self.periodic = sites.lattice is not None
        if (sites.lattice is not None) != self.periodic:
            kind = "crystal" if sites.lattice is not None else "molecule"
            raise InvalidStructureError(
                f"a {kind} in a table of {'crystals' if self.periodic else 'molecules'}; a dataset holds one kind",
                reason=Reason.UNPARSEABLE,
            )
        self._ids.append(sample_id)
        self._sites.append(sites)
        self._targets.append(targets)
        self._meta.append(meta or {})
        self._source_index.append(source_index)

    def build(self) -> tuple[StructureTable, dict[str, TaskType]]:
        """The table, and ``classification`` hints for targets whose values were booleans."""
        target_names = list(dict.fromkeys(name for row in self._targets for name in row))
        meta_names = list(dict.fromkeys(name for row in self._meta for name in row))
        hints: dict[str, TaskType] = {}
        for name in target_names:
            present = [row[name] for row in self._targets if row.get(name) is not None]
            if present and all(isinstance(value, bool) for value in present):
                hints[name] = "classification"
        targets = {
            name: np.array([_as_float(row.get(name)) for row in self._targets], dtype=float) for name in target_names
        }
        counts = [len(sites.numbers) for sites in self._sites]
        empty_positions = np.zeros((0, 3))
        table = StructureTable(
            ids=_object_array(self._ids),
            numbers=np.concatenate([sites.numbers for sites in self._sites] or [np.zeros(0, np.int16)]).astype(
                np.int16
            ),
            positions=np.concatenate([sites.positions for sites in self._sites] or [empty_positions]).reshape(-1, 3),
            offsets=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
            lattices=np.array([sites.lattice for sites in self._sites], dtype=float).reshape(-1, 3, 3)
            if self.periodic
            else None,
            charges=None if self.periodic else np.array([sites.charge for sites in self._sites], dtype=float),
            targets=targets,
            meta={name: _object_array([row.get(name) for row in self._meta]) for name in meta_names},
            source_index=np.array(self._source_index, dtype=np.int64),
        )
        return table, hints


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)
