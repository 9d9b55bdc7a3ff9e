"""The checks of the tier contract, one public function per check and structure.

Every check has the signature ``check(tier, structure, *, name=None, rtol=..., atol=...)``, builds what it
needs itself and raises :class:`~tierbench.testing.TierContractError` naming the tier, the structure and
the check. A test suite can therefore run one test case per tier × structure × check::

    from tierbench.testing import CHECKS, checks_for, reference

    @pytest.mark.parametrize("check", checks_for("crystal"))
    def test_my_tier(check):
        CHECKS[check](MyTier(), reference.rutile(), name="rutile")

:func:`tierbench.testing.check_tier` runs them all.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import torch
from pymatgen.core import Molecule, Structure

from tierbench.featurization.cache import cache_key
from tierbench.testing.failure import contract_check, structure_name
from tierbench.testing.graphs import DEFAULT_ATOL, DEFAULT_RTOL, assert_identical_graphs, assert_same_graph
from tierbench.testing.operations import permuted, random_rotation, rotated, translated, unwrapped
from tierbench.tier import Tier

PERMUTATION_SEED = 7
ROTATION_SEED = 3
TRANSLATION = np.array([0.31, -0.17, 0.58])
"""Fractional shift of a crystal; ten times it in Å for a molecule."""
WRAPPING_SEED = 11


class StructureCheck(Protocol):
    """The signature every per-structure check has."""

    def __call__(
        self,
        tier: Tier,
        structure: Structure | Molecule,
        *,
        name: str | None = None,
        rtol: float = DEFAULT_RTOL,
        atol: float = DEFAULT_ATOL,
    ) -> None:
        """Raise :class:`~tierbench.testing.TierContractError` when ``tier`` breaks the check on ``structure``."""
        ...


def _require(condition: object, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_determinism(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Two builds of the same structure give exactly the same graph (``rtol``/``atol`` are not used)."""
    with contract_check("determinism", tier, structure_name(structure, name)):
        assert_identical_graphs(tier.build(structure.copy()), tier.build(structure.copy()), what="two builds")


def _pickle_round_trip(value: object) -> object:
    """``value`` pickled and unpickled in this process: only bytes just written here are ever unpickled."""
    return pickle.loads(pickle.dumps(value))


def check_pickling(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """The graph and the tier survive a pickle round trip (``rtol``/``atol`` are not used)."""
    with contract_check("pickling", tier, structure_name(structure, name)):
        graph = tier.build(structure.copy())
        assert_identical_graphs(graph, _pickle_round_trip(graph), what="the graph and its unpickled copy")
        restored = _pickle_round_trip(tier)
        _require(isinstance(restored, type(tier)), f"the unpickled tier is a {type(restored).__name__}")


def check_dims(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """The graph's tensors have the dtypes and widths ``tier.dims`` declares (``rtol``/``atol`` are not used).

    ``x`` is ``[N, node_dim]`` float32 with ``N > 0``; ``edge_index`` ``[2, E]`` int64 within ``[0, N)``;
    ``edge_attr`` ``[E, edge_dim]`` float32; features are finite; ``node_type`` is present exactly when
    ``num_node_types > 0`` and lies in ``[0, num_node_types)``; ``u`` is present exactly when
    ``global_dim > 0`` and is ``[1, global_dim]``; the distance column of ``edge_attr`` is positive.
    """
    with contract_check("dims", tier, structure_name(structure, name)):
        _require(isinstance(tier, Tier), f"{type(tier).__name__} does not implement the Tier protocol")
        graph, dims = tier.build(structure.copy()), tier.dims
        n = graph.num_nodes
        _require(n is not None and n > 0, "the graph has no nodes")
        _require(graph.x.dtype == torch.float32, f"x is {graph.x.dtype}, not torch.float32")
        _require(graph.x.shape == (n, dims.node_dim), f"x is {tuple(graph.x.shape)}, dims say ({n}, {dims.node_dim})")
        edges = graph.edge_index
        _require(edges.dtype == torch.long, f"edge_index is {edges.dtype}, not torch.int64")
        _require(edges.dim() == 2 and edges.shape[0] == 2, f"edge_index is {tuple(edges.shape)}, not [2, E]")
        edge_attr = graph.edge_attr
        _require(edge_attr.dtype == torch.float32, f"edge_attr is {edge_attr.dtype}, not torch.float32")
        expected = (edges.shape[1], dims.edge_dim)
        _require(edge_attr.shape == expected, f"edge_attr is {tuple(edge_attr.shape)}, dims say {expected}")
        if edges.numel():
            low, high = int(edges.min()), int(edges.max())
            _require(low >= 0 and high < n, f"edge_index spans [{low}, {high}], nodes are [0, {n})")
        _require(torch.isfinite(graph.x).all(), "x has non-finite values")
        _require(torch.isfinite(edge_attr).all(), "edge_attr has non-finite values")
        _check_node_type(graph, dims.num_node_types)
        _require(
            ("u" in graph) == (dims.global_dim > 0),
            f"u is {'' if 'u' in graph else 'not '}present, dims say global_dim={dims.global_dim}",
        )
        if dims.global_dim:
            _require(
                graph.u.shape == (1, dims.global_dim), f"u is {tuple(graph.u.shape)}, dims say (1, {dims.global_dim})"
            )
        if dims.edge_distance_index is not None and edge_attr.numel():
            distances = edge_attr[:, dims.edge_distance_index]
            _require((distances > 0).all(), f"distance column {dims.edge_distance_index} of edge_attr must be positive")


def _check_node_type(graph: Any, num_node_types: int) -> None:
    present = "node_type" in graph
    _require(
        present == (num_node_types > 0),
        f"node_type is {'' if present else 'not '}present, dims say num_node_types={num_node_types}",
    )
    if num_node_types:
        node_type = graph.node_type
        _require(node_type.dtype == torch.long, f"node_type is {node_type.dtype}, not torch.int64")
        _require(node_type.shape == (graph.num_nodes,), f"node_type is {tuple(node_type.shape)}, not [N]")
        low, high = int(node_type.min()), int(node_type.max())
        _require(low >= 0 and high < num_node_types, f"node_type spans [{low}, {high}], dims say [0, {num_node_types})")


def check_atom_index(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """``atom_index`` (and ``member_index``, when present) point at nodes and sites that exist."""
    with contract_check("atom_index", tier, structure_name(structure, name)):
        graph, sites = tier.build(structure.copy()), len(structure)
        atom_index = graph.atom_index
        _require(atom_index.dtype == torch.long, f"atom_index is {atom_index.dtype}, not torch.int64")
        _require(atom_index.shape == (graph.num_nodes,), f"atom_index is {tuple(atom_index.shape)}, not [N]")
        low, high = int(atom_index.min()), int(atom_index.max())
        _require(low >= 0 and high < sites, f"atom_index spans [{low}, {high}], the structure has {sites} sites")
        if "member_index" in graph:
            members = graph.member_index
            _require(members.shape[0] == 2, f"member_index is {tuple(members.shape)}, not [2, M]")
            _require(int(members[0].max()) < graph.num_nodes, "member_index names a node that does not exist")
            _require(int(members[1].max()) < sites, "member_index names a site that does not exist")


def _perturbed_params(params: Mapping[str, Any]) -> dict[str, Any] | None:
    for key, value in params.items():
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            return {**params, key: value * 1.5 + 1}
    return None


def _with_version(tier: Tier, version: str) -> Tier:
    """A copy of ``tier`` whose class reports another ``version`` (the tier's own class is not touched)."""
    tier_class = type(tier)
    bumped = copy.copy(tier)
    bumped_class = type(tier_class.__name__, (tier_class,), {"version": version, "__slots__": ()})
    object.__setattr__(bumped, "__class__", bumped_class)  # also for frozen dataclasses
    return bumped


def check_cache_key(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """The cache key is rebuilt from ``params()`` and changes with a numeric param and with ``version``.

    The tier's class is rebuilt from ``params()`` (``type(tier)(**tier.params())``) and must give the same
    key; the first numeric param, changed, must give another key, and so must another ``version``.
    """
    with contract_check("cache_key", tier, structure_name(structure, name)):
        key = cache_key(tier, structure)
        params = dict(tier.params())
        _require(cache_key(type(tier)(**params), structure) == key, "params() must rebuild the tier")
        perturbed = _perturbed_params(params)
        if perturbed is not None:
            _require(cache_key(type(tier)(**perturbed), structure) != key, f"the key ignores params {perturbed}")
        _require(cache_key(_with_version(tier, f"{tier.version}-next"), structure) != key, "the key ignores version")


def check_permutation_invariance(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Reordering the sites gives the same graph up to node order."""
    with contract_check("permutation", tier, structure_name(structure, name)):
        permutation = np.random.default_rng(PERMUTATION_SEED).permutation(len(structure))
        other = tier.build(permuted(structure, permutation))
        assert_same_graph(tier.build(structure.copy()), other, permutation, rtol=rtol, atol=atol)


def check_rotation_invariance(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Rotating the structure gives the same graph up to node order."""
    with contract_check("rotation", tier, structure_name(structure, name)):
        other = tier.build(rotated(structure, random_rotation(ROTATION_SEED)))
        assert_same_graph(tier.build(structure.copy()), other, np.arange(len(structure)), rtol=rtol, atol=atol)


def check_translation_invariance(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Translating the structure gives the same graph up to node order."""
    with contract_check("translation", tier, structure_name(structure, name)):
        other = tier.build(translated(structure, TRANSLATION))
        assert_same_graph(tier.build(structure.copy()), other, np.arange(len(structure)), rtol=rtol, atol=atol)


def check_wrapping_invariance(
    tier: Tier,
    structure: Structure | Molecule,
    *,
    name: str | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Moving a crystal's sites by whole lattice vectors gives the same graph (molecules: nothing to check)."""
    if not isinstance(structure, Structure):
        return
    with contract_check("wrapping", tier, structure_name(structure, name)):
        shifts = np.random.default_rng(WRAPPING_SEED).integers(-2, 3, size=(len(structure), 3))
        other = tier.build(unwrapped(structure, shifts))
        assert_same_graph(tier.build(structure.copy()), other, np.arange(len(structure)), rtol=rtol, atol=atol)


CHECKS: Mapping[str, StructureCheck] = {
    "determinism": check_determinism,
    "pickling": check_pickling,
    "dims": check_dims,
    "atom_index": check_atom_index,
    "cache_key": check_cache_key,
    "permutation": check_permutation_invariance,
    "rotation": check_rotation_invariance,
    "translation": check_translation_invariance,
    "wrapping": check_wrapping_invariance,
}
"""Every per-structure check by name, in the order :func:`~tierbench.testing.check_tier` runs them."""

CRYSTAL_ONLY_CHECKS = frozenset({"wrapping"})
"""Checks that only mean something for a periodic structure."""


def checks_for(kind: str) -> tuple[str, ...]:
    """Names of the checks that apply to a structure of ``kind`` (``"crystal"`` or ``"molecule"``)."""
    return tuple(check for check in CHECKS if kind == "crystal" or check not in CRYSTAL_ONLY_CHECKS)
