"""Motifs of a molecule: every heavy atom with the atoms bonded to it.

Bonds join atoms closer than :data:`BOND_TOLERANCE` times the sum of their covalent radii (Cordero et
al. 2008, as tabulated by pymatgen). Every heavy atom (not H) is a centre; its ligands are all atoms
bonded to it, hydrogens and heavy atoms alike, so a tetrahedral sp3 carbon, a trigonal planar carbonyl
carbon or a pyramidal amine nitrogen is typed by the same shape measures and order parameters as a
coordination polyhedron. Bonded heavy atoms are each other's ligands and bonded centres. A molecule
without heavy atoms (H2) makes every atom a centre.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.analysis.molecule_structure_comparator import CovalentRadius
from pymatgen.core import Element
from scipy.spatial import cKDTree

from tierbench_tiers.motif.crystal_nn import NeighborSet
from tierbench_tiers.motif.environments import Frame, Motif, describe_shape

if TYPE_CHECKING:
    from pymatgen.core import Molecule

BOND_TOLERANCE = 1.25
"""Bond when the distance is below this factor times the sum of covalent radii."""


@cache
def _covalent_radius(symbol: str) -> float:
    radius = CovalentRadius.radius.get(symbol)
    if radius is None:
        radius = Element(symbol).atomic_radius or 1.5
    return float(radius)


def covalent_bonds(molecule: Molecule) -> np.ndarray:
    """Bonded atom pairs ``[B, 2]`` (int64, first index smaller), sorted."""
    radii = np.array([_covalent_radius(site.specie.symbol) for site in molecule])
    coords = molecule.cart_coords
    if len(molecule) < 2:
        return np.empty((0, 2), dtype=np.int64)
    pairs = cKDTree(coords).query_pairs(BOND_TOLERANCE * 2.0 * radii.max(), output_type="ndarray")
    distances = np.linalg.norm(coords[pairs[:, 0]] - coords[pairs[:, 1]], axis=1)
    bonded = pairs[distances < BOND_TOLERANCE * (radii[pairs[:, 0]] + radii[pairs[:, 1]])]
    bonded = np.sort(bonded, axis=1).astype(np.int64)
    return bonded[np.lexsort((bonded[:, 1], bonded[:, 0]))]


def molecule_centres(molecule: Molecule) -> np.ndarray:
    """Site indices of the motif centres: the heavy atoms, or every atom when there is none."""
    heavy = np.array([site.specie.symbol != "H" for site in molecule])
    return np.flatnonzero(heavy) if heavy.any() else np.arange(len(molecule))


def molecule_motifs(molecule: Molecule, frame: Frame) -> list[Motif]:
    """One motif per centre of a molecule, in site order.

    Args:
        molecule: A molecule.
        frame: Its coordinates.

    Returns:
        The motifs.
    """
    bonds = covalent_bonds(molecule)
    centres = molecule_centres(molecule)
    is_centre = np.zeros(len(molecule), dtype=bool)
    is_centre[centres] = True
    both_directions = np.vstack([bonds, bonds[:, ::-1]])
    motifs = []
    for centre in centres.tolist():
        partners = np.sort(both_directions[both_directions[:, 0] == centre, 1])
        ligands = NeighborSet(partners, np.zeros((len(partners), 3), dtype=np.int64))
        bonded = partners[is_centre[partners]]
        bonded_centres = NeighborSet(bonded, np.zeros((len(bonded), 3), dtype=np.int64))
        motifs.append(Motif(centre, ligands, bonded_centres, describe_shape(frame, centre, ligands)))
    return motifs
