"""Motifs of a crystal: each centre's coordination environment, typed by shape and order parameters.

A centre's neighbors are the ones CrystalNN selects (:mod:`.crystal_nn`); its **ligands** are those
neighbors that are ligand sites (:mod:`.roles`), and its neighbors that are themselves centres count as
**bonded centres** (metal–metal bonds). The geometry label and shape measure (:mod:`.shapes`) and the
order-parameter fingerprint (:mod:`.order_parameters`) describe the centre plus its ligands.

Symmetry: the environment is found once per crystallographic orbit (:mod:`.symmetry`) and carried to
the equivalent sites; the geometry label, shape measure and fingerprint of an orbit are its
representative's. A site whose mapped environment does not land on atoms is analysed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from tierbench_tiers.motif.crystal_nn import NeighborSet, crystal_nn_neighbors
from tierbench_tiers.motif.order_parameters import order_parameter_fingerprint
from tierbench_tiers.motif.shapes import match_shape
from tierbench_tiers.motif.symmetry import find_orbits, map_neighbors

if TYPE_CHECKING:
    from pymatgen.core import Molecule

    from tierbench_tiers.motif.roles import Roles


@dataclass(frozen=True)
class Shape:
    """Shape descriptors of a centre and its ligands.

    Attributes:
        geometry: Geometry label from :data:`~.labels.GEOMETRY_TYPES` (ChemEnv symbol, ``"none"`` or
            ``"other"``).
        shape_measure: Continuous shape measure against that geometry (0 ideal … 100), NaN without one.
        fingerprint: Order-parameter fingerprint (:data:`~.labels.FINGERPRINT_LABELS`).
    """

    geometry: str
    shape_measure: float
    fingerprint: np.ndarray


@dataclass(frozen=True)
class Motif:
    """A centre with its ligands.

    Attributes:
        centre: Site index of the centre.
        ligands: Ligand sites and their lattice images relative to the centre's cell (images are zero
            for molecules).
        bonded_centres: Other centres bonded to this one directly, with their images.
        shape: Geometry label, shape measure and order-parameter fingerprint.
    """

    centre: int
    ligands: NeighborSet
    bonded_centres: NeighborSet
    shape: Shape


@dataclass(frozen=True)
class Frame:
    """Coordinates and element symbols of a crystal or molecule, read out of pymatgen once.

    Attributes:
        symbols: Element symbol of each site.
        cart: ``[N, 3]`` Cartesian coordinates (Å).
        frac: ``[N, 3]`` fractional coordinates as given (not wrapped); ``None`` for a molecule.
        lattice: ``[3, 3]`` lattice vectors as rows (Å); ``None`` for a molecule.
    """

    symbols: tuple[str, ...]
    cart: np.ndarray
    frac: np.ndarray | None
    lattice: np.ndarray | None

    @classmethod
    def of(cls, structure: Structure | Molecule) -> Frame:
        """Read a crystal or molecule."""
        symbols = tuple(site.specie.symbol for site in structure)
        if not isinstance(structure, Structure):
            return cls(symbols, structure.cart_coords, None, None)
        frac = structure.frac_coords
        return cls(symbols, frac @ structure.lattice.matrix, frac, structure.lattice.matrix)

    def positions(self, sites: np.ndarray, images: np.ndarray) -> np.ndarray:
        """``[k, 3]`` Cartesian positions of sites in lattice images (a molecule ignores the images)."""
        if self.frac is None or self.lattice is None:
            return self.cart[sites]
        return (self.frac[sites] + images) @ self.lattice

    def position(self, site: int) -> np.ndarray:
        """Cartesian position of one site in its own cell."""
        return self.cart[site]


def describe_shape(frame: Frame, centre: int, ligands: NeighborSet) -> Shape:
    """Geometry label, shape measure and order-parameter fingerprint of one environment.

    Args:
        frame: Coordinates of the crystal or molecule.
        centre: Site index of the centre.
        ligands: Its ligands.

    Returns:
        The shape descriptors.
    """
    centre_position = frame.position(centre)
    positions = frame.positions(ligands.sites, ligands.images)
    match = match_shape(centre_position, positions)
    species = [frame.symbols[centre]] + [frame.symbols[site] for site in ligands.sites.tolist()]
    fingerprint = order_parameter_fingerprint(species, np.vstack([centre_position, positions]))
    measure = match.measures.get(match.geometry, float("nan"))
    return Shape(match.geometry, measure, fingerprint)


def split_neighbors(neighbors: NeighborSet, is_ligand: np.ndarray) -> tuple[NeighborSet, NeighborSet]:
    """Split a neighbor set into ligands and bonded centres."""
    ligand = is_ligand[neighbors.sites]
    return (
        NeighborSet(neighbors.sites[ligand], neighbors.images[ligand]),
        NeighborSet(neighbors.sites[~ligand], neighbors.images[~ligand]),
    )


def crystal_motifs(structure: Structure, frame: Frame, roles: Roles, symprec: float | None) -> list[Motif]:
    """One motif per centre site of a crystal, in site order.

    Args:
        structure: An ordered crystal.
        frame: Its coordinates.
        roles: Its centre and ligand sites.
        symprec: Symmetry tolerance (Å) for the orbit reduction; ``None`` analyses every centre.

    Returns:
        The motifs.
    """
    centres = np.flatnonzero(~roles.is_ligand)
    orbits = find_orbits(structure, symprec)
    representatives = sorted({int(orbits.representative[centre]) for centre in centres})
    neighbors = crystal_nn_neighbors(structure, representatives)
    shapes: dict[int, Shape] = {}
    for representative in representatives:
        ligands, _ = split_neighbors(neighbors[representative], roles.is_ligand)
        shapes[representative] = describe_shape(frame, representative, ligands)
    motifs = []
    for centre in centres.tolist():
        representative = int(orbits.representative[centre])
        mapped = neighbors[centre] if centre == representative else None
        if mapped is None:
            mapped = map_neighbors(structure, orbits, centre, neighbors[representative])
        shape = shapes[representative]
        if mapped is None:  # equivalent only within the tolerance: analyse on its own
            mapped = crystal_nn_neighbors(structure, [centre])[centre]
            shape = describe_shape(frame, centre, split_neighbors(mapped, roles.is_ligand)[0])
        ligands, bonded = split_neighbors(mapped, roles.is_ligand)
        motifs.append(Motif(centre, ligands, bonded, shape))
    return motifs
