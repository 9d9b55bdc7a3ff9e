"""The canonical form of a structure: what keys its graphs in the cache.

Two structures with the same species, site order and coordinates (to ``decimals``) share a key, whether
they come as pymatgen objects or as the arrays of a dataset table; periodic images of a site share one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pymatgen.core import Molecule, Structure

DECIMALS = 6


def canonical_form(structure: Structure | Molecule, decimals: int = DECIMALS) -> dict[str, Any]:
    """A JSON-able description of the structure, exact to ``decimals``, that keys the graph cache.

    Site order is kept (graphs refer to sites by index); fractional coordinates are wrapped into
    ``[0, 1)`` so equivalent periodic images share a key.
    """
    species = [site.species_string for site in structure]
    if isinstance(structure, Structure):
        return canonical_arrays(species, structure.frac_coords, structure.lattice.matrix, decimals=decimals)
    return canonical_arrays(
        species,
        structure.cart_coords,
        None,
        charge=float(structure.charge),
        spin_multiplicity=int(structure.spin_multiplicity),
        decimals=decimals,
    )


def canonical_arrays(
    species: Sequence[str],
    coords: np.ndarray,
    lattice: np.ndarray | None,
    *,
    charge: float = 0.0,
    spin_multiplicity: int = 1,
    decimals: int = DECIMALS,
) -> dict[str, Any]:
    """The canonical form from plain arrays, equal to :func:`canonical_form` of the same structure.

    Args:
        species: Species strings of the sites (``"Ti"``, or ``"Ti4+"`` with an oxidation state).
        coords: Fractional coordinates of a crystal, Cartesian coordinates (Å) of a molecule.
        lattice: The crystal's lattice matrix (rows a, b, c; Å), ``None`` for a molecule.
        charge: A molecule's charge.
        spin_multiplicity: A molecule's spin multiplicity.
        decimals: Decimals kept of every coordinate.
    """
    if lattice is not None:
        fractional = np.round(np.mod(coords, 1.0), decimals) % 1.0
        return {
            "kind": "crystal",
            "lattice": np.round(lattice, decimals).tolist(),
            "species": list(species),
            "frac_coords": (fractional + 0.0).tolist(),
        }
    return {
        "kind": "molecule",
        "species": list(species),
        "coords": (np.round(coords, decimals) + 0.0).tolist(),
        "charge": float(charge),
        "spin_multiplicity": int(spin_multiplicity),
    }
