"""Samples, structure readers and validation.

A :class:`Sample` is what every dataset adapter yields and what every tier consumes. Structures are
validated before any tier sees them, so a bad input gets one specific reason (``reason`` codes below)
instead of an obscure failure deep inside a quantum-chemistry code.

Validation reasons: ``empty``, ``non_finite_coordinates``, ``degenerate_cell``, ``inverted_cell``,
``unknown_element``, ``partial_occupancy``, ``overlapping_atoms``, ``too_many_sites``,
``impossible_charge``, ``unparseable``, ``unsupported_format``.
"""

from __future__ import annotations

import gzip
import io
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element, Lattice, Molecule, Structure

from tierbench.tier import InvalidStructureError

MIN_INTERATOMIC_DISTANCE = 0.5
"""Å. Shorter than any chemical bond (H2: 0.74 Å); closer atoms are a parsing or data error."""

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json")


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


def _invalid(message: str, reason: str) -> InvalidStructureError:
    return InvalidStructureError(message, reason=reason)


def _check_species(structure: Structure | Molecule, allow_partial_occupancy: bool) -> None:
    for index, site in enumerate(structure):
        for species in site.species:
            if not isinstance(getattr(species, "element", species), Element):
                raise _invalid(f"site {index} has unknown element {species!s}", "unknown_element")
        if not allow_partial_occupancy and not site.is_ordered:
            raise _invalid(
                f"site {index} is partially occupied ({site.species.formula}); order the structure first "
                "(e.g. pymatgen OrderDisorderedStructureTransformation)",
                "partial_occupancy",
            )


def _check_cell(structure: Structure) -> None:
    matrix = structure.lattice.matrix
    if not np.all(np.isfinite(matrix)):
        raise _invalid("lattice has NaN or infinite entries", "non_finite_coordinates")
    determinant = float(np.linalg.det(matrix))
    if abs(determinant) < 1e-3:
        raise _invalid(
            f"cell volume is {abs(determinant):.3g} Å³: the lattice vectors are degenerate", "degenerate_cell"
        )
    if determinant < 0:
        raise _invalid(
            "lattice vectors form a left-handed set (negative cell volume); swap two of them", "inverted_cell"
        )


def _minimum_distance(structure: Structure | Molecule, threshold: float) -> tuple[float, int, int] | None:
    """Closest pair of sites (with periodic images) if it is closer than ``threshold``."""
    if isinstance(structure, Structure):
        centres, neighbors, _, distances = structure.get_neighbor_list(threshold)
        # a site's own image at zero distance is itself, never an overlap
        real = distances > 1e-8
        if not np.any(real):
            return None
        closest = int(np.argmin(np.where(real, distances, np.inf)))
        return float(distances[closest]), int(centres[closest]), int(neighbors[closest])
    if len(structure) < 2:
        return None
    coords = structure.cart_coords
    from scipy.spatial import cKDTree

    pairs = cKDTree(coords).query_pairs(threshold, output_type="ndarray")
    if len(pairs) == 0:
        return None
    distances = np.linalg.norm(coords[pairs[:, 0]] - coords[pairs[:, 1]], axis=1)
    closest = int(np.argmin(distances))
    return float(distances[closest]), int(pairs[closest, 0]), int(pairs[closest, 1])


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
        raise _invalid("structure has no sites", "empty")
    if max_sites is not None and len(structure) > max_sites:
        raise _invalid(f"structure has {len(structure)} sites, more than the limit of {max_sites}", "too_many_sites")
    if not np.all(np.isfinite(structure.cart_coords)):
        raise _invalid("coordinates contain NaN or infinite values", "non_finite_coordinates")
    if isinstance(structure, Structure):
        _check_cell(structure)
    _check_species(structure, allow_partial_occupancy)
    if isinstance(structure, Molecule) and structure.nelectrons < 0:
        raise _invalid(f"charge {structure.charge:+g} leaves {structure.nelectrons:g} electrons", "impossible_charge")
    overlap = _minimum_distance(structure, min_distance)
    if overlap is not None:
        distance, first, second = overlap
        raise _invalid(
            f"sites {first} ({structure[first].species_string}) and {second} ({structure[second].species_string}) "
            f"are {distance:.4f} Å apart, closer than the physical minimum of {min_distance} Å",
            "overlapping_atoms",
        )


def _read_text(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as handle:
            return handle.read()
    return path.read_text()


def _structure_suffix(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name in {"poscar", "contcar"} or name.startswith(("poscar", "contcar")):
        return ".poscar"
    return Path(name).suffix


def _from_ase_text(text: str, file_format: str) -> Structure | Molecule:
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = read(io.StringIO(text), format=file_format)
    if any(atoms.pbc):
        return AseAtomsAdaptor.get_structure(atoms)
    charge = atoms.info.get("charge")
    molecule = AseAtomsAdaptor.get_molecule(atoms, charge_spin_check=False)
    if charge is not None:
        molecule.set_charge_and_spin(float(charge))
    return molecule


def _parse(text: str, suffix: str) -> Structure | Molecule:
    if suffix == ".cif":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_str(text, fmt="cif")
    if suffix in {".vasp", ".poscar"}:
        return Structure.from_str(text, fmt="poscar")
    if suffix in {".xyz", ".extxyz"}:
        return _from_ase_text(text, "extxyz")
    if suffix == ".json":
        payload = json.loads(text)
        return (Structure if "lattice" in payload else Molecule).from_dict(payload)
    raise _invalid(
        f"unsupported structure format {suffix!r}; use one of {', '.join(STRUCTURE_SUFFIXES)}", "unsupported_format"
    )


def read_structure(path: str | Path) -> Structure | Molecule:
    """Read a CIF, POSCAR, xyz/extxyz or pymatgen-JSON file (optionally gzipped).

    Args:
        path: File path; the format comes from the suffix (``POSCAR``/``CONTCAR`` by name).

    Returns:
        A ``Structure`` for periodic input, else a ``Molecule``. The result is not yet validated.

    Raises:
        InvalidStructureError: ``unsupported_format`` or ``unparseable`` with the parser's message.
        FileNotFoundError: The path does not exist.
    """
    path = Path(path)
    suffix = _structure_suffix(path)
    text = _read_text(path)
    if suffix not in STRUCTURE_SUFFIXES:
        raise _invalid(
            f"{path.name}: unsupported structure format {suffix!r}; use one of {', '.join(STRUCTURE_SUFFIXES)}",
            "unsupported_format",
        )
    if not text.strip():
        raise _invalid(f"{path.name}: file is empty", "unparseable")
    try:
        return _parse(text, suffix)
    except InvalidStructureError:
        raise
    except Exception as error:  # every parser raises its own types; the reason code unifies them
        raise _invalid(f"{path.name}: cannot parse as {suffix.lstrip('.')}: {error}", "unparseable") from error


def load_valid_structure(path: str | Path, **validation: Any) -> Structure | Molecule:
    """Read a structure file and validate it (see :func:`validate_structure` for the keywords)."""
    structure = read_structure(path)
    validate_structure(structure, **validation)
    return structure


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


def canonical_form(structure: Structure | Molecule, decimals: int = 6) -> dict[str, Any]:
    """A JSON-able description of the structure, exact to ``decimals``, that keys the graph cache.

    Site order is kept (graphs refer to sites by index); fractional coordinates are wrapped into
    ``[0, 1)`` so equivalent periodic images share a key.
    """
    species = [site.species_string for site in structure]
    if isinstance(structure, Structure):
        fractional = np.round(np.mod(structure.frac_coords, 1.0), decimals) % 1.0
        return {
            "kind": "crystal",
            "lattice": np.round(structure.lattice.matrix, decimals).tolist(),
            "species": species,
            "frac_coords": (fractional + 0.0).tolist(),
        }
    return {
        "kind": "molecule",
        "species": species,
        "coords": (np.round(structure.cart_coords, decimals) + 0.0).tolist(),
        "charge": float(structure.charge),
        "spin_multiplicity": int(structure.spin_multiplicity),
    }
