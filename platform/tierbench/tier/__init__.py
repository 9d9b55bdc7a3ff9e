"""Tiers: the protocol a tier implements, the registry that finds tiers, and graph field names.

Plug-in authors import what they need from here::

    from tierbench.tier import TierDims, UnsupportedStructureError
"""

from __future__ import annotations

from tierbench.errors import (
    InvalidStructureError,
    NumericalError,
    TierError,
    UnsupportedElementError,
    UnsupportedStructureError,
)
from tierbench.plugins import UnknownTierError
from tierbench.tier.protocol import Tier, TierDims, structure_kind
from tierbench.tier.registry import available_tiers, get_tier, load_tier_class, loadable_tiers, resolve_tier

__all__ = [
    "InvalidStructureError",
    "NumericalError",
    "Tier",
    "TierDims",
    "TierError",
    "UnknownTierError",
    "UnsupportedElementError",
    "UnsupportedStructureError",
    "available_tiers",
    "get_tier",
    "load_tier_class",
    "loadable_tiers",
    "resolve_tier",
    "structure_kind",
]
