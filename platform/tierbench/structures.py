"""Samples, structure readers and validation.

A :class:`Sample` is what every dataset adapter yields and what every tier consumes. Structures are
validated before any tier sees them, so a bad input gets one specific reason (``reason`` codes below)
instead of an obscure failure deep inside a quantum-chemistry code.

Validation reasons: ``empty``, ``non_finite_coordinates``, ``degenerate_cell``, ``inverted_cell``,
``enormous_structure``, ``unknown_element``, ``partial_occupancy``, ``overlapping_atoms``,
``too_many_sites``, ``impossible_charge``, ``unparseable``, ``unsupported_format``.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import math
import re
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Element, Lattice, Molecule, Structure

from tierbench.tier import InvalidStructureError

MIN_INTERATOMIC_DISTANCE = 0.5
"""Å. Shorter than any chemical bond (H2: 0.74 Å); closer atoms are a parsing or data error."""

MAX_EXTENT = 1000.0
"""Å. Longest lattice vector of a crystal, widest span of a molecule's atoms. Larger numbers are unit or
data errors (the largest cells of materials databases are a few hundred Å), and neighbor searches over
them need memory that grows with the volume."""

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json")
CIF_CELL_KEYS = tuple(f"_cell_{name}" for name in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta"))
CIF_CELL_KEYS += ("_cell_angle_gamma",)
CIF_COORDINATE_KEYS = tuple(f"_atom_site_{kind}_{axis}" for kind in ("fract", "Cartn") for axis in "xyz")
CIF_UNCERTAINTY = re.compile(r"\(\d+\)$")


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
    lengths = np.linalg.norm(matrix, axis=1)
    if lengths.max() > MAX_EXTENT:
        axis = "abc"[int(np.argmax(lengths))]
        raise _invalid(
            f"lattice vector {axis} is {lengths.max():.4g} Å long, beyond the {MAX_EXTENT:g} Å of any real cell "
            "(a unit or data error?)",
            "enormous_structure",
        )
    determinant = float(np.linalg.det(matrix))
    if abs(determinant) < 1e-3:
        raise _invalid(
            f"cell volume is {abs(determinant):.3g} Å³: the lattice vectors are degenerate", "degenerate_cell"
        )
    if determinant < 0:
        raise _invalid(
            "lattice vectors form a left-handed set (negative cell volume); swap two of them", "inverted_cell"
        )


def _check_extent(molecule: Molecule) -> None:
    span = np.ptp(molecule.cart_coords, axis=0).max()
    if span > MAX_EXTENT:
        raise _invalid(
            f"the atoms span {span:.4g} Å, beyond the {MAX_EXTENT:g} Å of any real molecule (a unit or data error?)",
            "enormous_structure",
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
        raise _invalid("structure has no sites", "empty")
    if max_sites is not None and len(structure) > max_sites:
        raise _invalid(f"structure has {len(structure)} sites, more than the limit of {max_sites}", "too_many_sites")
    if not np.all(np.isfinite(structure.cart_coords)):
        raise _invalid("coordinates contain NaN or infinite values", "non_finite_coordinates")
    if isinstance(structure, Structure):
        _check_cell(structure)
    else:
        _check_extent(structure)
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
    from ase import Atoms
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = read(io.StringIO(text), format=file_format, index=0)
    if not isinstance(atoms, Atoms):
        raise _invalid(f"cannot parse as {file_format}: no frame found", "unparseable")
    if any(atoms.pbc):
        return AseAtomsAdaptor.get_structure(atoms)
    charge = atoms.info.get("charge")
    molecule = AseAtomsAdaptor.get_molecule(atoms, charge_spin_check=False)
    if charge is not None:
        molecule.set_charge_and_spin(float(charge))
    return molecule


def plain_structure_dict(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A pymatgen ``as_dict()`` payload without site and structure properties, safe to ``from_dict``.

    pymatgen decodes site properties with monty, which imports whatever module an ``@module`` key names
    and calls its classes: from an untrusted file, that runs code. Tiers read elements and positions only.
    """
    sites = [{key: value for key, value in site.items() if key != "properties"} for site in payload.get("sites", [])]
    return {**{key: value for key, value in payload.items() if key != "properties"}, "sites": sites}


def _cif_number(text: str) -> float | None:
    try:
        return float(CIF_UNCERTAINTY.sub("", text.strip()))
    except ValueError:
        return None


def _cif_values(block: dict[str, Any], keys: tuple[str, ...]) -> list[float | None]:
    found: list[float | None] = []
    for key in keys:
        value = block.get(key, [])
        found.extend(_cif_number(item) for item in ([value] if isinstance(value, str) else value))
    return found


def _cif_failure(parser: Any, issues: list[str], error: Exception) -> InvalidStructureError:
    """The most specific reason why a CIF gave no structure (pymatgen's own ``issues`` otherwise)."""
    blocks = parser.as_dict()
    if not blocks:
        return _invalid("cannot parse as cif: no data block (a 'data_' line and its items) found", "unparseable")
    for block in blocks.values():
        numbers = _cif_values(block, CIF_CELL_KEYS + CIF_COORDINATE_KEYS)
        if any(number is not None and not math.isfinite(number) for number in numbers):
            return _invalid("the cell or the atom coordinates contain NaN or infinite values", "non_finite_coordinates")
        cell = _cif_values(block, CIF_CELL_KEYS)
        if len(cell) == len(CIF_CELL_KEYS) and all(value is not None for value in cell):
            a, b, c, *angles = (float(value) for value in cell if value is not None)
            cosines = [math.cos(math.radians(angle)) for angle in angles]
            squared = 1 - sum(cosine**2 for cosine in cosines) + 2 * math.prod(cosines)
            if abs(a * b * c) * math.sqrt(max(squared, 0.0)) < 1e-3:
                names = [key.removeprefix("_cell_") for key in CIF_CELL_KEYS]
                values = ", ".join(f"{name}={value:g}" for name, value in zip(names, cell, strict=True))
                return _invalid(f"the cell parameters ({values}) enclose no volume", "degenerate_cell")
    explanation = " ".join(" ".join(dict.fromkeys(issues)).split()) or f"{type(error).__name__}: {error}"
    return _invalid(f"cannot parse as cif: {explanation}", "unparseable")


def _parse_cif(text: str) -> Structure:
    """The one structure of a CIF (as ``Structure.from_str(text, fmt="cif")`` reads it), or why not."""
    from pymatgen.io.cif import CifParser

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parser = CifParser.from_str(text)
        try:
            structures = parser.parse_structures(primitive=False)
        except Exception as error:  # pymatgen raises many types; the diagnosis names the cause
            issues = [*getattr(parser, "warnings", []), *(str(warning.message) for warning in caught)]
            raise _cif_failure(parser, issues, error) from error
    if len(structures) > 1:
        raise _invalid(f"holds {len(structures)} structures (data blocks); give one per file", "unparseable")
    dropped = [str(warning.message) for warning in caught if "Missing elements" in str(warning.message)]
    if dropped:  # pymatgen skipped sites it could not use (e.g. a negative occupancy)
        raise _invalid(f"sites were dropped while parsing: {' '.join(dropped)}", "unparseable")
    return structures[0]


def _parse(text: str, suffix: str) -> Structure | Molecule:
    if suffix == ".cif":
        return _parse_cif(text)
    if suffix in {".vasp", ".poscar"}:
        return Structure.from_str(text, fmt="poscar")
    if suffix in {".xyz", ".extxyz"}:
        return _from_ase_text(text, "extxyz")
    if suffix == ".json":
        payload = json.loads(text)
        return (Structure if "lattice" in payload else Molecule).from_dict(plain_structure_dict(payload))
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
    try:
        text = _read_text(path)
    except (UnicodeDecodeError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise _invalid(f"{path.name}: not a readable text file ({error})", "unparseable") from error
    if suffix not in STRUCTURE_SUFFIXES:
        raise _invalid(
            f"{path.name}: unsupported structure format {suffix!r}; use one of {', '.join(STRUCTURE_SUFFIXES)}",
            "unsupported_format",
        )
    if not text.strip():
        raise _invalid(f"{path.name}: file is empty", "unparseable")
    try:
        return _parse(text, suffix)
    except InvalidStructureError as error:
        raise _invalid(f"{path.name}: {error}", error.reason) from error
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
