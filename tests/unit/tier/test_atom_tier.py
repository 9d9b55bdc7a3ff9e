"""Atom tier: edges against independent neighbor searches on real crystals and molecules, edge cases,
the neighbor cap, the edge order, and the element descriptors."""

from __future__ import annotations

import gzip
import io
import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from pymatgen.core import Element, Lattice, Molecule, Structure
from pymatgen.core.periodic_table import DummySpecies
from scipy.spatial import cKDTree

from tierbench.testing import reference as reference_structures
from tierbench.tier import UnsupportedElementError, UnsupportedStructureError
from tierbench.tier.registry import get_tier
from tierbench_tiers.atom import DISTANCE_RESOLUTION, AtomTier
from tierbench_tiers.atom.neighbors import edge_order, quantized
from tierbench_tiers.elements import (
    DESCRIPTOR_DIM,
    DESCRIPTOR_NAMES,
    atomic_numbers,
    descriptor_table,
    element_descriptors,
)

CRYSTALS = ["rock_salt", "rutile", "perovskite", "spinel", "wurtzite", "copper"]


# ----------------------------------------------------------------------------- independent references


def _pymatgen_edges(structure: Structure, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed edges from pymatgen's own neighbor list (a different algorithm and library)."""
    centers, neighbors, images, _ = structure.get_neighbor_list(cutoff)
    frac = structure.frac_coords
    vectors = (frac[neighbors] + images - frac[centers]) @ structure.lattice.matrix
    return centers, neighbors, vectors


def _brute_force_edges(molecule: Molecule, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    coords = molecule.cart_coords
    vectors = coords[None, :, :] - coords[:, None, :]
    distances = np.linalg.norm(vectors, axis=-1)
    source, target = np.nonzero((distances < cutoff) & ~np.eye(len(coords), dtype=bool))
    return source, target, vectors[source, target]


def _assert_same_edges(graph, source: np.ndarray, target: np.ndarray, vectors: np.ndarray) -> None:
    """The graph's directed edges are exactly the reference edges (matched by atoms and displacement)."""
    ours = np.column_stack([graph.edge_index.numpy().T * 1000.0, graph.edge_vec.numpy()])
    reference = np.column_stack([source * 1000.0, target * 1000.0, vectors])
    assert len(ours) == len(reference)
    gap, match = cKDTree(ours).query(reference)
    assert gap.max() < 1e-4
    assert len(np.unique(match)) == len(reference), "two reference edges matched the same graph edge"
    np.testing.assert_allclose(graph.edge_attr[:, 0].numpy(), np.linalg.norm(graph.edge_vec.numpy(), axis=1), atol=1e-5)


def _mp_structures(datasets_dir: Path, count: int) -> list[Structure]:
    structures = []
    with gzip.open(datasets_dir / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            cell = json.loads(line)["structure"]
            structures.append(Structure(cell["lattice"], cell["species"], cell["frac_coords"]))
            if len(structures) == count:
                return structures
    return structures


def _qm9_molecules(datasets_dir: Path, count: int) -> list[Molecule]:
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    lines: list[str] = []
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        for _ in range(count):  # only the first molecules: parsing the whole file takes seconds
            header = handle.readline()
            lines += [header, handle.readline()] + [handle.readline() for _ in range(int(header))]
    frames = read(io.StringIO("".join(lines)), index=":", format="extxyz")
    return [AseAtomsAdaptor.get_molecule(frame, charge_spin_check=False) for frame in frames]


def _random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# ----------------------------------------------------------------------------- edges vs references


@pytest.mark.parametrize("name", CRYSTALS)
@pytest.mark.parametrize("cutoff", [3.0, 5.0])
def test_reference_crystal_edges_match_pymatgen(name: str, cutoff: float) -> None:
    structure = getattr(reference_structures, name)()
    _assert_same_edges(AtomTier(cutoff=cutoff).build(structure), *_pymatgen_edges(structure, cutoff))


def test_mp_crystal_edges_match_pymatgen(datasets_dir: Path) -> None:
    for structure in _mp_structures(datasets_dir, 6):
        _assert_same_edges(AtomTier().build(structure), *_pymatgen_edges(structure, 5.0))


def test_qm9_molecule_edges_match_brute_force(datasets_dir: Path) -> None:
    for molecule in _qm9_molecules(datasets_dir, 12):
        for cutoff in (1.6, 5.0):
            graph = AtomTier(cutoff=cutoff).build(molecule)
            _assert_same_edges(graph, *_brute_force_edges(molecule, cutoff))
            assert graph.node_type.tolist() == [site.specie.Z for site in molecule]


def test_known_coordination_shells() -> None:
    # rock salt: 6 Cl at a/2, 12 Na at a/√2, 8 Cl at a√3/2 (4.88 Å) within 5 Å
    graph = AtomTier().build(reference_structures.rock_salt())
    counts = np.unique(np.round(graph.edge_attr[graph.edge_index[0] == 0, 0].numpy(), 3), return_counts=True)
    assert counts[0].tolist() == pytest.approx([2.82, 3.988, 4.884], abs=1e-3)
    assert counts[1].tolist() == [6, 12, 8]


# ----------------------------------------------------------------------------- graph layout


def test_graph_fields_and_descriptors() -> None:
    structure = reference_structures.perovskite()
    tier = AtomTier()
    graph = tier.build(structure)
    assert tier.dims.node_dim == DESCRIPTOR_DIM and tier.dims.num_node_types == 119
    assert tier.dims.edge_dim == 1 and tier.dims.edge_distance_index == 0
    assert graph.node_type.tolist() == [38, 22, 8, 8, 8]
    assert graph.atom_index.tolist() == list(range(5))
    assert graph.edge_vec.dtype == torch.float32 and graph.edge_vec.shape == (graph.edge_index.shape[1], 3)
    for row, number in zip(graph.x.numpy(), graph.node_type.tolist(), strict=True):
        np.testing.assert_array_equal(row, element_descriptors(number))


def test_edges_come_in_both_directions() -> None:
    graph = AtomTier().build(reference_structures.spinel())
    forward = np.column_stack([graph.edge_index.numpy().T * 1000.0, graph.edge_vec.numpy()])
    backward = np.column_stack([graph.edge_index.numpy()[::-1].T * 1000.0, -graph.edge_vec.numpy()])
    gap, match = cKDTree(forward).query(backward)
    assert gap.max() < 1e-5 and len(np.unique(match)) == len(forward)


def test_edges_sorted_by_source_then_distance_then_target(datasets_dir: Path) -> None:
    for structure in [*_mp_structures(datasets_dir, 3), reference_structures.benzene()]:
        graph = AtomTier().build(structure)
        source, target = graph.edge_index.numpy()
        distance = graph.edge_attr[:, 0].numpy()
        same_source = np.diff(source) == 0
        assert np.all(np.diff(source) >= 0)
        assert np.all(np.diff(distance)[same_source] > -1e-5)
        tied = same_source & (np.diff(distance) == 0)
        assert np.all(np.diff(target)[tied] >= 0)


def test_images_of_one_neighbor_ordered_by_lattice_translation() -> None:
    copper = reference_structures.copper()  # every edge joins the atom to one of its own images
    graph = AtomTier().build(copper)
    shifts = np.rint(graph.edge_vec.numpy().astype(np.float64) @ np.linalg.inv(copper.lattice.matrix))
    shells = np.round(graph.edge_attr[:, 0].numpy(), 3)
    for shell in np.unique(shells):
        in_shell = [tuple(row) for row in shifts[shells == shell].astype(int)]
        assert in_shell == sorted(in_shell)


@pytest.mark.parametrize("make", [reference_structures.copper, reference_structures.rutile])
def test_edge_order_paths_agree(make) -> None:
    graph = AtomTier(cutoff=6.0).build(make())
    source, target = graph.edge_index.numpy()
    rng = np.random.default_rng(0)
    shuffle = rng.permutation(len(source))
    steps = quantized(graph.edge_attr[:, 0].numpy().astype(np.float64))[shuffle]
    image = rng.permutation(len(source))  # distinct codes keep every key unique, as shifts do
    arrays = (source[shuffle], steps, target[shuffle], image)
    reference = np.lexsort((image, arrays[2], steps, arrays[0]))
    # the atom bound only scales the packed key: a larger one forces the argsort and lexsort paths
    for num_atoms in (graph.num_nodes, 2**16, 2**40):
        order = edge_order(*arrays, num_atoms=num_atoms, num_images=len(source))
        np.testing.assert_array_equal(order, reference)


# ----------------------------------------------------------------------------- invariance


def _rebuilt(structure: Structure, lattice: np.ndarray, frac: np.ndarray) -> Structure:
    return Structure(Lattice(lattice), structure.species, frac)


@pytest.mark.parametrize("params", [{}, {"max_neighbors": 8}, {"cutoff": 8.0, "max_neighbors": 12}, {"cutoff": 1.0}])
def test_same_edges_in_same_order_after_rotation_translation_and_wrapping(params: dict) -> None:
    tier = AtomTier(**params)
    rotation = _random_rotation(5)
    for make in (reference_structures.rock_salt, reference_structures.rutile, reference_structures.spinel):
        structure = make()
        reference = tier.build(structure)
        shifts = np.random.default_rng(2).integers(-3, 4, size=(len(structure), 3))
        variants = {
            "rotated": (_rebuilt(structure, structure.lattice.matrix @ rotation.T, structure.frac_coords), rotation),
            "translated": (_rebuilt(structure, structure.lattice.matrix, structure.frac_coords + 0.37), np.eye(3)),
            "unwrapped": (_rebuilt(structure, structure.lattice.matrix, structure.frac_coords + shifts), np.eye(3)),
        }
        for label, (variant, turn) in variants.items():
            graph = tier.build(variant)
            assert torch.equal(graph.edge_index, reference.edge_index), f"{make.__name__} {label} {params}"
            np.testing.assert_allclose(graph.edge_attr, reference.edge_attr, atol=1e-5)
            np.testing.assert_allclose(graph.edge_vec.numpy(), reference.edge_vec.numpy() @ turn.T, atol=1e-4)


def test_molecule_rotation_keeps_edges_and_order(datasets_dir: Path) -> None:
    rotation = _random_rotation(9)
    tier = AtomTier(cutoff=3.0, max_neighbors=4)
    for molecule in _qm9_molecules(datasets_dir, 8):
        turned = Molecule(molecule.species, molecule.cart_coords @ rotation.T + 4.2)
        first, second = tier.build(molecule), tier.build(turned)
        assert torch.equal(first.edge_index, second.edge_index)
        np.testing.assert_allclose(second.edge_vec.numpy(), first.edge_vec.numpy() @ rotation.T, atol=1e-4)


# ----------------------------------------------------------------------------- neighbor cap


def test_cap_keeps_nearest_shell_with_all_ties() -> None:
    rock_salt = reference_structures.rock_salt()
    degrees = {
        k: np.bincount(AtomTier(max_neighbors=k).build(rock_salt).edge_index[0].numpy()).tolist() for k in (1, 6, 7)
    }
    assert degrees[1] == [6] * 8  # the 6 Cl are tied: all kept
    assert degrees[6] == [6] * 8
    assert degrees[7] == [18] * 8  # the 7th is in the 12-fold second shell: the whole shell stays


def test_cap_is_symmetric_and_keeps_each_atoms_nearest(datasets_dir: Path) -> None:
    k = 12
    for structure in _mp_structures(datasets_dir, 4):
        full = AtomTier(cutoff=8.0).build(structure)
        capped = AtomTier(cutoff=8.0, max_neighbors=k).build(structure)
        source, target = capped.edge_index.numpy()
        distance = capped.edge_attr[:, 0].numpy()
        # k-th nearest distance of every atom, from the uncapped graph
        kth = np.array(
            [np.sort(full.edge_attr[full.edge_index[0] == atom, 0].numpy())[k - 1] for atom in range(len(structure))]
        )
        assert np.all(np.bincount(source, minlength=len(structure)) >= k)
        assert np.all((distance <= kth[source] + 1e-4) | (distance <= kth[target] + 1e-4))
        kept_everything_near = np.sum(full.edge_attr[:, 0].numpy() < kth[full.edge_index[0].numpy()] - 1e-4)
        assert np.sum(distance < kth[source] - 1e-4) == kept_everything_near
        pairs = {(int(s), int(t), round(float(d), 4)) for s, t, d in zip(source, target, distance, strict=True)}
        assert all((t, s, d) in pairs for s, t, d in pairs)


# ----------------------------------------------------------------------------- edge cases


def test_single_atom_cell_has_only_self_image_edges() -> None:
    graph = AtomTier().build(reference_structures.copper())
    assert graph.num_nodes == 1 and graph.edge_index.unique().tolist() == [0]
    shells = np.unique(np.round(graph.edge_attr[:, 0].numpy(), 3), return_counts=True)
    assert shells[0].tolist() == pytest.approx([2.556, 3.615, 4.427], abs=1e-3)  # a/√2, a, a√(3/2)
    assert shells[1].tolist() == [12, 6, 24]


def test_tiny_cell_atom_neighbors_its_own_images() -> None:
    # 2-atom cell, c = 2.5 Å: each atom sees itself at ±c along with the other atom's images
    structure = Structure(Lattice.tetragonal(4.0, 2.5), ["Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    graph = AtomTier(cutoff=2.6).build(structure)
    source, target = graph.edge_index.numpy()
    self_edges = graph.edge_attr[source == target, 0].numpy()
    np.testing.assert_allclose(self_edges, 2.5, atol=1e-5)
    assert len(self_edges) == 4  # ±c for each of the two atoms
    _assert_same_edges(graph, *_pymatgen_edges(structure, 2.6))


def test_isolated_atoms_join_their_nearest_neighbors() -> None:
    graph = AtomTier(cutoff=1.0).build(reference_structures.rock_salt())
    np.testing.assert_allclose(graph.edge_attr[:, 0].numpy(), 2.82, atol=1e-5)
    assert np.bincount(graph.edge_index[0].numpy()).tolist() == [6] * 8
    # methane at 0.9 Å: each H joins C, and C joins all four H
    graph = AtomTier(cutoff=0.9).build(reference_structures.methane())
    assert np.bincount(graph.edge_index[0].numpy()).tolist() == [4, 1, 1, 1, 1]
    description = AtomTier(cutoff=0.9).describe(reference_structures.methane())
    assert description["sites_joined_beyond_cutoff"] == [0, 1, 2, 3, 4]


def test_far_atom_of_a_molecule_joins_its_nearest() -> None:
    molecule = Molecule(["O", "H", "H", "Na"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0], [0, 0, 30.0]])
    graph = AtomTier().build(molecule)
    na_edges = graph.edge_attr[graph.edge_index[0] == 3, 0].numpy()
    np.testing.assert_allclose(na_edges, [30.0], atol=1e-5)
    assert (graph.edge_index[1] == 3).sum() == 1  # and the O links back


def test_isolated_error_policy_names_the_sites() -> None:
    molecule = Molecule(["O", "H", "Na"], [[0, 0, 0], [0.96, 0, 0], [0, 0, 30.0]])
    with pytest.raises(UnsupportedStructureError, match=r"site 2 \(Na\) has no neighbor within 5 Å"):
        AtomTier(isolated="error").build(molecule)


def test_single_atom_molecule_has_no_edges() -> None:
    graph = AtomTier().build(Molecule(["Ar"], [[0.0, 0.0, 0.0]]))
    assert graph.num_nodes == 1 and graph.edge_index.shape == (2, 0) and graph.edge_attr.shape == (0, 1)
    with pytest.raises(UnsupportedStructureError, match="no neighbor"):
        AtomTier(isolated="error").build(Molecule(["Ar"], [[0.0, 0.0, 0.0]]))


def test_large_supercell_repeats_unit_cell_degrees() -> None:
    unit = reference_structures.perovskite()
    supercell = unit * (8, 8, 8)  # 2,560 atoms, past the fastest sort
    graph = AtomTier().build(supercell)
    unit_edges = AtomTier().build(unit).edge_index.shape[1]
    assert graph.edge_index.shape[1] == unit_edges * 512


def test_too_many_pairs_refused_before_the_search() -> None:
    with pytest.raises(UnsupportedStructureError, match="max_edges=1,000"):
        AtomTier(cutoff=8.0, max_edges=1000).build(reference_structures.spinel())
    with pytest.raises(UnsupportedStructureError, match="max_edges"):
        AtomTier(max_edges=10).build(reference_structures.benzene())


@pytest.mark.parametrize(
    ("structure", "error", "message"),
    [
        (Structure(Lattice.cubic(3.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]]), UnsupportedStructureError, "partially"),
        (Structure(Lattice.cubic(3.0), [DummySpecies("X")], [[0, 0, 0]]), UnsupportedElementError, "not a chemical"),
        (Molecule(["H", "H"], [[0, 0, 0], [0, 0, math.nan]]), UnsupportedStructureError, "NaN"),
        (Molecule(["H", "H"], [[0, 0, 0], [0, 0, 1e-5]]), UnsupportedStructureError, "same point"),
        (
            Structure(Lattice(np.diag([3.0, 3.0, 20.0]), pbc=(True, True, False)), ["C"], [[0, 0, 0.5]]),
            UnsupportedStructureError,
            "periodic along a, b only",
        ),
    ],
    ids=["disordered", "dummy", "nan", "coincident", "slab"],
)
def test_unsupported_input_gets_a_specific_error(structure, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        AtomTier().build(structure)


# ----------------------------------------------------------------------------- params


def test_params_round_trip_through_the_registry() -> None:
    tier = get_tier("atom", cutoff=6, max_neighbors=12, isolated="error")
    assert isinstance(tier, AtomTier)
    assert dict(tier.params()) == {"cutoff": 6.0, "max_neighbors": 12, "isolated": "error", "max_edges": 10_000_000}
    assert get_tier("atom", **dict(tier.params())) == tier
    assert pickle.loads(pickle.dumps(tier)) == tier
    json.dumps(dict(tier.params()))


@pytest.mark.parametrize(
    "params", [{"cutoff": 0}, {"cutoff": math.inf}, {"max_neighbors": 0}, {"isolated": "drop"}, {"max_edges": 0}]
)
def test_invalid_params_are_refused(params: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(params))):
        AtomTier(**params)


# ----------------------------------------------------------------------------- element descriptors


def test_descriptor_table_layout() -> None:
    table = descriptor_table()
    assert table.shape == (119, DESCRIPTOR_DIM) and table.dtype == np.float32
    assert len(DESCRIPTOR_NAMES) == DESCRIPTOR_DIM == len(set(DESCRIPTOR_NAMES))
    assert not table.flags.writeable and not table[0].any() and np.isfinite(table).all()
    column = {name: index for index, name in enumerate(DESCRIPTOR_NAMES)}
    iron, oxygen = element_descriptors(26), element_descriptors(8)
    assert iron[column["group_8"]] == iron[column["period_4"]] == iron[column["block_d"]] == 1
    assert iron[column["valence_d"]] == pytest.approx(0.6) and iron[column["valence_s"]] == 1
    assert oxygen[column["group_16"]] == oxygen[column["block_p"]] == 1
    assert oxygen[column["valence_p"]] == pytest.approx(4 / 6)
    lead = element_descriptors(82)  # [Xe] 4f14 5d10 6s2 6p2
    assert lead[[column[f"valence_{b}"] for b in "spdf"]].tolist() == pytest.approx([1, 2 / 6, 1, 1])
    for z in range(1, 119):  # one group, one period, one block each
        assert element_descriptors(z)[:29].sum() == 3


def test_electronegativity_is_a_zscore_with_gaps_flagged() -> None:
    column = DESCRIPTOR_NAMES.index("electronegativity")
    known = DESCRIPTOR_NAMES.index("electronegativity_known")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = {z: Element.from_Z(z).X for z in range(1, 104)}
    present = {z: x for z, x in values.items() if not math.isnan(x)}
    mean, std = np.mean(list(present.values())), np.std(list(present.values()))
    for z, x in present.items():
        assert element_descriptors(z)[column] == pytest.approx((x - mean) / std, abs=1e-5)
        assert element_descriptors(z)[known] == 1
    for z in (2, 10, 18):  # He, Ne, Ar have no Pauling value
        assert element_descriptors(z)[column] == 0 and element_descriptors(z)[known] == 0
    transactinide = element_descriptors(110)
    assert not transactinide[[i for i, name in enumerate(DESCRIPTOR_NAMES) if name.endswith("_known")]].any()


def test_atomic_numbers_and_their_errors() -> None:
    assert atomic_numbers(reference_structures.rutile()).tolist() == [22, 22, 8, 8, 8, 8]
    with pytest.raises(UnsupportedElementError):
        element_descriptors(0)
    with pytest.raises(UnsupportedElementError):
        element_descriptors(119)


def test_atomic_numbers_agree_with_site_species(datasets_dir: Path) -> None:
    oxidized = reference_structures.rutile()
    oxidized.add_oxidation_state_by_element({"Ti": 4, "O": -2})
    for structure in [*_mp_structures(datasets_dir, 20), oxidized, reference_structures.benzene()]:
        numbers = atomic_numbers(structure)
        assert numbers.dtype == np.int64 and numbers.tolist() == [site.specie.Z for site in structure]


def test_distance_resolution_is_a_binary_step() -> None:
    assert math.log2(DISTANCE_RESOLUTION).is_integer()
    assert quantized(np.array([1.9525, 1.9525 + 1e-12])).tolist() == [127959] * 2
