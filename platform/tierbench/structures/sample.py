"""The sample: what every dataset adapter yields and every tier consumes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Lattice, Molecule, Structure


@dataclass
class Sample:
    """One structure with its labels.

    Attributes:
        id: Identifier, unique within its dataset.
        structure: A periodic ``Structure`` or a ``Molecule``.
        targets: Target name → value, in the unit given by ``units``.
        units: Target name → unit string (shared between samples of a dataset).
        meta: Anything else the source provides (formula, SMILES, source file …).
    """

    id: str
    structure: Structure | Molecule
    targets: dict[str, float] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_periodic(self) -> bool:
        """Whether the structure is a crystal."""
        return isinstance(self.structure, Structure)


def structure_from_arrays(
    species: list[str],
    coords: Any,
    *,
    lattice: Any = None,
    fractional: bool = True,
    charge: float = 0.0,
) -> Structure | Molecule:
    """Build a crystal (``lattice`` given) or a molecule from plain arrays."""
    if lattice is not None:
        return Structure(Lattice(lattice), species, coords, coords_are_cartesian=not fractional)
    return Molecule(species, coords, charge=charge, charge_spin_check=False)
