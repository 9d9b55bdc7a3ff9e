"""The contract every registered tier (and the example plug-in) must keep, checked with ``tierbench.testing``.

For each tier and each reference structure of a kind the tier accepts, one test case per check of the
kit (:data:`tierbench.testing.CHECKS`): the build is deterministic, the graph and the tier pickle, the
tensors match the declared dims, ``atom_index`` points at real sites, the cache key changes with params
and version, and the graph is invariant (up to node order) to permuting the sites, rotating and
translating the structure, and wrapping fractional coordinates; plus one case that the cache keys are
stable across processes. Then the kit itself: it passes a correct tier and fails deliberately broken
ones, naming the check.
"""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch
from pymatgen.core import Molecule, Structure
from torch_geometric.data import Data

from tests.paths import EXAMPLE_PLUGIN_DIR
from tests.unit.featurization.test_cache import CountingDistanceTier
from tierbench.errors import TierbenchError
from tierbench.testing import (
    ACROSS_PROCESSES,
    CHECKS,
    CONTRACT_STRUCTURES,
    TierContractError,
    check_cache_key_across_processes,
    check_tier,
    checks_for,
    reference,
)
from tierbench.tier import TierDims, available_tiers, get_tier, structure_kind

sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))

# Backends that are not a tier's default but must keep the contract too.
EXTRA_VARIANTS: dict[str, list[dict]] = {"orbital": [{"backend": "pyscf"}]}
EXAMPLE_PLUGIN = "tierbench_voronoi:VoronoiTier"


def _tier_structures() -> list[tuple[str, dict, str]]:
    variants = [(name, {}) for name in available_tiers()]
    variants += [(name, params) for name in available_tiers() for params in EXTRA_VARIANTS.get(name, [])]
    variants.append((EXAMPLE_PLUGIN, {}))
    cases = []
    for name, params in variants:
        kinds = get_tier(name, **params).kinds  # an instance may accept less than its class
        cases += [
            (name, params, label) for label, make in CONTRACT_STRUCTURES.items() if structure_kind(make()) in kinds
        ]
    return cases


TIER_STRUCTURES = _tier_structures()
CASES = [
    (name, params, label, check)
    for name, params, label in TIER_STRUCTURES
    for check in checks_for(structure_kind(CONTRACT_STRUCTURES[label]()))
]
CASE_IDS = [
    f"{name.split(':')[0]}{json.dumps(params) if params else ''}-{label}-{check}"
    for name, params, label, check in CASES
]


@pytest.mark.parametrize(("name", "params", "label", "check"), CASES, ids=CASE_IDS)
def test_tier_keeps_the_contract(name: str, params: dict, label: str, check: str) -> None:
    CHECKS[check](get_tier(name, **params), CONTRACT_STRUCTURES[label](), name=label)


def test_cache_key_is_stable_across_processes() -> None:
    pairs = [(get_tier(name, **params), CONTRACT_STRUCTURES[label]()) for name, params, label in TIER_STRUCTURES]
    check_cache_key_across_processes(pairs, names=[label for _, _, label in TIER_STRUCTURES])


# --- the kit itself: a correct tier passes, broken ones fail on the right check ---------------------


class NoisyTier(CountingDistanceTier):
    """Not deterministic: fresh noise in the node features on every build."""

    def build(self, structure: Structure | Molecule) -> Data:
        graph = super().build(structure)
        graph.x = graph.x + torch.from_numpy(np.random.default_rng().random(graph.x.shape, dtype=np.float32))
        return graph


class LyingDimsTier(CountingDistanceTier):
    """Declares two node features and builds one."""

    @property
    def dims(self) -> TierDims:
        return TierDims(node_dim=2, edge_dim=1, edge_distance_index=0)


class OrientedTier(CountingDistanceTier):
    """Not rotation-invariant: centred Cartesian coordinates among the node features."""

    @property
    def dims(self) -> TierDims:
        return TierDims(node_dim=4, edge_dim=1, edge_distance_index=0)

    def build(self, structure: Structure | Molecule) -> Data:
        graph = super().build(structure)
        centred = structure.cart_coords - structure.cart_coords.mean(axis=0)
        graph.x = torch.cat([graph.x, torch.tensor(centred, dtype=torch.float32)], dim=1)
        return graph


class ShiftedAtomIndexTier(CountingDistanceTier):
    """Points each node at the next site: the last node points past the structure."""

    def build(self, structure: Structure | Molecule) -> Data:
        graph = super().build(structure)
        graph.atom_index = graph.atom_index + 1
        return graph


class ProcessSaltedTier(CountingDistanceTier):
    """A cache key that depends on the process: its params carry this process's salted string hash."""

    def __init__(self, scale: float = 1.0, salt: int | None = None) -> None:
        super().__init__(scale)

    def params(self) -> Mapping[str, Any]:
        return {"scale": self.scale, "salt": hash("tierbench")}


BROKEN_TIERS = [
    (NoisyTier, "determinism"),
    (LyingDimsTier, "dims"),
    (OrientedTier, "rotation"),
    (ShiftedAtomIndexTier, "atom_index"),
]


def test_the_kit_passes_a_tier_that_keeps_the_contract() -> None:
    passed = check_tier(CountingDistanceTier())
    assert {label for label, _ in passed} == {"water", "methane"}  # its kinds are ("molecule",)
    assert {check for _, check in passed} == {*checks_for("molecule"), ACROSS_PROCESSES}
    assert "wrapping" not in checks_for("molecule") and "wrapping" in checks_for("crystal")


@pytest.mark.parametrize(("tier_class", "check"), BROKEN_TIERS, ids=[check for _, check in BROKEN_TIERS])
def test_the_kit_fails_a_broken_tier_and_names_the_check(tier_class: type, check: str) -> None:
    with pytest.raises(TierContractError, match=f"^tier distances .* failed check '{check}' on structure 'water'"):
        check_tier(tier_class(), {"water": reference.water()}, across_processes=False)
    with pytest.raises(TierContractError) as failure:
        CHECKS[check](tier_class(), reference.water())
    error = failure.value
    assert (error.check, error.structure) == (check, "H2O (molecule, 3 sites)")
    assert error.tier == 'distances {"scale": 1.0}'
    assert isinstance(error, AssertionError) and isinstance(error, TierbenchError)
    restored = pickle.loads(pickle.dumps(error))
    assert (str(restored), restored.check, restored.structure) == (str(error), check, error.structure)


def test_the_kit_fails_a_cache_key_that_depends_on_the_process() -> None:
    with pytest.raises(TierContractError, match=f"check '{ACROSS_PROCESSES}' on structure 'water'.*fresh process"):
        check_cache_key_across_processes([(ProcessSaltedTier(), reference.water())], names=["water"])


def test_the_kit_refuses_a_structure_the_tier_does_not_accept() -> None:
    with pytest.raises(ValueError, match="is a crystal"):
        check_tier(CountingDistanceTier(), [reference.rutile()])
    with pytest.raises(ValueError, match="unknown checks"):
        check_tier(CountingDistanceTier(), checks=["chirality"])


def test_reference_structures_are_fresh_copies() -> None:
    water = reference.water()
    water.translate_sites([0], [1.0, 0.0, 0.0])
    assert reference.water() is not reference.water()
    assert np.allclose(reference.water().cart_coords[0], [0.0, 0.0, 0.1173])
