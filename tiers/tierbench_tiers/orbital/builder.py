"""Building the orbital graph (see :mod:`.tier`): the structure through its backend, then the shell graph.

:meth:`~tierbench_tiers.orbital.tier.OrbitalTier.build` imports this module on its first call, so that
the tier's class imports without torch, SciPy and the backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierbench.errors import UnsupportedStructureError
from tierbench.tier import structure_kind
from tierbench_tiers.orbital.crystal_tb import tight_binding_system
from tierbench_tiers.orbital.features import GLOBAL_FEATURE_NAMES
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.gfn_parameters import gfn_parametrization
from tierbench_tiers.orbital.graph import OrbitalSystem, build_graph
from tierbench_tiers.orbital.pyscf_backend import pyscf_system
from tierbench_tiers.orbital.tier import OrbitalTier, single_threaded
from tierbench_tiers.orbital.xtb_backend import xtb_system

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure
    from torch_geometric.data import Data


def build(tier: OrbitalTier, structure: Structure | Molecule) -> Data:
    """The shell graph of a crystal or a molecule (see :meth:`OrbitalTier.build`)."""
    with single_threaded():
        return build_graph(
            _system(tier, structure),
            overlap_threshold=tier.edge_threshold,
            include_global=tier.global_features,
        )


def describe(tier: OrbitalTier, structure: Structure | Molecule) -> dict[str, Any]:
    """The backend used, graph sizes, and the cheap method's energy per atom, gap and Fermi level (Hartree)."""
    with single_threaded():
        system = _system(tier, structure)
    graph = build_graph(system, overlap_threshold=tier.edge_threshold, include_global=False)
    return {
        "backend": _backend_for(tier, structure),
        "shells": int(graph.num_nodes),
        "orbitals": int(system.shells.offsets[-1]),
        "edges": int(graph.edge_index.shape[1]),
        **{name: float(value) for name, value in zip(GLOBAL_FEATURE_NAMES, system.global_features, strict=True)},
    }


def _backend_for(tier: OrbitalTier, structure: Structure | Molecule) -> str:
    if tier.backend != "auto":
        return tier.backend
    return "gfn-tb" if structure_kind(structure) == "crystal" else "xtb"


def _system(tier: OrbitalTier, structure: Structure | Molecule) -> OrbitalSystem:
    geometry = Geometry.of(structure, tier.name)
    backend = _backend_for(tier, structure)
    if backend == "pyscf":
        return pyscf_system(geometry, tier.pyscf, tier.name)
    if backend == "gfn-tb":
        return tight_binding_system(geometry, tier.tight_binding, tier.name)
    parametrization = gfn_parametrization(tier.xtb.method)
    orbitals = sum(parametrization.element(symbol, tier=tier.name).orbitals for symbol in geometry.symbols)
    if orbitals > tier.max_orbitals:
        raise UnsupportedStructureError(
            f"{len(geometry.symbols)} atoms give {orbitals} orbitals, more than max_orbitals = {tier.max_orbitals}",
            tier=tier.name,
        )
    return xtb_system(geometry, tier.xtb, tier.name)
