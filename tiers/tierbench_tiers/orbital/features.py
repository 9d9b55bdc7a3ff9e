"""Layout of the orbital graph: the matrices of each backend, the node-type vocabulary and column names.

The values are computed by :mod:`.graph` (see its docstring for every column); this module holds only the
layout, so that the tier's class reads its widths without importing NumPy, torch or the backends.
"""

from __future__ import annotations

GFN_MATRICES = ("F", "P", "S", "H")
"""Matrices of the ``xtb`` and ``gfn-tb`` backends, in feature order."""

PYSCF_MATRICES = ("F", "P", "S", "H", "J", "K")
"""Matrices of the ``pyscf`` backend, in feature order."""

MAX_GFN_ATOMIC_NUMBER = 86
MAX_SHELLS_PER_ATOM = 3
"""GFN1 and GFN2 give every element at most three shells."""

NODE_FEATURES_PER_MATRIX = 3
EXTRA_NODE_FEATURES = 1
EXTRA_EDGE_FEATURES = 3
GLOBAL_FEATURE_NAMES = ("energy_per_atom", "gap", "fermi_level")
"""Graph-level features (Hartree): the cheap method's energy per atom, its HOMO–LUMO (band) gap and
its Fermi level (midgap for a molecule)."""


def node_feature_names(matrices: tuple[str, ...]) -> list[str]:
    """Column names of ``x`` for a backend whose matrices are ``matrices``."""
    names = [f"{m}_{kind}" for m in matrices for kind in ("mean_diagonal", "self_norm", "onsite_coupling")]
    return [*names, "mulliken_population"]


def edge_feature_names(matrices: tuple[str, ...]) -> list[str]:
    """Column names of ``edge_attr`` for a backend whose matrices are ``matrices``."""
    return [*(f"{m}_norm" for m in matrices), "overlap_population", "bond_energy", "distance"]
