"""Orbital tier: graphs of atomic-orbital shells from tight-binding and Hartree–Fock matrices (see :mod:`.tier`)."""

from tierbench_tiers.orbital.tier import OrbitalTier

__all__ = ["OrbitalTier"]
