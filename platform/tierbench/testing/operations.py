"""Operations that must not change a tier's graph: site permutation, rotation, translation and wrapping.

Each returns a new structure; the input is never changed. Sites keep their order except under
:func:`permuted`, whose ``permutation`` is then the ``second_site_of_atom`` argument of
:func:`tierbench.testing.assert_same_graph`.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Lattice, Molecule, Structure


def random_rotation(seed: int) -> np.ndarray:
    """A proper rotation matrix (determinant +1), uniformly random and reproducible from ``seed``."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def rotated(structure: Structure | Molecule, rotation: np.ndarray) -> Structure | Molecule:
    """The structure rotated by ``rotation`` (a crystal's lattice rotates; its fractional coordinates stay)."""
    if isinstance(structure, Structure):
        return Structure(Lattice(structure.lattice.matrix @ rotation.T), structure.species, structure.frac_coords)
    return Molecule(structure.species, structure.cart_coords @ rotation.T, charge=structure.charge)


def translated(structure: Structure | Molecule, shift: np.ndarray) -> Structure | Molecule:
    """The structure translated by ``shift``: fractional, wrapped into the cell (crystals); 10 × it in Å (molecules)."""
    if isinstance(structure, Structure):
        return Structure(structure.lattice, structure.species, np.mod(structure.frac_coords + shift, 1.0))
    return Molecule(structure.species, structure.cart_coords + shift * 10, charge=structure.charge)


def permuted(structure: Structure | Molecule, permutation: np.ndarray) -> Structure | Molecule:
    """The structure with its sites reordered: site ``i`` of the result is site ``permutation[i]`` of the input."""
    species = [structure[int(i)].species for i in permutation]
    if isinstance(structure, Structure):
        return Structure(structure.lattice, species, structure.frac_coords[permutation])
    return Molecule(species, structure.cart_coords[permutation], charge=structure.charge)


def unwrapped(structure: Structure, shifts: np.ndarray) -> Structure:
    """The crystal with each site moved by whole lattice vectors (``shifts``, ``[N, 3]`` integers): the same crystal."""
    return Structure(structure.lattice, structure.species, structure.frac_coords + shifts)
