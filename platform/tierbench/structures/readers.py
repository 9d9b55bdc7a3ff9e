"""Reading structures from files: CIF (with specific diagnoses of broken files), POSCAR, xyz, JSON.

Every reader failure becomes an :class:`~tierbench.errors.InvalidStructureError` with a reason code.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pymatgen.core import Molecule, Structure

from tierbench.errors import InvalidStructureError, Reason
from tierbench.structures.validation import validate_structure

STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json")
CIF_CELL_KEYS = tuple(f"_cell_{name}" for name in ("length_a", "length_b", "length_c", "angle_alpha", "angle_beta"))
CIF_CELL_KEYS += ("_cell_angle_gamma",)
CIF_COORDINATE_KEYS = tuple(f"_atom_site_{kind}_{axis}" for kind in ("fract", "Cartn") for axis in "xyz")
CIF_UNCERTAINTY = re.compile(r"\(\d+\)$")


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
        raise InvalidStructureError(f"cannot parse as {file_format}: no frame found", reason=Reason.UNPARSEABLE)
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
        return InvalidStructureError(
            "cannot parse as cif: no data block (a 'data_' line and its items) found", reason=Reason.UNPARSEABLE
        )
    for block in blocks.values():
        numbers = _cif_values(block, CIF_CELL_KEYS + CIF_COORDINATE_KEYS)
        if any(number is not None and not math.isfinite(number) for number in numbers):
            return InvalidStructureError(
                "the cell or the atom coordinates contain NaN or infinite values", reason=Reason.NON_FINITE_COORDINATES
            )
        cell = _cif_values(block, CIF_CELL_KEYS)
        if len(cell) == len(CIF_CELL_KEYS) and all(value is not None for value in cell):
            a, b, c, *angles = (float(value) for value in cell if value is not None)
            cosines = [math.cos(math.radians(angle)) for angle in angles]
            squared = 1 - sum(cosine**2 for cosine in cosines) + 2 * math.prod(cosines)
            if abs(a * b * c) * math.sqrt(max(squared, 0.0)) < 1e-3:
                names = [key.removeprefix("_cell_") for key in CIF_CELL_KEYS]
                values = ", ".join(f"{name}={value:g}" for name, value in zip(names, cell, strict=True))
                return InvalidStructureError(
                    f"the cell parameters ({values}) enclose no volume", reason=Reason.DEGENERATE_CELL
                )
    explanation = " ".join(" ".join(dict.fromkeys(issues)).split()) or f"{type(error).__name__}: {error}"
    return InvalidStructureError(f"cannot parse as cif: {explanation}", reason=Reason.UNPARSEABLE)


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
        raise InvalidStructureError(
            f"holds {len(structures)} structures (data blocks); give one per file", reason=Reason.UNPARSEABLE
        )
    dropped = [str(warning.message) for warning in caught if "Missing elements" in str(warning.message)]
    if dropped:  # pymatgen skipped sites it could not use (e.g. a negative occupancy)
        raise InvalidStructureError(f"sites were dropped while parsing: {' '.join(dropped)}", reason=Reason.UNPARSEABLE)
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
    raise InvalidStructureError(
        f"unsupported structure format {suffix!r}; use one of {', '.join(STRUCTURE_SUFFIXES)}",
        reason=Reason.UNSUPPORTED_FORMAT,
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
        raise InvalidStructureError(
            f"{path.name}: not a readable text file ({error})", reason=Reason.UNPARSEABLE
        ) from error
    if suffix not in STRUCTURE_SUFFIXES:
        raise InvalidStructureError(
            f"{path.name}: unsupported structure format {suffix!r}; use one of {', '.join(STRUCTURE_SUFFIXES)}",
            reason=Reason.UNSUPPORTED_FORMAT,
        )
    if not text.strip():
        raise InvalidStructureError(f"{path.name}: file is empty", reason=Reason.UNPARSEABLE)
    try:
        return _parse(text, suffix)
    except InvalidStructureError as error:
        raise InvalidStructureError(f"{path.name}: {error}", reason=error.reason) from error
    except Exception as error:  # every parser raises its own types; the reason code unifies them
        raise InvalidStructureError(
            f"{path.name}: cannot parse as {suffix.lstrip('.')}: {error}", reason=Reason.UNPARSEABLE
        ) from error


def load_valid_structure(path: str | Path, **validation: Any) -> Structure | Molecule:
    """Read a structure file and validate it (see :func:`validate_structure` for the keywords)."""
    structure = read_structure(path)
    validate_structure(structure, **validation)
    return structure
