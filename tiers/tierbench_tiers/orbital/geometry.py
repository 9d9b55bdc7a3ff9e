"""A crystal or molecule as the orbital backends read it: plain arrays, checked once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tierbench.errors import UnsupportedStructureError
from tierbench.tier import structure_kind
from tierbench_tiers.elements import atomic_numbers

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure


@dataclass(frozen=True)
class Geometry:
    """Atoms, cell, charge and spin of one structure.

    Attributes:
        positions: ``[N, 3]`` Cartesian positions, Å; a crystal's atoms are wrapped into the home cell
            (tblite's lattice sums assume it: unwrapped input changes its results by ~1e-5).
        lattice: ``[3, 3]`` lattice vectors as rows, Å, or ``None`` for a molecule.
        symbols: Element symbol of each site.
        numbers: ``[N]`` atomic numbers.
        charge: Total charge.
        spin_multiplicity: ``2S + 1`` of a molecule; 1 for a crystal (it has no spin state here).
    """

    positions: np.ndarray
    lattice: np.ndarray | None
    symbols: list[str]
    numbers: np.ndarray
    charge: float
    spin_multiplicity: int

    @classmethod
    def of(cls, structure: Structure | Molecule, tier: str) -> Geometry:
        """Read a pymatgen crystal or molecule.

        Raises:
            UnsupportedStructureError: A partially occupied site, or a cell periodic along fewer than
                three axes.
            UnsupportedElementError: A site holds no chemical element.
        """
        numbers = atomic_numbers(structure, tier=tier)
        symbols = [site.specie.symbol for site in structure]
        if structure_kind(structure) == "molecule":
            return cls(
                positions=np.asarray(structure.cart_coords, dtype=np.float64),
                lattice=None,
                symbols=symbols,
                numbers=numbers,
                charge=float(structure.charge),
                spin_multiplicity=int(structure.spin_multiplicity),  # type: ignore[union-attr]
            )
        if not all(structure.lattice.pbc):  # type: ignore[union-attr]
            raise UnsupportedStructureError(
                "the cell is not periodic along all three axes; give a crystal or a molecule", tier=tier
            )
        lattice = np.asarray(structure.lattice.matrix, dtype=np.float64)  # type: ignore[union-attr]
        return cls(
            positions=np.mod(structure.frac_coords, 1.0) @ lattice,  # type: ignore[union-attr]
            lattice=lattice,
            symbols=symbols,
            numbers=numbers,
            charge=float(structure.charge),
            spin_multiplicity=1,
        )

    @property
    def is_crystal(self) -> bool:
        """Whether the structure is periodic."""
        return self.lattice is not None

    def distances(self) -> np.ndarray:
        """``[N, N]`` distances between atoms, Å (the minimum-image ones for a crystal)."""
        if self.lattice is None:
            return np.linalg.norm(self.positions[:, None, :] - self.positions[None, :, :], axis=-1)
        from pymatgen.core import Lattice

        fractional = self.positions @ np.linalg.inv(self.lattice)
        return np.asarray(Lattice(self.lattice).get_all_distances(fractional, fractional))
