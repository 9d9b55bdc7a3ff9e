"""Motif tier: known coordination chemistry of real crystals and molecules, and its building blocks."""

from __future__ import annotations

import gzip
import io
import json
import warnings
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from pymatgen.analysis.local_env import CrystalNN
from pymatgen.core import Composition, Lattice, Molecule, Species, Structure
from scipy.spatial.transform import Rotation

from tierbench.testing import assert_same_graph
from tierbench.testing import reference as reference_structures
from tierbench.tier import UnsupportedStructureError
from tierbench_tiers.motif import MotifTier
from tierbench_tiers.motif.crystal_nn import crystal_nn_neighbors
from tierbench_tiers.motif.features import EDGE_FEATURE_NAMES, GLOBAL_FEATURE_NAMES, NODE_FEATURE_NAMES
from tierbench_tiers.motif.roles import decide_roles, guess_oxidation_states
from tierbench_tiers.motif.shapes import ideal_polyhedra, match_shape

TIER = MotifTier()
MP_IDS = {
    "zinc_blende": "mp-10695",  # ZnS, F-43m
    "cadmium_iodide": "mp-567259",  # CdI2, layered P-3m1
    "potassium_hexachloroplatinate": "mp-23513",  # K2PtCl6, Fm-3m
    "apatite_like_phosphate": "mp-9467",  # NaCa9Mg(PO4)7, R3c
}


@cache
def _mp_structures(path: Path) -> dict[str, Structure]:
    wanted = {f'"{mp_id}"' for mp_id in MP_IDS.values()}
    found = {}
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if any(mp_id in line for mp_id in wanted):
                record = json.loads(line)
                data = record["structure"]
                found[record["mp_id"]] = Structure(Lattice(data["lattice"]), data["species"], data["frac_coords"])
    return found


@pytest.fixture(scope="module")
def mp_structures(datasets_dir: Path) -> dict[str, Structure]:
    structures = _mp_structures(datasets_dir / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz")
    return {name: structures[mp_id] for name, mp_id in MP_IDS.items()}


def _motifs(description: dict) -> dict[int, dict]:
    return {motif["index"]: motif for motif in description["motifs"]}


def _connections(structure: Structure, description: dict, first: str, second: str) -> list[dict]:
    """Connections between centres of two elements (either order)."""
    pair = sorted((first, second))
    return [
        connection
        for connection in description["connections"]
        if sorted((structure[connection["a"]].specie.symbol, structure[connection["b"]].specie.symbol)) == pair
    ]


def _degree(description: dict, connections: list[dict], centre: int) -> int:
    """How many connections of the list a centre takes part in (a self-image connection counts twice)."""
    return sum((connection["a"] == centre) + (connection["b"] == centre) for connection in connections)


# --- known answers on reference crystals ---------------------------------------------------------


def test_rutile_octahedra_share_two_edges_and_eight_corners() -> None:
    structure = reference_structures.rutile()
    description = TIER.describe(structure)
    motifs = _motifs(description)
    titanium = [index for index, site in enumerate(structure) if site.specie.symbol == "Ti"]
    assert sorted(motifs) == titanium
    assert all(motifs[index]["type"] == "octahedron" and motifs[index]["cn"] == 6 for index in titanium)
    links = _connections(structure, description, "Ti", "Ti")
    edges = [link for link in links if link["kind"] == "edge"]
    corners = [link for link in links if link["kind"] == "corner"]
    assert len(edges) + len(corners) == len(links)
    for centre in titanium:
        assert _degree(description, edges, centre) == 2  # chains along c
        assert _degree(description, corners, centre) == 8
    assert all(link["distance"] == pytest.approx(2.959, abs=1e-3) for link in edges)
    assert all(angle == pytest.approx(98.8, abs=1.0) for link in edges for angle in link["angles"])
    assert all(link["angles"][0] == pytest.approx(130.6, abs=1.0) for link in corners)


def test_perovskite_titanium_octahedra_share_only_corners_at_180_degrees() -> None:
    structure = reference_structures.perovskite()
    description = TIER.describe(structure)
    motifs = _motifs(description)
    assert motifs[1]["centre_element"] == "Ti" and motifs[1]["type"] == "octahedron"
    assert motifs[0]["centre_element"] == "Sr" and motifs[0]["type"] == "cuboctahedron" and motifs[0]["cn"] == 12
    links = _connections(structure, description, "Ti", "Ti")
    assert {link["kind"] for link in links} == {"corner"}
    assert _degree(description, links, 1) == 6
    assert all(link["angles"] == [pytest.approx(180.0, abs=1e-6)] for link in links)
    assert all(link["distance"] == pytest.approx(3.905, abs=1e-6) for link in links)
    # the SrO12 cuboctahedra share faces with the TiO6 octahedra, as in every cubic perovskite
    assert {link["kind"] for link in _connections(structure, description, "Sr", "Ti")} == {"face"}


def test_spinel_tetrahedra_share_corners_with_octahedra_that_share_edges() -> None:
    structure = reference_structures.spinel()
    description = TIER.describe(structure)
    motifs = _motifs(description)
    for motif in motifs.values():
        expected = ("tetrahedron", 4) if motif["centre_element"] == "Mg" else ("octahedron", 6)
        assert (motif["type"], motif["cn"]) == expected
    assert _connections(structure, description, "Mg", "Mg") == []
    assert {link["kind"] for link in _connections(structure, description, "Mg", "Al")} == {"corner"}
    assert {link["kind"] for link in _connections(structure, description, "Al", "Al")} == {"edge"}
    magnesium = [index for index, motif in motifs.items() if motif["centre_element"] == "Mg"]
    aluminium = [index for index, motif in motifs.items() if motif["centre_element"] == "Al"]
    mixed = _connections(structure, description, "Mg", "Al")
    assert all(_degree(description, mixed, centre) == 12 for centre in magnesium)
    shared_edges = _connections(structure, description, "Al", "Al")
    assert all(_degree(description, shared_edges, centre) == 6 for centre in aluminium)


def test_wurtzite_tetrahedra_share_only_corners() -> None:
    structure = reference_structures.wurtzite()
    description = TIER.describe(structure)
    zinc = [motif for motif in description["motifs"] if motif["centre_element"] == "Zn"]
    assert len(zinc) == 2 and all(motif["type"] == "tetrahedron" and motif["cn"] == 4 for motif in zinc)
    links = _connections(structure, description, "Zn", "Zn")
    assert {link["kind"] for link in links} == {"corner"}
    assert all(_degree(description, links, motif["index"]) == 12 for motif in zinc)
    assert all(105.0 < link["angles"][0] < 114.0 for link in links)


def test_rock_salt_octahedra_share_twelve_edges_and_six_corners() -> None:
    structure = reference_structures.rock_salt()
    description = TIER.describe(structure)
    sodium = [motif["index"] for motif in description["motifs"]]
    assert {structure[index].specie.symbol for index in sodium} == {"Na"}
    links = description["connections"]
    edges = [link for link in links if link["kind"] == "edge"]
    corners = [link for link in links if link["kind"] == "corner"]
    assert all(_degree(description, edges, centre) == 12 for centre in sodium)
    assert all(_degree(description, corners, centre) == 6 for centre in sodium)
    assert all(link["angles"] == [pytest.approx(180.0)] for link in corners)


# --- known answers on Materials Project crystals -------------------------------------------------


def test_zinc_blende_sulfide_tetrahedra_share_corners_at_the_tetrahedral_angle(mp_structures) -> None:
    structure = mp_structures["zinc_blende"]
    description = TIER.describe(structure)
    (zinc,) = description["motifs"]
    assert (zinc["centre_element"], zinc["type"], zinc["cn"]) == ("Zn", "tetrahedron", 4)
    assert {structure[site].specie.symbol for site in zinc["ligands"]} == {"S"}
    links = description["connections"]
    assert {link["kind"] for link in links} == {"corner"}
    assert _degree(description, links, zinc["index"]) == 12
    lattice_constant = structure.lattice.a * np.sqrt(2.0)  # primitive fcc vector → cubic a
    for link in links:
        assert link["angles"] == [pytest.approx(109.47, abs=0.05)]
        assert link["distance"] == pytest.approx(lattice_constant / np.sqrt(2.0), rel=1e-6)


def test_cadmium_iodide_octahedra_share_edges_in_layers(mp_structures) -> None:
    structure = mp_structures["cadmium_iodide"]
    graph, description = TIER.build(structure), TIER.describe(structure)
    (cadmium,) = description["motifs"]
    assert (cadmium["type"], cadmium["cn"]) == ("octahedron", 6)
    assert {link["kind"] for link in description["connections"]} == {"edge"}
    assert _degree(description, description["connections"], cadmium["index"]) == 6
    dimensionality = GLOBAL_FEATURE_NAMES.index("dimensionality=2")
    assert graph.u[0, : dimensionality + 2].tolist() == [0.0, 0.0, 1.0, 0.0]  # a 2D layer, not a framework


def test_hexachloroplatinate_octahedra_are_isolated_from_each_other(mp_structures) -> None:
    structure = mp_structures["potassium_hexachloroplatinate"]
    description = TIER.describe(structure)
    by_element = Counter((motif["centre_element"], motif["type"], motif["cn"]) for motif in description["motifs"])
    assert by_element == {("Pt", "octahedron", 6): 1, ("K", "cuboctahedron", 12): 2}
    assert _connections(structure, description, "Pt", "Pt") == []
    assert {link["kind"] for link in _connections(structure, description, "K", "Pt")} == {"face"}


def test_symmetry_reduced_analysis_equals_site_by_site_analysis(mp_structures) -> None:
    structure = mp_structures["apatite_like_phosphate"]
    reduced, full = TIER.build(structure), MotifTier(symprec=None).build(structure)
    assert_same_graph(reduced, full, np.arange(len(structure)), atol=1e-4)
    phosphorus = [m for m in TIER.describe(structure)["motifs"] if m["centre_element"] == "P"]
    assert phosphorus and all((m["type"], m["cn"]) == ("tetrahedron", 4) for m in phosphorus)


# --- molecules -----------------------------------------------------------------------------------


def test_small_molecules_have_textbook_geometries() -> None:
    water = TIER.describe(reference_structures.water())
    assert [(m["centre_element"], m["type"], m["cn"]) for m in water["motifs"]] == [("O", "angular", 2)]
    assert water["connections"] == []
    methane = TIER.describe(reference_structures.methane())
    assert [(m["type"], m["ligands"]) for m in methane["motifs"]] == [("tetrahedron", [1, 2, 3, 4])]
    benzene = reference_structures.benzene()
    description = TIER.describe(benzene)
    assert [m["type"] for m in description["motifs"]] == ["trigonal plane"] * 6
    kinds = Counter((link["kind"], link["shared"]) for link in description["connections"])
    assert kinds == {("none", 0): 6, ("corner", 1): 6}  # ring bonds, and 1,3 carbons sharing a carbon
    assert all(link["angles"] == [pytest.approx(120.0)] for link in description["connections"] if link["shared"])
    graph = TIER.build(benzene)
    bonded = graph.edge_attr[:, EDGE_FEATURE_NAMES.index("bonded")]
    assert int(bonded.sum()) == 12  # six ring bonds, both directions


def _qm9_sample(path: Path, count: int, stride: int) -> list[Molecule]:
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    frames, position = [], 0
    while position < len(lines) and len(frames) < count * stride:
        atoms = int(lines[position])
        frames.append("\n".join(lines[position : position + atoms + 2]))
        position += atoms + 2
    text = "\n".join(frames[::stride]) + "\n"
    return [AseAtomsAdaptor.get_molecule(atoms) for atoms in read(io.StringIO(text), index=":", format="extxyz")]


def test_qm9_molecules_have_one_motif_per_heavy_atom(datasets_dir: Path) -> None:
    molecules = _qm9_sample(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", count=80, stride=120)
    assert len(molecules) == 80
    shapes: Counter = Counter()
    for molecule in molecules:
        description = TIER.describe(molecule)
        heavy = [index for index, site in enumerate(molecule) if site.specie.symbol != "H"]
        assert [motif["index"] for motif in description["motifs"]] == heavy
        for motif in description["motifs"]:
            shapes[motif["centre_element"], motif["cn"], motif["type"]] += 1
    sp3 = shapes["C", 4, "tetrahedron"] / sum(v for (e, cn, _), v in shapes.items() if (e, cn) == ("C", 4))
    sp2 = shapes["C", 3, "trigonal plane"] / sum(v for (e, cn, _), v in shapes.items() if (e, cn) == ("C", 3))
    assert sp3 > 0.97 and sp2 > 0.97  # the rest sit in strained three-membered rings
    assert {kind for (element, cn, kind) in shapes if (element, cn) == ("C", 2)} == {"linear"}
    assert shapes["N", 3, "triangular non-coplanar"] > 0 and shapes["N", 3, "trigonal plane"] > 0  # amines, amides
    assert {kind for (element, cn, kind) in shapes if (element, cn) == ("O", 2)} == {"angular"}


# --- structures without motifs, roles, errors ----------------------------------------------------


def test_elemental_metal_has_centres_without_ligands_joined_by_bonds() -> None:
    copper = reference_structures.copper()
    description = TIER.describe(copper)
    assert description["motifs"] == [{"index": 0, "centre_element": "Cu", "type": "none", "cn": 0, "ligands": []}]
    assert {(link["kind"], link["shared"]) for link in description["connections"]} == {("none", 0)}
    assert len(description["connections"]) == 6  # twelve fcc neighbors, each image pair stored once
    graph = TIER.build(copper)
    assert graph.x[0, NODE_FEATURE_NAMES.index("geometry=none")] == 1.0
    assert graph.u[0, GLOBAL_FEATURE_NAMES.index("centre_share")] == 0.0


@pytest.mark.parametrize(
    ("formula", "species", "frac_coords", "ligands"),
    [
        ("NaCl", ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]], {"Cl"}),
        ("AlP", ["Al", "P"], [[0, 0, 0], [0.25, 0.25, 0.25]], {"P"}),  # phosphide: P is the anion
        ("NaTl", ["Na", "Tl"], [[0, 0, 0], [0.5, 0.5, 0.5]], {"Tl"}),  # intermetallic: electronegativity
    ],
)
def test_roles_split_cations_from_ligands(formula, species, frac_coords, ligands) -> None:
    structure = Structure(Lattice.cubic(4.0), species, frac_coords)
    roles = decide_roles(structure)
    assert {site.specie.symbol for site, flag in zip(structure, roles.is_ligand, strict=True) if flag} == ligands


def test_roles_keep_oxoanion_centres_and_use_given_oxidation_states() -> None:
    phosphate = guess_oxidation_states(Composition("Li3PO4"))
    assert phosphate == {"Li": 1.0, "P": 5.0, "O": -2.0}
    assert guess_oxidation_states(Composition("Li2O2")) is None  # peroxide: the electronegativity rule
    decorated = Structure(Lattice.cubic(4.0), [Species("Fe", 3), Species("O", -2)], [[0, 0, 0], [0.5, 0.5, 0.5]])
    roles = decide_roles(decorated)
    assert roles.rule == "given" and roles.is_ligand.tolist() == [False, True]


@pytest.mark.parametrize("formula", ["Fe3O4", "CsPH4(NO)2", "Nb2Tl3CuSe12", "K2YPCO7", "La2O2S", "CaC2"])
def test_guessed_oxidation_signs_agree_with_pymatgen(formula: str) -> None:
    ours = guess_oxidation_states(Composition(formula))
    theirs = Composition(formula).oxi_state_guesses(max_sites=-1)[0]
    assert ours is not None
    assert {element: value < 0 for element, value in ours.items()} == {
        element: value < 0 for element, value in theirs.items()
    }
    assert ours == pytest.approx(theirs)


def test_bad_input_gets_a_specific_error() -> None:
    with pytest.raises(ValueError, match="backend"):
        MotifTier(backend="chemenv")
    with pytest.raises(ValueError, match="symprec"):
        MotifTier(symprec=0.0)
    disordered = Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Ni": 0.5}, "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(UnsupportedStructureError, match="partially occupied"):
        TIER.build(disordered)


# --- building blocks -----------------------------------------------------------------------------


def test_fast_neighbors_are_crystal_nn_neighbors(mp_structures) -> None:
    structures = [reference_structures.spinel(), mp_structures["apatite_like_phosphate"]]
    reference = CrystalNN()
    for structure in structures:
        sites = range(0, len(structure), 3)
        ours = crystal_nn_neighbors(structure, sites)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = {site: reference.get_nn_info(structure, site) for site in sites}
        for site in sites:
            mine = sorted(zip(ours[site].sites.tolist(), map(tuple, ours[site].images.tolist()), strict=True))
            expected = sorted((n["site_index"], tuple(round(x) for x in n["image"])) for n in theirs[site])
            assert mine == expected, f"site {site} of {structure.formula}"


@pytest.mark.parametrize("symbol", ["T:4", "S:4", "O:6", "T:6", "PB:7", "C:8", "SA:8", "C:12", "I:12"])
def test_shape_measure_recognises_rotated_shuffled_distorted_polyhedra(symbol: str) -> None:
    count = int(symbol.split(":")[1])
    ideal = next(p for p in ideal_polyhedra()[count] if p.symbol == symbol)
    rng = np.random.default_rng(count)
    ligands = (ideal.points[1:] - ideal.points[0]) @ Rotation.random(random_state=rng).as_matrix().T * 2.1
    ligands = ligands[rng.permutation(count)] + rng.normal(scale=0.04, size=ligands.shape)
    centre = np.array([3.0, -1.0, 2.0])
    match = match_shape(centre, centre + ligands)
    assert match.geometry == symbol
    assert match.measures[symbol] < 1.0
    assert all(value > match.measures[symbol] for key, value in match.measures.items() if key != symbol)


def test_graph_layout_links_motifs_to_atoms() -> None:
    structure = reference_structures.perovskite()
    graph = TIER.build(structure)
    dims = TIER.dims
    assert (dims.node_dim, dims.edge_dim, dims.global_dim) == (
        len(NODE_FEATURE_NAMES),
        len(EDGE_FEATURE_NAMES),
        len(GLOBAL_FEATURE_NAMES),
    )
    assert EDGE_FEATURE_NAMES[dims.edge_distance_index] == "distance"
    assert graph.node_type.tolist() == [38, 22]  # Sr, Ti
    members = {tuple(pair) for pair in graph.member_index.T.tolist()}
    assert members == {(0, 0), (0, 2), (0, 3), (0, 4), (1, 1), (1, 2), (1, 3), (1, 4)}
    titanium = graph.x[1]
    assert titanium[NODE_FEATURE_NAMES.index("coordination_number")] == 6
    assert titanium[NODE_FEATURE_NAMES.index("geometry=O:6")] == 1
    assert titanium[NODE_FEATURE_NAMES.index("op:octahedral CN_6")] == pytest.approx(1.0)
    assert titanium[NODE_FEATURE_NAMES.index("bond_length_mean")] == pytest.approx(3.905 / 2)
    assert titanium[NODE_FEATURE_NAMES.index("polyhedral_volume")] == pytest.approx((3.905 / 2) ** 3 * 4 / 3)
    assert titanium[NODE_FEATURE_NAMES.index("oxidation_state")] == 4
    assert titanium[NODE_FEATURE_NAMES.index("ligand_fraction=O")] == 1


def test_nonsharing_cutoff_adds_distance_only_edges() -> None:
    structure = reference_structures.spinel()
    plain, extended = TIER.build(structure), MotifTier(nonsharing_cutoff=4.0).build(structure)
    extra = extended.edge_index.shape[1] - plain.edge_index.shape[1]
    assert extra > 0
    none_column = EDGE_FEATURE_NAMES.index("kind=none")
    added = extended.edge_attr[extended.edge_attr[:, none_column] == 1]
    assert len(added) == extra  # spinel has no metal–metal bonds: every new edge shares nothing
    assert (added[:, TIER.dims.edge_distance_index] <= 4.0).all()
    assert (added[:, EDGE_FEATURE_NAMES.index("shared_ligands")] == 0).all()


def test_describe_has_exactly_the_documented_keys() -> None:
    description = TIER.describe(reference_structures.rutile())
    assert set(description) == {"motifs", "connections"}
    assert all(set(m) == {"index", "centre_element", "type", "cn", "ligands"} for m in description["motifs"])
    keys = {"a", "b", "kind", "shared", "distance", "angles"}
    assert all(set(c) == keys for c in description["connections"])
    json.dumps(description)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rutile", "perovskite", "spinel", "wurtzite", "rock_salt"])
def test_amdnet_pipeline_backend_finds_the_same_motifs_and_connections(name: str) -> None:
    structure = getattr(reference_structures, name)()
    fast, amdnet = TIER.describe(structure), MotifTier(backend="robocrys").describe(structure)
    assert fast["motifs"] == amdnet["motifs"]

    def summary(description: dict) -> Counter:
        return Counter(
            (c["a"], c["b"], c["kind"], c["shared"], round(c["distance"], 4), tuple(np.round(c["angles"], 3)))
            for c in description["connections"]
        )

    assert summary(fast) == summary(amdnet)
