"""Structure readers and validation: every bad input gets its own reason."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Molecule, Structure
from pymatgen.core.periodic_table import DummySpecies

from tierbench.structures.canonical import canonical_form
from tierbench.structures.readers import load_valid_structure, read_structure
from tierbench.structures.validation import validate_structure
from tierbench.testing import reference as reference_structures
from tierbench.tier import InvalidStructureError


def _reason(structure, **kwargs) -> str:
    with pytest.raises(InvalidStructureError) as raised:
        validate_structure(structure, **kwargs)
    return raised.value.reason


@pytest.mark.parametrize("make", [*reference_structures.CRYSTALS.values(), *reference_structures.MOLECULES.values()])
def test_reference_structures_are_valid(make) -> None:
    validate_structure(make())


def test_overlapping_atoms_that_pymatgen_accepts_are_rejected() -> None:
    lattice = Lattice.cubic(4.0)
    overlapping = Structure(lattice, ["Na", "Cl", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5001]])
    with pytest.raises(InvalidStructureError, match=r"sites 1 \(Cl\) and 2 \(Cl\) are 0.0004 Å apart"):
        validate_structure(overlapping)


def test_overlap_across_the_periodic_boundary_is_found() -> None:
    structure = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0.0, 0, 0], [0.99, 0, 0]])
    assert _reason(structure) == "overlapping_atoms"


def test_atom_too_close_to_its_own_image_is_found() -> None:
    assert _reason(Structure(Lattice.cubic(0.3), ["H"], [[0, 0, 0]])) == "overlapping_atoms"


def test_each_defect_has_its_reason() -> None:
    cubic = Lattice.cubic(4.0)
    assert _reason(Structure(cubic, [], [])) == "empty"
    assert _reason(Structure(cubic, ["Na"], [[np.nan, 0, 0]])) == "non_finite_coordinates"
    flat = Lattice([[4, 0, 0], [0, 4, 0], [4, 4, 0]])
    assert _reason(Structure(flat, ["Na"], [[0, 0, 0]])) == "degenerate_cell"
    assert _reason(Structure(Lattice(-np.eye(3) * 4), ["Na"], [[0, 0, 0]])) == "inverted_cell"
    assert _reason(Structure(cubic, [DummySpecies("X")], [[0, 0, 0]])) == "unknown_element"
    assert _reason(Structure(cubic, [{"Na": 0.5, "K": 0.5}], [[0, 0, 0]])) == "partial_occupancy"
    assert _reason(reference_structures.spinel(), max_sites=10) == "too_many_sites"
    molecule = Molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.74]], charge=4, charge_spin_check=False)
    assert _reason(molecule) == "impossible_charge"


def test_partial_occupancy_can_be_allowed() -> None:
    validate_structure(
        Structure(Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}], [[0, 0, 0]]), allow_partial_occupancy=True
    )


@pytest.mark.parametrize(("filename", "fmt"), [("x.cif", "cif"), ("POSCAR", "poscar"), ("x.json", "json")])
def test_crystal_files_round_trip(tmp_path: Path, filename: str, fmt: str) -> None:
    rutile = reference_structures.rutile()
    path = tmp_path / filename
    if fmt == "json":
        path.write_text(json.dumps(rutile.as_dict()))
    else:
        rutile.to(filename=str(path), fmt=fmt)
    read = load_valid_structure(path)
    assert isinstance(read, Structure) and read.composition == rutile.composition
    assert np.allclose(read.lattice.abc, rutile.lattice.abc, atol=1e-4)


def test_xyz_extxyz_and_gzip_are_read(tmp_path: Path) -> None:
    water = reference_structures.water()
    water.to(filename=str(tmp_path / "water.xyz"))
    text = (tmp_path / "water.xyz").read_text()
    with gzip.open(tmp_path / "water.xyz.gz", "wt") as handle:
        handle.write(text)
    for name in ("water.xyz", "water.xyz.gz"):
        read = load_valid_structure(tmp_path / name)
        assert isinstance(read, Molecule) and read.composition.reduced_formula == "H2O"
    periodic = tmp_path / "salt.extxyz"
    periodic.write_text(
        '2\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 pbc="T T T"\nNa 0 0 0\nCl 2 2 2\n'
    )
    assert isinstance(read_structure(periodic), Structure)


def test_unreadable_files_are_explained(tmp_path: Path) -> None:
    cases = {
        "empty.cif": ("", "unparseable"),
        "garbage.cif": ("data_x\n_this is not a cif\n\x00\x01", "unparseable"),
        "truncated.xyz": ("5\nmethane\nC 0 0 0\nH 0 0 1\n", "unparseable"),
        "notes.txt": ("hello", "unsupported_format"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_text(content)
        with pytest.raises(InvalidStructureError) as raised:
            read_structure(tmp_path / name)
        assert raised.value.reason == reason, (name, raised.value)
        assert name in str(raised.value)


def test_canonical_form_wraps_images_and_keeps_site_order() -> None:
    rutile = reference_structures.rutile()
    shifted = Structure(rutile.lattice, rutile.species, rutile.frac_coords + np.array([1, -2, 3]))
    assert canonical_form(shifted) == canonical_form(rutile)
    swapped = Structure(rutile.lattice, rutile.species[::-1], rutile.frac_coords[::-1])
    assert canonical_form(swapped) != canonical_form(rutile)
