"""The contract every registered tier (and the example plug-in) must keep.

For each tier and each reference structure of a kind the tier accepts: the build is deterministic, the
tensors match the declared dims, the graph pickles, ``atom_index`` points at real sites, the cache key is
stable across processes and changes with params and version, and the graph is invariant (up to node
order) to permuting the sites, rotating and translating the structure, and wrapping fractional
coordinates.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Molecule, Structure

import reference_structures
from graph_compare import GRAPH_FIELDS, assert_same_graph
from tierbench.cache import cache_key
from tierbench.registry import available_tiers, get_tier
from tierbench.tier import Tier, structure_kind

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "tiers" / "examples" / "voronoi"
sys.path.insert(0, str(EXAMPLE_PLUGIN))

# Backends that are not a tier's default but must keep the contract too.
EXTRA_VARIANTS: dict[str, list[dict]] = {"orbital": [{"backend": "pyscf"}]}
STRUCTURES = {
    "rutile": reference_structures.rutile,
    "perovskite": reference_structures.perovskite,
    "water": reference_structures.water,
    "methane": reference_structures.methane,
}


def _cases() -> list[tuple[str, dict, str]]:
    variants = [(name, {}) for name in available_tiers()]
    variants += [(name, params) for name in available_tiers() for params in EXTRA_VARIANTS.get(name, [])]
    variants.append(("tierbench_voronoi:VoronoiTier", {}))
    cases = []
    for name, params in variants:
        kinds = get_tier(name, **params).kinds
        cases += [(name, params, label) for label, make in STRUCTURES.items() if structure_kind(make()) in kinds]
    return cases


CASES = _cases()
CASE_IDS = [f"{name.split(':')[0]}{json.dumps(params) if params else ''}-{label}" for name, params, label in CASES]


CRYSTAL_CASES = [case for case in CASES if isinstance(STRUCTURES[case[2]](), Structure)]


def _instantiate(request: pytest.FixtureRequest) -> tuple[Tier, Structure | Molecule, str, dict]:
    name, params, label = request.param
    return get_tier(name, **params), STRUCTURES[label](), name, params


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request: pytest.FixtureRequest) -> tuple[Tier, Structure | Molecule, str, dict]:
    return _instantiate(request)


@pytest.fixture(params=CRYSTAL_CASES, ids=[CASE_IDS[CASES.index(case)] for case in CRYSTAL_CASES])
def crystal_case(request: pytest.FixtureRequest) -> tuple[Tier, Structure | Molecule, str, dict]:
    return _instantiate(request)


def _random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _rotated(structure: Structure | Molecule, rotation: np.ndarray) -> Structure | Molecule:
    if isinstance(structure, Structure):
        return Structure(Lattice(structure.lattice.matrix @ rotation.T), structure.species, structure.frac_coords)
    return Molecule(structure.species, structure.cart_coords @ rotation.T, charge=structure.charge)


def _translated(structure: Structure | Molecule, shift: np.ndarray) -> Structure | Molecule:
    if isinstance(structure, Structure):
        return Structure(structure.lattice, structure.species, np.mod(structure.frac_coords + shift, 1.0))
    return Molecule(structure.species, structure.cart_coords + shift * 10, charge=structure.charge)


def _permuted(structure: Structure | Molecule, permutation: np.ndarray) -> Structure | Molecule:
    species = [structure[int(i)].species for i in permutation]
    if isinstance(structure, Structure):
        return Structure(structure.lattice, species, structure.frac_coords[permutation])
    return Molecule(species, structure.cart_coords[permutation], charge=structure.charge)


def _assert_identical(first, second) -> None:
    for field in GRAPH_FIELDS:
        assert (field in first) == (field in second), field
        if field in first:
            assert torch.equal(first[field], second[field]), f"{field} differs between two builds"


def test_build_is_deterministic_and_pickles(case) -> None:
    tier, structure, _, _ = case
    first, second = tier.build(structure), tier.build(structure)
    _assert_identical(first, second)
    _assert_identical(first, pickle.loads(pickle.dumps(first)))
    assert isinstance(pickle.loads(pickle.dumps(tier)), type(tier))


def test_tensors_match_declared_dims(case) -> None:
    tier, structure, _, _ = case
    graph, dims = tier.build(structure), tier.dims
    assert isinstance(tier, Tier)
    assert graph.x.dtype == torch.float32 and graph.x.shape == (graph.num_nodes, dims.node_dim)
    assert graph.edge_index.dtype == torch.long and graph.edge_index.shape[0] == 2
    assert graph.edge_attr.dtype == torch.float32
    assert graph.edge_attr.shape == (graph.edge_index.shape[1], dims.edge_dim)
    assert graph.num_nodes > 0
    if graph.edge_index.numel():
        assert int(graph.edge_index.min()) >= 0 and int(graph.edge_index.max()) < graph.num_nodes
    assert torch.isfinite(graph.x).all() and torch.isfinite(graph.edge_attr).all()
    assert ("node_type" in graph) == (dims.num_node_types > 0)
    if dims.num_node_types:
        assert graph.node_type.dtype == torch.long and graph.node_type.shape == (graph.num_nodes,)
        assert int(graph.node_type.min()) >= 0 and int(graph.node_type.max()) < dims.num_node_types
    assert ("u" in graph) == (dims.global_dim > 0)
    if dims.global_dim:
        assert graph.u.shape == (1, dims.global_dim)
    if dims.edge_distance_index is not None and graph.edge_attr.numel():
        assert (graph.edge_attr[:, dims.edge_distance_index] > 0).all(), "distance column must be positive"


def test_atom_index_points_at_sites(case) -> None:
    tier, structure, _, _ = case
    graph = tier.build(structure)
    assert graph.atom_index.dtype == torch.long and graph.atom_index.shape == (graph.num_nodes,)
    assert int(graph.atom_index.min()) >= 0 and int(graph.atom_index.max()) < len(structure)
    if "member_index" in graph:
        assert graph.member_index.shape[0] == 2
        assert int(graph.member_index[0].max()) < graph.num_nodes
        assert int(graph.member_index[1].max()) < len(structure)


def test_invariant_to_site_permutation(case) -> None:
    tier, structure, _, _ = case
    permutation = np.random.default_rng(7).permutation(len(structure))
    assert_same_graph(tier.build(structure), tier.build(_permuted(structure, permutation)), permutation)


def test_invariant_to_rotation_and_translation(case) -> None:
    tier, structure, _, _ = case
    identity = np.arange(len(structure))
    reference = tier.build(structure)
    assert_same_graph(reference, tier.build(_rotated(structure, _random_rotation(3))), identity)
    assert_same_graph(reference, tier.build(_translated(structure, np.array([0.31, -0.17, 0.58]))), identity)


def test_invariant_to_wrapping_fractional_coordinates(crystal_case) -> None:
    tier, structure, _, _ = crystal_case
    shifts = np.random.default_rng(11).integers(-2, 3, size=(len(structure), 3))
    unwrapped = Structure(structure.lattice, structure.species, structure.frac_coords + shifts)
    assert_same_graph(tier.build(structure), tier.build(unwrapped), np.arange(len(structure)))


def _perturbed_params(params: dict) -> dict | None:
    for key, value in params.items():
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            return {**params, key: value * 1.5 + 1}
    return None


def test_cache_key_changes_with_params_and_version(case, monkeypatch: pytest.MonkeyPatch) -> None:
    tier, structure, name, _ = case
    key = cache_key(tier, structure)
    assert key == cache_key(get_tier(name, **dict(tier.params())), structure), "params() must rebuild the tier"
    perturbed = _perturbed_params(dict(tier.params()))
    if perturbed is not None:
        assert cache_key(get_tier(name, **perturbed), structure) != key
    monkeypatch.setattr(type(tier), "version", f"{tier.version}-next")
    assert cache_key(tier, structure) != key


KEY_SCRIPT = """
import json, sys
sys.path.insert(0, {plugin!r}); sys.path.insert(0, {tests!r})
import reference_structures
from tierbench.cache import cache_key
from tierbench.registry import get_tier
cases = json.loads(sys.argv[1])
print(json.dumps([cache_key(get_tier(n, **p), getattr(reference_structures, s)()) for n, p, s in cases]))
"""


def test_cache_key_is_stable_across_processes() -> None:
    script = KEY_SCRIPT.format(plugin=str(EXAMPLE_PLUGIN), tests=str(Path(__file__).parent))
    output = subprocess.run(
        [sys.executable, "-c", script, json.dumps(CASES)], capture_output=True, text=True, check=True
    ).stdout
    here = [cache_key(get_tier(name, **params), STRUCTURES[label]()) for name, params, label in CASES]
    assert json.loads(output.strip().splitlines()[-1]) == here
