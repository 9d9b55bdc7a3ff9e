"""A compact, cheaply pickled form of a structure for shipping to workers."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pymatgen.core import Lattice, Molecule, Structure


class CompactStructure(NamedTuple):
    """Species, coordinates (fractional for crystals, Cartesian Å for molecules) and cell or charge."""

    species: tuple[str, ...]
    coords: np.ndarray
    lattice: np.ndarray | None
    charge: float
    spin_multiplicity: int | None


def compact(structure: Structure | Molecule) -> CompactStructure:
    """Pack a structure (site properties are not carried: tiers read species and positions only)."""
    species = tuple(site.species_string for site in structure)
    if isinstance(structure, Structure):
        return CompactStructure(species, structure.frac_coords, structure.lattice.matrix, 0.0, None)
    return CompactStructure(
        species, structure.cart_coords, None, float(structure.charge), int(structure.spin_multiplicity)
    )


def expand(packed: CompactStructure) -> Structure | Molecule:
    """Rebuild the structure exactly (same site order and coordinates)."""
    if packed.lattice is not None:
        return Structure(Lattice(packed.lattice), list(packed.species), packed.coords)
    return Molecule(
        list(packed.species),
        packed.coords,
        charge=packed.charge,
        spin_multiplicity=packed.spin_multiplicity,
        charge_spin_check=False,
    )
