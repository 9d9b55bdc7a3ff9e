"""Building the atom graph (see :mod:`.tier`): the structure's checks, the neighbor search and the tensors.

:meth:`~tierbench_tiers.atom.tier.AtomTier.build` imports this module on its first call, so that the
tier's class imports without vesin, NumPy and torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch_geometric.data import Data

from tierbench.errors import UnsupportedStructureError
from tierbench.tier import structure_kind
from tierbench_tiers.atom.neighbors import (
    PairList,
    directed_edges,
    nearest_from,
    one_per_pair,
    search_within_cutoff,
)
from tierbench_tiers.atom.tier import DISTANCE_RESOLUTION, AtomTier
from tierbench_tiers.elements import atomic_numbers, descriptor_table

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

COINCIDENT_DISTANCE = 1e-3
"""Å. Atoms closer than this are the same point: their edge has no direction."""

DENSEST_ATOM_DENSITY = 0.2
"""Atoms per Å³, a little above diamond's 0.176: bounds a molecule's expected neighbor count."""


def build(tier: AtomTier, structure: Structure | Molecule) -> Data:
    """The atom graph of a crystal or a molecule (see :meth:`AtomTier.build`)."""
    numbers = atomic_numbers(structure, tier=tier.name)
    positions, lattice = _geometry(tier, structure)
    pairs = search_within_cutoff(positions, lattice, tier.cutoff)
    num_atoms = len(numbers)
    if 2 * len(pairs.distance) > tier.max_edges:
        raise _too_many_pairs(tier, 2 * len(pairs.distance), num_atoms)
    degree = np.bincount(pairs.ends.ravel(), minlength=num_atoms)
    if not degree.all():
        pairs = _join_isolated(tier, structure, positions, lattice, pairs=pairs, isolated=np.flatnonzero(degree == 0))
    if len(pairs.distance) and pairs.distance.min() < COINCIDENT_DISTANCE:
        closest = int(np.argmin(pairs.distance))
        raise UnsupportedStructureError(
            f"sites {pairs.source[closest]} and {pairs.target[closest]} sit on the same point "
            f"({pairs.distance[closest]:.2g} Å apart); validate the structure first",
            tier=tier.name,
        )
    edges = directed_edges(pairs, num_atoms, tier.max_neighbors)
    return Data(
        x=torch.from_numpy(descriptor_table().take(numbers, axis=0)),
        edge_index=torch.from_numpy(edges.endpoints),
        edge_attr=torch.from_numpy(edges.distance[:, None]),
        node_type=torch.from_numpy(numbers),
        atom_index=torch.from_numpy(np.arange(num_atoms)),
        edge_vec=torch.from_numpy(edges.vector),
    )


def describe(tier: AtomTier, structure: Structure | Molecule) -> dict[str, Any]:
    """Sizes of the graph: degrees, edge lengths, and the sites joined beyond the cutoff."""
    graph = build(tier, structure)
    degree = np.bincount(graph.edge_index[0].numpy(), minlength=graph.num_nodes)
    distance = graph.edge_attr[:, 0].numpy()
    beyond = np.unique(graph.edge_index[0].numpy()[distance >= tier.cutoff])
    return {
        "atoms": int(graph.num_nodes),
        "edges": int(distance.size),
        "degree": {"min": int(degree.min()), "mean": float(degree.mean()), "max": int(degree.max())},
        "shortest_edge_angstrom": float(distance.min()) if distance.size else None,
        "longest_edge_angstrom": float(distance.max()) if distance.size else None,
        "sites_joined_beyond_cutoff": beyond.tolist(),
    }


def _geometry(tier: AtomTier, structure: Structure | Molecule) -> tuple[np.ndarray, np.ndarray | None]:
    """Cartesian positions and (for a crystal) the lattice matrix, checked for the tier."""
    if len(structure) == 0:
        raise UnsupportedStructureError("the structure has no atoms", tier=tier.name)
    positions = structure.cart_coords
    lattice = None
    if structure_kind(structure) == "crystal":
        lattice = structure.lattice.matrix  # type: ignore[union-attr]
        periodic = structure.lattice.pbc  # type: ignore[union-attr]
        if not all(periodic):
            axes = ", ".join(axis for axis, flag in zip("abc", periodic, strict=True) if flag) or "no axis"
            raise UnsupportedStructureError(
                f"the cell is periodic along {axes} only (a slab, wire or cluster in a box); the atom tier "
                "takes fully periodic crystals, or molecules without a cell",
                tier=tier.name,
            )
    # a NaN or infinite lattice entry reaches the Cartesian positions too (0 × inf is NaN)
    if not np.isfinite(positions).all():
        raise UnsupportedStructureError("coordinates or lattice contain NaN or infinite values", tier=tier.name)
    estimate = _expected_pairs(len(positions), lattice, tier.cutoff)
    if estimate > tier.max_edges:
        raise _too_many_pairs(tier, estimate, len(positions), expected=True)
    return positions, lattice


def _expected_pairs(num_atoms: int, lattice: np.ndarray | None, radius: float) -> int:
    """Directed pairs expected within ``radius``, from the atom density."""
    sphere = 4.0 / 3.0 * math.pi * radius**3
    if lattice is None:
        return int(num_atoms * min(num_atoms - 1, DENSEST_ATOM_DENSITY * sphere))
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = lattice.tolist()
    volume = abs(ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx))
    return int(num_atoms * num_atoms / volume * sphere)


def _too_many_pairs(tier: AtomTier, pairs: int, num_atoms: int, *, expected: bool = False) -> UnsupportedStructureError:
    found = "would give about" if expected else "gives"
    return UnsupportedStructureError(
        f"{num_atoms} atoms at a {tier.cutoff:g} Å cutoff {found} {pairs:,} directed neighbor pairs, more "
        f"than max_edges={tier.max_edges:,}; lower the cutoff, or raise max_edges if memory allows "
        "(about 130 bytes per pair)",
        tier=tier.name,
    )


def _join_isolated(
    tier: AtomTier,
    structure: Structure | Molecule,
    positions: np.ndarray,
    lattice: np.ndarray | None,
    *,
    pairs: PairList,
    isolated: np.ndarray,
) -> PairList:
    """Add pairs from each isolated atom to its nearest neighbors, or refuse (``isolated="error"``).

    The search radius doubles until every isolated atom has found its neighbors. It never needs to
    pass the shortest lattice vector (an atom's own image) or a molecule's extent.
    """
    if tier.isolated == "error":
        sites = ", ".join(f"{index} ({structure[int(index)].species_string})" for index in isolated[:5])
        more = f" and {len(isolated) - 5} more" if len(isolated) > 5 else ""
        subject = f"site {sites} has" if len(isolated) == 1 else f"sites {sites}{more} have"
        raise UnsupportedStructureError(
            f"{subject} no neighbor within {tier.cutoff:g} Å; raise the cutoff or use isolated='nearest'",
            tier=tier.name,
        )
    if lattice is None:
        farthest = float(np.linalg.norm(np.ptp(positions, axis=0)))
    else:
        farthest = float(np.linalg.norm(lattice, axis=1).min())
    bound = farthest * (1 + 1e-9) + 2 * DISTANCE_RESOLUTION
    searched, remaining, joined = tier.cutoff, isolated, [pairs]
    while len(remaining) and searched < bound:
        radius = min(2 * searched, bound)
        expected = _expected_pairs(len(positions), lattice, radius)
        if expected > tier.max_edges:
            raise UnsupportedStructureError(
                f"site {remaining[0]} ({structure[int(remaining[0])].species_string}) has no neighbor within "
                f"{searched:g} Å, and searching farther would give about {expected:,} pairs, more than "
                f"max_edges={tier.max_edges:,}; raise the cutoff or max_edges",
                tier=tier.name,
            )
        wider = search_within_cutoff(positions, lattice, radius)
        nearest, complete = nearest_from(wider, remaining, radius)
        joined.append(one_per_pair(nearest))
        remaining, searched = remaining[~complete], radius
    return PairList.concatenate(joined)
