"""A test kit for tier authors: check that a tier keeps the tierbench tier contract.

The contract: a tier's build is deterministic; its tensors match ``tier.dims``; the tier and its graphs
pickle; ``atom_index`` points at real sites; its cache key is stable across processes and changes with
its params and version; and its graph is the same, up to node order, when the sites are permuted, the
structure is rotated or translated, or a crystal's fractional coordinates are unwrapped.

In a plug-in's test suite (pytest or any other runner)::

    from tierbench.testing import check_tier
    from tierbench_voronoi import VoronoiTier


    def test_voronoi_keeps_the_tier_contract():
        check_tier(VoronoiTier())

A broken contract raises :class:`TierContractError` (an ``AssertionError``) naming the tier, the
structure and the check. To get one test case per structure and check, parametrize over
:data:`CHECKS` and :func:`checks_for` with the structures of :mod:`tierbench.testing.reference`.
"""

from __future__ import annotations

from tierbench.testing import reference
from tierbench.testing.checks import (
    CHECKS,
    CRYSTAL_ONLY_CHECKS,
    StructureCheck,
    check_atom_index,
    check_cache_key,
    check_determinism,
    check_dims,
    check_permutation_invariance,
    check_pickling,
    check_rotation_invariance,
    check_translation_invariance,
    check_wrapping_invariance,
    checks_for,
)
from tierbench.testing.contract import ACROSS_PROCESSES, check_cache_key_across_processes, check_tier
from tierbench.testing.failure import TierContractError
from tierbench.testing.graphs import GRAPH_FIELDS, assert_identical_graphs, assert_same_graph, canonical_graph
from tierbench.testing.operations import permuted, random_rotation, rotated, translated, unwrapped
from tierbench.testing.reference import CONTRACT_STRUCTURES, contract_structures, fresh_copy

__all__ = [
    "ACROSS_PROCESSES",
    "CHECKS",
    "CONTRACT_STRUCTURES",
    "CRYSTAL_ONLY_CHECKS",
    "GRAPH_FIELDS",
    "StructureCheck",
    "TierContractError",
    "assert_identical_graphs",
    "assert_same_graph",
    "canonical_graph",
    "check_atom_index",
    "check_cache_key",
    "check_cache_key_across_processes",
    "check_determinism",
    "check_dims",
    "check_permutation_invariance",
    "check_pickling",
    "check_rotation_invariance",
    "check_tier",
    "check_translation_invariance",
    "check_wrapping_invariance",
    "checks_for",
    "contract_structures",
    "fresh_copy",
    "permuted",
    "random_rotation",
    "reference",
    "rotated",
    "translated",
    "unwrapped",
]
