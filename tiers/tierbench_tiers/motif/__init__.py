"""Motif tier: coordination polyhedra and their corner, edge and face sharing (see :mod:`.tier`)."""

from tierbench_tiers.motif.tier import MotifTier

__all__ = ["MotifTier"]
