"""Crystallographic orbits: analyse one site per orbit, then carry its environment to the others.

spglib finds the space-group operations ``(R, t)`` of the cell and which sites they make equivalent. An
environment found for an orbit's representative ``r`` maps to an equivalent site ``s = R r + t`` by
applying the same operation to every neighbor position and identifying the site (and lattice image)
that lands there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import spglib

from tierbench_tiers.motif.crystal_nn import NeighborSet

if TYPE_CHECKING:
    from pymatgen.core import Structure

MIN_MATCH_TOLERANCE = 1e-3
"""Å. Smallest distance tolerance for identifying a mapped position with a site."""


@dataclass(frozen=True)
class Orbits:
    """Symmetry-equivalent sites and the operation that produces each site from its representative.

    Attributes:
        representative: ``[N]`` index of the orbit representative of each site (itself for a
            representative).
        rotations: ``[N, 3, 3]`` integer rotation in fractional coordinates, per site.
        translations: ``[N, 3]`` translation (lattice part included) with
            ``frac[s] ≈ rotations[s] @ frac[representative[s]] + translations[s]``.
        tolerance: Å, how far a mapped position may lie from the site it is identified with.
        species: ``[N]`` integer label of each site's species (only equal labels can be equivalent).
    """

    representative: np.ndarray
    rotations: np.ndarray
    translations: np.ndarray
    tolerance: float
    species: np.ndarray


def _trivial(species: np.ndarray) -> Orbits:
    count = len(species)
    identity = np.repeat(np.eye(3, dtype=np.int64)[None], count, axis=0)
    return Orbits(np.arange(count), identity, np.zeros((count, 3)), 0.0, species)


def find_orbits(structure: Structure, symprec: float | None) -> Orbits:
    """Group the sites of a crystal into crystallographic orbits.

    Args:
        structure: An ordered crystal.
        symprec: spglib's distance tolerance in Å; ``None`` treats every site as its own orbit.

    Returns:
        The orbits; every site is its own orbit when spglib finds no symmetry dataset.
    """
    names = [site.species_string for site in structure]
    label_of = {name: label for label, name in enumerate(sorted(set(names)))}
    species = np.array([label_of[name] for name in names], dtype=np.int64)
    if symprec is None:
        return _trivial(species)
    count = len(structure)
    frac = structure.frac_coords
    cell = cast("Any", (structure.lattice.matrix, frac, species))  # spglib accepts arrays
    dataset = spglib.get_symmetry_dataset(cell, symprec=symprec)
    if dataset is None:
        return _trivial(species)
    representative = np.asarray(dataset.equivalent_atoms, dtype=np.int64)
    operations_r = np.asarray(dataset.rotations, dtype=np.int64)
    operations_t = np.asarray(dataset.translations, dtype=float)
    images = np.einsum("kij,nj->nki", operations_r, frac[representative]) + operations_t[None]  # [N, K, 3]
    offset = images - frac[:, None, :]
    residual = (offset - np.round(offset)) @ structure.lattice.matrix
    operation = np.argmin(np.linalg.norm(residual, axis=2), axis=1)
    sites = np.arange(count)
    translations = operations_t[operation] - np.round(offset[sites, operation])
    tolerance = max(2.0 * symprec, MIN_MATCH_TOLERANCE)
    return Orbits(representative, operations_r[operation], translations, tolerance, species)


def map_neighbors(structure: Structure, orbits: Orbits, site: int, neighbors: NeighborSet) -> NeighborSet | None:
    """Carry the neighbors of ``site``'s representative over to ``site``.

    Args:
        structure: The crystal the orbits were found in.
        orbits: Its orbits.
        site: The site to map to.
        neighbors: The neighbors of ``orbits.representative[site]``.

    Returns:
        The neighbors of ``site``, or ``None`` when a mapped position matches no site of the same species
        within the tolerance (the environment must then be found directly).
    """
    frac = structure.frac_coords
    mapped = (frac[neighbors.sites] + neighbors.images) @ orbits.rotations[site].T + orbits.translations[site]
    offset = mapped[:, None, :] - frac[None, :, :]  # [k, N, 3]
    distance = np.linalg.norm((offset - np.round(offset)) @ structure.lattice.matrix, axis=2)
    distance[orbits.species[None, :] != orbits.species[neighbors.sites][:, None]] = np.inf
    matched = np.argmin(distance, axis=1)
    rows = np.arange(len(matched))
    if len(matched) and distance[rows, matched].max() > orbits.tolerance:
        return None
    images = np.round(offset[rows, matched]).astype(np.int64)
    return NeighborSet(matched.astype(np.int64), images)
