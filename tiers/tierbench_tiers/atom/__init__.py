"""The atom tier: atoms joined to their neighbors within a cutoff (see :mod:`tierbench_tiers.atom.tier`)."""

from tierbench_tiers.atom.neighbors import DISTANCE_RESOLUTION
from tierbench_tiers.atom.tier import AtomTier

__all__ = ["DISTANCE_RESOLUTION", "AtomTier"]
