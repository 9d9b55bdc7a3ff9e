"""The atom tier: atoms joined to their neighbors within a cutoff (see :mod:`tierbench_tiers.atom.tier`)."""

from tierbench_tiers.atom.tier import DISTANCE_RESOLUTION, AtomTier

__all__ = ["DISTANCE_RESOLUTION", "AtomTier"]
