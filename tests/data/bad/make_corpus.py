"""Write the malformed-input corpus: three small datasets that mix good structures with broken ones.

Run from the repository root: ``.venv/bin/python tests/data/bad/make_corpus.py [FOLDER]``. It writes,
next to this script unless a folder is given:

* ``cif_folder/`` — CGCNN layout (``id_prop.csv`` without header, one ``<id>.cif`` per row): crystals;
* ``crystals.jsonl`` — Materials Project style JSON lines: crystals;
* ``molecules.extxyz`` — extended XYZ frames: molecules;
* ``manifest.json`` — every broken row: what is wrong with it, where it sits in its file, and the stage,
  reason code and message (a fragment) that tierbench must give it.

Good rows are the reference crystals and molecules of :mod:`tierbench.testing.reference` with scaled
cells or slightly displaced atoms (seeded), so every good row is a distinct real structure; its target
is a property computed from it (density in g/cm³, radius of gyration in Å). Each broken row breaks one
thing. Stages: ``quarantine`` (the dataset loader rejects the row), ``selection`` (the ``targets_present``
filter drops a row without a value), ``tier`` (the row is valid but the atom tier, with
``isolated: error``, refuses it).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Molecule, Structure
from pymatgen.io.cif import CifWriter

from tierbench.testing import reference as reference_structures

HERE = Path(__file__).resolve().parent

CRYSTAL_SCALES = (0.97, 0.99, 1.01, 1.03)
MOLECULE_VARIANTS = 7
DISPLACEMENT = 0.02
"""Å, the largest displacement of an atom in a good molecule (a thermal-vibration scale)."""


@dataclass(frozen=True)
class BrokenRow:
    """One broken row and what tierbench must say about it.

    Attributes:
        dataset: ``cif_folder``, ``crystals`` or ``molecules``.
        kind: What is wrong, for a person.
        source_index: Row of ``id_prop.csv``, line of the JSON-lines file, or frame of the XYZ file.
        sample_id: The id the report shows (``None`` where the row is unreadable before its id).
        stage: ``quarantine``, ``selection`` or ``tier``.
        reason: Reason code of the quarantine report or of the tier failure (``None`` for ``selection``).
        message: A fragment of the message.
    """

    dataset: str
    kind: str
    source_index: int
    sample_id: str | None
    stage: str
    reason: str | None
    message: str


def crystal_variants() -> list[tuple[str, Structure]]:
    """Twenty distinct real crystals: every reference crystal with four cell scalings."""
    variants = []
    for name, make in reference_structures.CRYSTALS.items():
        base = make()
        for scale in CRYSTAL_SCALES:
            variants.append((f"{name}-{scale}", Structure(base.lattice.matrix * scale, base.species, base.frac_coords)))
    return variants


def molecule_variants() -> list[tuple[str, Molecule]]:
    """Twenty-one distinct real molecules: every reference molecule with seeded small displacements."""
    rng = np.random.default_rng(12)
    variants = []
    for name, make in reference_structures.MOLECULES.items():
        base = make()
        for variant in range(MOLECULE_VARIANTS):
            shifts = rng.uniform(-DISPLACEMENT, DISPLACEMENT, size=(len(base), 3))
            variants.append((f"{name}-{variant}", Molecule(base.species, base.cart_coords + shifts)))
    return variants


def radius_of_gyration(molecule: Molecule) -> float:
    """Root-mean-square distance of the atoms from their centroid, in Å."""
    coords = molecule.cart_coords
    return float(np.sqrt(((coords - coords.mean(axis=0)) ** 2).sum(axis=1).mean()))


def p1_cif(
    cell: tuple[str, ...] = ("5.64", "5.64", "5.64", "90", "90", "90"),
    atoms: tuple[tuple[str, ...], ...] = (("Na", "0", "0", "0", "1"), ("Cl", "0.5", "0.5", "0.5", "1")),
    block: str = "broken",
) -> str:
    """A P1 CIF with the given cell parameters and (symbol, x, y, z, occupancy) rows, written as text."""
    a, b, c, alpha, beta, gamma = cell
    rows = "\n".join(
        f"  {symbol}  {symbol}{i}  1  {x}  {y}  {z}  {occupancy}"
        for i, (symbol, x, y, z, occupancy) in enumerate(atoms)
    )
    return f"""data_{block}
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   {b}
_cell_length_c   {c}
_cell_angle_alpha   {alpha}
_cell_angle_beta   {beta}
_cell_angle_gamma   {gamma}
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
{rows}
"""


SALT = p1_cif()


def broken_cifs() -> list[tuple[str, str, bytes | str, str, str | None, str]]:
    """``(id, kind, file content, stage, reason, message)`` of every broken CIF."""
    return [
        ("empty", "empty file", "", "quarantine", "unparseable", "file is empty"),
        ("blank", "only blank lines", "\n  \n\n", "quarantine", "unparseable", "file is empty"),
        (
            "prose",
            "text that is no CIF",
            "Sample sent to the lab on Monday.\nNo structure yet.\n",
            "quarantine",
            "unparseable",
            "no data block",
        ),
        (
            "html",
            "an HTML error page saved as .cif",
            "<html><body><h1>404 Not Found</h1></body></html>\n",
            "quarantine",
            "unparseable",
            "no data block",
        ),
        ("binary", "binary bytes", bytes(range(256)) * 4, "quarantine", "unparseable", "not a readable text file"),
        (
            "cut-mid-row",
            "truncated in the middle of an atom row",
            SALT[: SALT.rindex("0.5  0.5") + 5],
            "quarantine",
            "unparseable",
            "cannot parse as cif",
        ),
        (
            "cut-in-header",
            "truncated inside the atom loop header",
            SALT[: SALT.index("_atom_site_fract_y")],
            "quarantine",
            "unparseable",
            "cannot parse as cif",
        ),
        (
            "no-cell",
            "no cell parameters",
            "\n".join(line for line in SALT.splitlines() if not line.startswith("_cell")),
            "quarantine",
            "unparseable",
            "cannot parse as cif",
        ),
        (
            "nan-coordinate",
            "NaN coordinate",
            p1_cif(atoms=(("Na", "nan", "0", "0", "1"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "inf-coordinate",
            "infinite coordinate",
            p1_cif(atoms=(("Na", "inf", "0", "0", "1"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "text-coordinate",
            "a word where a coordinate belongs",
            p1_cif(atoms=(("Na", "abc", "0", "0", "1"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "unparseable",
            "could not convert string to float",
        ),
        (
            "overlap",
            "two atoms 0.06 Å apart",
            p1_cif(atoms=(("Na", "0", "0", "0", "1"), ("Cl", "0.01", "0", "0", "1"))),
            "quarantine",
            "overlapping_atoms",
            "0.0564 Å apart",
        ),
        (
            "overlap-periodic",
            "atoms overlapping across the cell boundary",
            p1_cif(atoms=(("Na", "0.001", "0", "0", "1"), ("Cl", "0.995", "0", "0", "1"))),
            "quarantine",
            "overlapping_atoms",
            "Å apart",
        ),
        (
            "zero-length",
            "a zero cell length",
            p1_cif(cell=("5.64", "5.64", "0", "90", "90", "90")),
            "quarantine",
            "degenerate_cell",
            "enclose no volume",
        ),
        (
            "flat-cell",
            "a 180° cell angle",
            p1_cif(cell=("5.64", "5.64", "5.64", "90", "90", "180")),
            "quarantine",
            "degenerate_cell",
            "enclose no volume",
        ),
        (
            "impossible-angles",
            "three 150° angles, which no cell has",
            p1_cif(cell=("5.64", "5.64", "5.64", "150", "150", "150")),
            "quarantine",
            "degenerate_cell",
            "enclose no volume",
        ),
        (
            "inverted",
            "a negative cell length (left-handed cell)",
            p1_cif(cell=("-5.64", "5.64", "5.64", "90", "90", "90")),
            "quarantine",
            "inverted_cell",
            "left-handed",
        ),
        (
            "unknown-element",
            "element symbol Xx",
            p1_cif(atoms=(("Xx", "0", "0", "0", "1"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "unknown_element",
            "Xx",
        ),
        (
            "partial-occupancy",
            "a half-occupied site",
            p1_cif(atoms=(("Na", "0", "0", "0", "0.5"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "partial_occupancy",
            "partially occupied",
        ),
        (
            "over-occupied",
            "occupancy 1.5",
            p1_cif(atoms=(("Na", "0", "0", "0", "1.5"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "unparseable",
            "occupancies",
        ),
        (
            "negative-occupancy",
            "occupancy -1, a site pymatgen drops",
            p1_cif(atoms=(("Na", "0", "0", "0", "-1"), ("Cl", "0.5", "0.5", "0.5", "1"))),
            "quarantine",
            "unparseable",
            "Missing elements Na",
        ),
        (
            "enormous",
            "a cell of 10⁷ Å",
            p1_cif(cell=("1e7", "1e7", "1e7", "90", "90", "90")),
            "quarantine",
            "enormous_structure",
            "1e+07 Å",
        ),
        (
            "two-blocks",
            "two structures in one file",
            p1_cif(block="first")
            + p1_cif(atoms=(("K", "0", "0", "0", "1"), ("Br", "0.5", "0.5", "0.5", "1")), block="second"),
            "quarantine",
            "unparseable",
            "2 structures",
        ),
        (
            "lone-argon",
            "a single isolated atom (Ar in a 30 Å box)",
            p1_cif(cell=("30", "30", "30", "90", "90", "90"), atoms=(("Ar", "0", "0", "0", "1"),)),
            "tier",
            "unsupported_structure",
            "no neighbor within",
        ),
    ]


def write_cif_folder(folder: Path) -> list[BrokenRow]:
    """Good and broken CIFs, an id without a file, a repeated id and bad target cells."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*"):
        path.unlink()
    rows: list[str] = []
    broken: list[BrokenRow] = []
    for sample_id, structure in crystal_variants():
        (folder / f"{sample_id}.cif").write_text(str(CifWriter(structure)))
        rows.append(f"{sample_id},{structure.density:.6f}")
    for sample_id, kind, content, stage, reason, message in broken_cifs():
        path = folder / f"{sample_id}.cif"
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        broken.append(BrokenRow("cif_folder", kind, len(rows), sample_id, stage, reason, message))
        rows.append(f"{sample_id},1.0")
    good_id, good = crystal_variants()[0]
    extra = [
        (
            "missing-file,2.0",
            "an id_prop.csv row whose CIF does not exist",
            "missing-file",
            "missing_file",
            "is missing",
        ),
        (f"{good_id},{good.density:.6f}", "a repeated id", good_id, "duplicate_id", "repeats source row 0"),
        ("rock_salt-0.99-copy,n/a", "a target that is text", None, "invalid_target", "'n/a', not a finite number"),
        ("rock_salt-1.01-copy,inf", "an infinite target", None, "invalid_target", "inf, not a finite number"),
        ("rock_salt-1.03-copy,", "an empty target cell", None, None, ""),
    ]
    for row, kind, sample_id, reason, message in extra:
        identifier = sample_id or row.split(",")[0]
        if identifier.endswith("-copy"):  # a real file under the id, so that only the target is wrong
            source = identifier.removesuffix("-copy")
            (folder / f"{identifier}.cif").write_text((folder / f"{source}.cif").read_text())
        stage = "quarantine" if reason else "selection"
        broken.append(BrokenRow("cif_folder", kind, len(rows), identifier, stage, reason, message))
        rows.append(row)
    (folder / "id_prop.csv").write_text("\n".join(rows) + "\n")
    return broken


def crystal_record(sample_id: str, structure: Structure) -> dict:
    """A JSON-lines record of a crystal in the Materials Project style."""
    return {
        "id": sample_id,
        "formula": structure.composition.reduced_formula,
        "density": round(structure.density, 6),
        "structure": {
            "lattice": structure.lattice.matrix.round(8).tolist(),
            "species": [site.species_string for site in structure],
            "frac_coords": structure.frac_coords.round(8).tolist(),
        },
    }


def broken_crystal_lines() -> list[tuple[str, str, str, str | None, str | None, str]]:
    """``(kind, JSON line, stage, id in the report, reason, message)`` of every broken JSON line."""
    salt = crystal_record("salt", Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))

    def changed(sample_id: str, *, density: object = 2.0, **structure: object) -> str:
        record = {**salt, "id": sample_id, "density": density, "structure": {**salt["structure"], **structure}}
        return json.dumps(record, allow_nan=True)

    cubic = Lattice.cubic(5.64).matrix.tolist()
    partial = Structure(Lattice.cubic(5.64), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).as_dict()
    return [
        ("JSON cut off mid-record", changed("cut")[:90], "quarantine", None, "unparseable", "line"),
        ("a JSON array instead of an object", "[1, 2, 3]", "quarantine", None, "unparseable", "not an object"),
        (
            "no id field",
            json.dumps({k: v for k, v in salt.items() if k != "id"}),
            "quarantine",
            None,
            "unparseable",
            "no 'id' field",
        ),
        (
            "no structure",
            json.dumps({"id": "no-structure", "density": 1.0}),
            "quarantine",
            "no-structure",
            "unparseable",
            "not an object",
        ),
        (
            "three species, two coordinate triples",
            changed("mismatch", species=["Na", "Cl", "Cl"]),
            "quarantine",
            "mismatch",
            "unparseable",
            "3 species but 2 coordinate triples",
        ),
        (
            "a 2x3 lattice",
            changed("flat-matrix", lattice=cubic[:2]),
            "quarantine",
            "flat-matrix",
            "unparseable",
            "not 3x3",
        ),
        (
            "a molecule (no lattice) in a crystal file",
            json.dumps(
                {
                    "id": "molecule",
                    "density": 1.0,
                    "structure": {"species": ["H", "H"], "coords": [[0, 0, 0], [0, 0, 0.74]]},
                }
            ),
            "quarantine",
            "molecule",
            "unparseable",
            "frac_coords",
        ),
        ("element symbol Qq", changed("qq", species=["Qq", "Cl"]), "quarantine", "qq", "unknown_element", "Qq"),
        (
            "NaN coordinate",
            changed("nan", frac_coords=[[math.nan, 0, 0], [0.5, 0.5, 0.5]]),
            "quarantine",
            "nan",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "infinite lattice entry",
            changed("inf-lattice", lattice=[[math.inf, 0, 0], cubic[1], cubic[2]]),
            "quarantine",
            "inf-lattice",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "coplanar lattice vectors",
            changed("coplanar", lattice=[[5.64, 0, 0], [0, 5.64, 0], [5.64, 5.64, 0]]),
            "quarantine",
            "coplanar",
            "degenerate_cell",
            "degenerate",
        ),
        (
            "left-handed lattice",
            changed("left-handed", lattice=[cubic[1], cubic[0], cubic[2]]),
            "quarantine",
            "left-handed",
            "inverted_cell",
            "left-handed",
        ),
        (
            "two atoms 0.01 Å apart",
            changed("overlap", frac_coords=[[0, 0, 0], [0.002, 0, 0]]),
            "quarantine",
            "overlap",
            "overlapping_atoms",
            "Å apart",
        ),
        (
            "an atom 0.3 Å from its own image",
            changed("own-image", lattice=Lattice.cubic(0.3).matrix.tolist(), species=["H"], frac_coords=[[0, 0, 0]]),
            "quarantine",
            "own-image",
            "overlapping_atoms",
            "Å apart",
        ),
        (
            "a disordered site (pymatgen dict)",
            json.dumps({"id": "disordered", "density": 2.0, "structure": partial}),
            "quarantine",
            "disordered",
            "partial_occupancy",
            "partially occupied",
        ),
        ("no atoms", changed("no-atoms", species=[], frac_coords=[]), "quarantine", "no-atoms", "empty", "no sites"),
        (
            "a lattice of 10⁷ Å",
            changed("enormous", lattice=(np.eye(3) * 1e7).tolist()),
            "quarantine",
            "enormous",
            "enormous_structure",
            "1e+07 Å",
        ),
        (
            "target given as text",
            changed("text-target", density="n/a"),
            "quarantine",
            "text-target",
            "invalid_target",
            "'n/a', not a finite number",
        ),
        (
            "infinite target",
            changed("inf-target", density=math.inf),
            "quarantine",
            "inf-target",
            "invalid_target",
            "inf, not a finite number",
        ),
        ("target null", changed("null-target", density=None), "selection", "null-target", None, ""),
        (
            "target absent",
            json.dumps({k: v for k, v in {**salt, "id": "no-target"}.items() if k != "density"}),
            "selection",
            "no-target",
            None,
            "",
        ),
    ]


def write_crystal_lines(path: Path) -> list[BrokenRow]:
    """Good crystals (cells displaced by a seeded strain) and broken lines, then a repeated id."""
    lines = []
    rng = np.random.default_rng(5)
    for sample_id, structure in crystal_variants():
        strain = np.eye(3) + rng.uniform(-0.01, 0.01, size=(3, 3))
        strained = Structure(structure.lattice.matrix @ strain, structure.species, structure.frac_coords)
        lines.append(json.dumps(crystal_record(f"mp-{sample_id}", strained)))
    broken = []
    for kind, line, stage, sample_id, reason, message in broken_crystal_lines():
        broken.append(BrokenRow("crystals", kind, len(lines), sample_id, stage, reason, message))
        lines.append(line)
    first = json.loads(lines[0])
    broken.append(
        BrokenRow(
            "crystals", "a repeated id", len(lines), first["id"], "quarantine", "duplicate_id", "repeats source row 0"
        )
    )
    lines.append(json.dumps({**first, "density": first["density"] + 1.0}))
    path.write_text("\n".join(lines) + "\n")
    return broken


def xyz_frame(molecule: Molecule | None, comment: str, atoms: str | None = None, count: str | None = None) -> str:
    """One XYZ frame; ``atoms`` and ``count`` replace the molecule's lines where given."""
    if atoms is None and molecule is not None:
        atoms = "".join(
            f"{site.species_string} {x:.6f} {y:.6f} {z:.6f}\n"
            for site, (x, y, z) in zip(molecule, molecule.cart_coords, strict=True)
        )
    atoms = atoms or ""
    if count is None:
        count = str(len(atoms.splitlines()))
    return f"{count}\n{comment}\n{atoms}"


def broken_frames() -> list[tuple[str, str, str, str | None, str | None, str]]:
    """``(kind, frame text, stage, id in the report, reason, message)`` of every broken frame."""
    water = reference_structures.water()
    lines = [
        f"{site.species_string} {x:.6f} {y:.6f} {z:.6f}"
        for site, (x, y, z) in zip(water, water.cart_coords, strict=True)
    ]

    def edited(first_line: str) -> str:
        return "\n".join([first_line, *lines[1:]]) + "\n"

    properties = 'Properties=species:S:1:pos:R:3 pbc="F F F"'
    rg = radius_of_gyration(water)
    return [
        (
            "charge +20 on water",
            xyz_frame(water, f"{properties} id=charged rg={rg:.6f} charge=20"),
            "quarantine",
            "charged",
            "impossible_charge",
            "charge +20 leaves -10 electrons",
        ),
        (
            "element symbol Xx",
            xyz_frame(water, f"{properties} id=xx rg={rg:.6f}", edited("Xx 0.0 0.0 0.1173")),
            "quarantine",
            None,
            "unknown_element",
            "'Xx'",
        ),
        (
            "NaN coordinate",
            xyz_frame(water, f"{properties} id=nan rg={rg:.6f}", edited("O nan 0.0 0.1173")),
            "quarantine",
            "nan",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "infinite coordinate",
            xyz_frame(water, f"{properties} id=inf rg={rg:.6f}", edited("O inf 0.0 0.1173")),
            "quarantine",
            "inf",
            "non_finite_coordinates",
            "NaN or infinite",
        ),
        (
            "hydrogen 0.02 Å from oxygen",
            xyz_frame(
                water,
                f"{properties} id=overlap rg={rg:.6f}",
                edited("O 0.0 0.0 0.1173").replace(lines[1], "H 0.0 0.0 0.1"),
            ),
            "quarantine",
            "overlap",
            "overlapping_atoms",
            "Å apart",
        ),
        (
            "a frame of zero atoms",
            xyz_frame(None, f"{properties} id=vacuum rg=0.0", "", "0"),
            "quarantine",
            "vacuum",
            "empty",
            "no sites",
        ),
        (
            "atoms 10⁹ Å apart",
            xyz_frame(None, f"{properties} id=far-apart rg=5e8", "O 0.0 0.0 0.0\nO 1000000000.0 0.0 0.0\n"),
            "quarantine",
            "far-apart",
            "enormous_structure",
            "1e+09 Å",
        ),
        (
            "an atom line with two coordinates",
            xyz_frame(water, f"{properties} id=short-line rg={rg:.6f}", edited("O 0.0 0.0")),
            "quarantine",
            None,
            "unparseable",
            "frame",
        ),
        (
            "five atoms announced, three given",
            xyz_frame(water, f"{properties} id=miscounted rg={rg:.6f}", count="5"),
            "quarantine",
            None,
            "unparseable",
            "5 atoms announced",
        ),
        (
            "target given as text",
            xyz_frame(water, f"{properties} id=text-target rg=unknown"),
            "quarantine",
            "text-target",
            "invalid_target",
            "'unknown', not a finite number",
        ),
        (
            "a count line that is a word",
            xyz_frame(water, f"{properties} id=word-count rg={rg:.6f}", count="three"),
            "quarantine",
            None,
            "unparseable",
            "expected an atom count",
        ),
        ("no id", xyz_frame(water, f"{properties} rg={rg:.6f}"), "quarantine", None, "unparseable", "no 'id' entry"),
        (
            "periodic along two axes only",
            xyz_frame(
                water, f'Lattice="10 0 0 0 10 0 0 0 10" Properties=species:S:1:pos:R:3 pbc="T T F" id=slab rg={rg:.6f}'
            ),
            "quarantine",
            None,
            "unsupported_format",
            "periodic along some axes only",
        ),
        ("target absent", xyz_frame(water, f"{properties} id=no-target"), "selection", "no-target", None, ""),
        (
            "a single helium atom",
            xyz_frame(None, f"{properties} id=lone-helium rg=0.0", "He 0.0 0.0 0.0\n"),
            "tier",
            "lone-helium",
            "unsupported_structure",
            "no neighbor within",
        ),
    ]


def write_molecule_frames(path: Path) -> list[BrokenRow]:
    """Good molecules, broken frames, a repeated id, and a last frame cut off by the end of the file."""
    properties = 'Properties=species:S:1:pos:R:3 pbc="F F F"'
    frames = [
        xyz_frame(molecule, f"{properties} id={sample_id} rg={radius_of_gyration(molecule):.6f}")
        for sample_id, molecule in molecule_variants()
    ]
    broken = []
    for kind, frame, stage, sample_id, reason, message in broken_frames():
        broken.append(BrokenRow("molecules", kind, len(frames), sample_id, stage, reason, message))
        frames.append(frame)
    first_id, first = molecule_variants()[0]
    broken.append(
        BrokenRow(
            "molecules", "a repeated id", len(frames), first_id, "quarantine", "duplicate_id", "repeats source row 0"
        )
    )
    frames.append(xyz_frame(first, f"{properties} id={first_id} rg=1.0"))
    broken.append(
        BrokenRow(
            "molecules",
            "a last frame cut off (file truncated)",
            len(frames),
            None,
            "quarantine",
            "unparseable",
            "cut off at the end of the file",
        )
    )
    frames.append(xyz_frame(first, f"{properties} id=truncated rg=1.0", count="9"))
    path.write_text("".join(frames))
    return broken


def main(folder: Path = HERE) -> list[BrokenRow]:
    """Write the three datasets and the manifest into ``folder``; return the broken rows."""
    broken = write_cif_folder(folder / "cif_folder")
    broken += write_crystal_lines(folder / "crystals.jsonl")
    broken += write_molecule_frames(folder / "molecules.extxyz")
    good = {"cif_folder": len(crystal_variants()), "crystals": len(crystal_variants())}
    manifest = {"good": {**good, "molecules": len(molecule_variants())}, "broken": [asdict(row) for row in broken]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return broken


if __name__ == "__main__":
    written = main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(written)} broken rows of {len({row.kind for row in written})} kinds")
