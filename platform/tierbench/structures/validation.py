"""Structure validation: every bad input gets one specific :class:`~tierbench.errors.Reason`.

Structures are validated before any tier sees them, so a bad input gets one specific reason (codes
below) instead of an obscure failure deep inside a quantum-chemistry code.

Validation reasons: ``empty``, ``non_finite_coordinates``, ``degenerate_cell``, ``inverted_cell``,
``enormous_structure``, ``unknown_element``, ``partial_occupancy``, ``overlapping_atoms``,
``too_many_sites``, ``impossible_charge``, ``unparseable``, ``unsupported_format``.
"""

from __future__ import annotations

import itertools

import numpy as np
from pymatgen.core import Element, Molecule, Structure

from tierbench.errors import InvalidStructureError, Reason

MIN_INTERATOMIC_DISTANCE = 0.5
"""Å. Shorter than any chemical bond (H2: 0.74 Å); closer atoms are a parsing or data error."""

MAX_EXTENT = 1000.0
"""Å. Longest lattice vector of a crystal, widest span of a molecule's atoms. Larger numbers are unit or
data errors (the largest cells of materials databases are a few hundred Å), and neighbor searches over
them need memory that grows with the volume."""


def _check_species(structure: Structure | Molecule, allow_partial_occupancy: bool) -> None:
    for index, site in enumerate(structure):
        for species in site.species:
            if not isinstance(getattr(species, "element", species), Element):
                raise InvalidStructureError(
                    f"site {index} has unknown element {species!s}", reason=Reason.UNKNOWN_ELEMENT
                )
        if not allow_partial_occupancy and not site.is_ordered:
            raise InvalidStructureError(
                f"site {index} is partially occupied ({site.species.formula}); order the structure first "
                "(e.g. pymatgen OrderDisorderedStructureTransformation)",
                reason=Reason.PARTIAL_OCCUPANCY,
            )


def _check_cell(structure: Structure) -> None:
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        raise InvalidStructureError("lattice has NaN or infinite entries", reason=Reason.NON_FINITE_COORDINATES)
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.max() > MAX_EXTENT:
        axis = "abc"[int(np.argmax(lengths))]
        raise InvalidStructureError(
            f"lattice vector {axis} is {lengths.max():.4g} Å long, beyond the {MAX_EXTENT:g} Å of any real cell "
            "(a unit or data error?)",
            reason=Reason.ENORMOUS_STRUCTURE,
        )
    determinant = float(np.linalg.det(matrix))
    if abs(determinant) < 1e-3:
        raise InvalidStructureError(
            f"cell volume is {abs(determinant):.3g} Å³: the lattice vectors are degenerate",
            reason=Reason.DEGENERATE_CELL,
        )
    if determinant < 0:
        raise InvalidStructureError(
            "lattice vectors form a left-handed set (negative cell volume); swap two of them",
            reason=Reason.INVERTED_CELL,
        )


def _check_extent(molecule: Molecule) -> None:
    span = np.ptp(molecule.cart_coords, axis=0).max()
    if span > MAX_EXTENT:
        raise InvalidStructureError(
            f"the atoms span {span:.4g} Å, beyond the {MAX_EXTENT:g} Å of any real molecule (a unit or data error?)",
            reason=Reason.ENORMOUS_STRUCTURE,
        )


def _closest_pair(points: np.ndarray, owners: np.ndarray, threshold: float) -> tuple[float, int, int] | None:
    from scipy.spatial import cKDTree

    pairs = cKDTree(points).query_pairs(threshold, output_type="ndarray")
    if len(pairs) == 0:
        return None
    distances = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    closest = int(np.argmin(distances))
    first, second = sorted((int(owners[pairs[closest, 0]]), int(owners[pairs[closest, 1]])))
    return float(distances[closest]), first, second


def _periodic_closest_pair(structure: Structure, threshold: float) -> tuple[float, int, int] | None:
    """Closest pair of sites or images, at a cost independent of the cell's volume.

    When every interplanar spacing is at least ``threshold``, a pair closer than it lies between a site of
    the cell and a site of the cell or of one of its 26 neighbors. Thinner cells go to pymatgen.
    """
    matrix = structure.lattice.matrix
    if (1.0 / np.linalg.norm(np.linalg.inv(matrix), axis=0)).min() < threshold:
        centres, neighbors, _, distances = structure.get_neighbor_list(threshold)
        # a site's own image at zero distance is itself, never an overlap
        real = distances > 1e-8
        if not np.any(real):
            return None
        closest = int(np.argmin(np.where(real, distances, np.inf)))
        return float(distances[closest]), int(centres[closest]), int(neighbors[closest])
    shifts = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=3)))
    fractional = np.mod(structure.frac_coords, 1.0)
    points = (fractional[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ matrix
    return _closest_pair(points, np.tile(np.arange(len(structure)), len(shifts)), threshold)


def _minimum_distance(structure: Structure | Molecule, threshold: float) -> tuple[float, int, int] | None:
    """Closest pair of sites (with periodic images) if it is closer than ``threshold``."""
    if isinstance(structure, Structure):
        return _periodic_closest_pair(structure, threshold)
    if len(structure) < 2:
        return None
    return _closest_pair(structure.cart_coords, np.arange(len(structure)), threshold)


def validate_structure(
    structure: Structure | Molecule,
    *,
    min_distance: float = MIN_INTERATOMIC_DISTANCE,
    max_sites: int | None = None,
    allow_partial_occupancy: bool = False,
) -> None:
    """Reject a structure that no tier should see.

    Args:
        structure: Crystal or molecule.
        min_distance: Closest allowed approach of two atoms, in Å.
        max_sites: Largest number of sites accepted (``None``: no limit).
        allow_partial_occupancy: Accept disordered sites.

    Raises:
        InvalidStructureError: With ``reason`` set to one of the module's reason codes.
    """
    if len(structure) == 0:
        raise InvalidStructureError("structure has no sites", reason=Reason.EMPTY)
    if max_sites is not None and len(structure) > max_sites:
        raise InvalidStructureError(
            f"structure has {len(structure)} sites, more than the limit of {max_sites}", reason=Reason.TOO_MANY_SITES
        )
    if not np.all(np.isfinite(structure.cart_coords)):
        raise InvalidStructureError("coordinates contain NaN or infinite values", reason=Reason.NON_FINITE_COORDINATES)
    if isinstance(structure, Structure):
        _check_cell(structure)
    else:
        _check_extent(structure)
    _check_species(structure, allow_partial_occupancy)
    if isinstance(structure, Molecule) and structure.nelectrons < 0:
        raise InvalidStructureError(
            f"charge {structure.charge:+g} leaves {structure.nelectrons:g} electrons", reason=Reason.IMPOSSIBLE_CHARGE
        )
    overlap = _minimum_distance(structure, min_distance)
    if overlap is not None:
        distance, first, second = overlap
        raise InvalidStructureError(
            f"sites {first} ({structure[first].species_string}) and {second} ({structure[second].species_string}) "
            f"are {distance:.4f} Å apart, closer than the physical minimum of {min_distance} Å",
            reason=Reason.OVERLAPPING_ATOMS,
        )
