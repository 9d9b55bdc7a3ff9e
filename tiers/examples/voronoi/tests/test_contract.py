"""The Voronoi tier keeps the tierbench tier contract, checked with the public test kit.

Run from the plug-in's folder (``pytest``) or from the tierbench checkout
(``pytest tiers/examples/voronoi/tests``); the plug-in need not be installed.
"""

from __future__ import annotations

from tierbench_voronoi import VoronoiTier

from tierbench.testing import check_tier, reference


def test_voronoi_tier_keeps_the_tier_contract() -> None:
    """Every check on rutile and perovskite, the reference structures of the kind it accepts."""
    check_tier(VoronoiTier())


def test_voronoi_tier_keeps_the_contract_with_other_params() -> None:
    """Other params, other crystals: a mapping names the structures in failure messages."""
    check_tier(VoronoiTier(min_weight=0.3), {"rock_salt": reference.rock_salt(), "wurtzite": reference.wurtzite()})
