"""The atom tier: atoms joined to every neighbor within a cutoff (CGCNN, MEGNet and SchNet graphs).

Nodes are the sites of the structure. Each node carries its atomic number ``node_type`` (for a learned
embedding) and the fixed element descriptors of :mod:`tierbench_tiers.elements` as ``x``. Edges join
every pair of atoms closer than ``cutoff``, through periodic images for crystals; a crystal's atom is
also joined to its own images when they are close enough (a one-atom cell has only such edges). The
graph is directed with both directions of every pair present, and ``edge_attr`` holds the distance in
Å; ``edge_vec`` holds the displacement from the source atom to the target atom's image, for models that
use directions. Expanding distances in radial basis functions is the model's job, so cached graphs
stay small.

Edge order: by source atom, then distance, then target atom, then periodic image (lexicographic lattice
translation). Distances count as equal when they round to the same multiple of
:data:`DISTANCE_RESOLUTION`, so rounding noise from a rotation or a permutation of the input changes
neither the order within a source nor which ties the neighbor cap keeps.

Neighbor cap (``max_neighbors = k``): every atom keeps its ``k`` nearest neighbors and all neighbors
tied with the ``k``-th; an edge is kept when either of its atoms keeps it, so the graph stays symmetric
and a degree may exceed ``k``. ``cutoff=8.0, max_neighbors=12`` gives CGCNN's graphs.

Atoms with no neighbor inside the cutoff (``isolated``): ``"nearest"`` joins such an atom to its nearest
neighbors (all ties, images included) beyond the cutoff, in both directions; an atom that has no other
atom at all (a one-atom molecule) stays without edges. ``"error"`` raises
:class:`~tierbench.tier.UnsupportedStructureError` instead.

Size: the neighbor search uses memory linear in the number of pairs, which ``max_edges`` bounds; a
structure expected to exceed it (from its atom density) is refused before the search starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch_geometric.data import Data

from tierbench.tier import TierDims, UnsupportedStructureError, structure_kind
from tierbench_tiers.atom.neighbors import (
    DISTANCE_RESOLUTION,
    PairList,
    directed_edges,
    nearest_from,
    one_per_pair,
    search_within_cutoff,
)
from tierbench_tiers.elements import DESCRIPTOR_DIM, NUM_ELEMENT_TYPES, atomic_numbers, descriptor_table

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

COINCIDENT_DISTANCE = 1e-3
"""Å. Atoms closer than this are the same point: their edge has no direction."""

DEFAULT_MAX_EDGES = 10_000_000
"""About 1.3 GB at the peak of a build (≈130 bytes per directed pair)."""

DENSEST_ATOM_DENSITY = 0.2
"""Atoms per Å³, a little above diamond's 0.176: bounds a molecule's expected neighbor count."""

IsolatedPolicy = Literal["nearest", "error"]
ISOLATED_POLICIES: tuple[str, ...] = ("nearest", "error")


@dataclass(frozen=True)
class AtomTier:
    """Atom graphs of crystals and molecules within a distance cutoff.

    Args:
        cutoff: Neighbor distance in Å (pairs strictly closer are joined).
        max_neighbors: Keep only each atom's ``k`` nearest neighbors (with ties, symmetric; see the
            module docstring); ``None`` keeps every pair within the cutoff.
        isolated: What happens to an atom with no neighbor inside the cutoff: ``"nearest"`` joins it to
            its nearest neighbors, ``"error"`` refuses the structure.
        max_edges: Most directed pairs the neighbor search may find before the structure is refused.

    Raises:
        ValueError: A parameter is out of range.
    """

    cutoff: float = 5.0
    max_neighbors: int | None = None
    isolated: IsolatedPolicy = "nearest"
    max_edges: int = DEFAULT_MAX_EDGES

    name: ClassVar[str] = "atom"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("vesin", "pymatgen")
    kinds: ClassVar[tuple[str, ...]] = ("crystal", "molecule")

    def __post_init__(self) -> None:
        cutoff = float(self.cutoff)
        if not (math.isfinite(cutoff) and cutoff > 0):
            raise ValueError(f"cutoff must be a positive distance in Å, got {self.cutoff!r}")
        object.__setattr__(self, "cutoff", cutoff)
        if self.max_neighbors is not None and (isinstance(self.max_neighbors, bool) or self.max_neighbors < 1):
            raise ValueError(f"max_neighbors must be a positive integer or None, got {self.max_neighbors!r}")
        if self.max_neighbors is not None:
            object.__setattr__(self, "max_neighbors", int(self.max_neighbors))
        if self.isolated not in ISOLATED_POLICIES:
            raise ValueError(f"isolated must be one of {', '.join(ISOLATED_POLICIES)}, got {self.isolated!r}")
        if self.max_edges < 1:
            raise ValueError(f"max_edges must be a positive integer, got {self.max_edges!r}")
        object.__setattr__(self, "max_edges", int(self.max_edges))

    @property
    def dims(self) -> TierDims:
        """Element descriptors per node, one distance per edge, an atomic-number vocabulary."""
        return TierDims(node_dim=DESCRIPTOR_DIM, edge_dim=1, num_node_types=NUM_ELEMENT_TYPES, edge_distance_index=0)

    def params(self) -> Mapping[str, Any]:
        """Every setting that changes the graph (``max_edges`` decides which structures are refused)."""
        return {
            "cutoff": self.cutoff,
            "max_neighbors": self.max_neighbors,
            "isolated": self.isolated,
            "max_edges": self.max_edges,
        }

    def build(self, structure: Structure | Molecule) -> Data:
        """Build the atom graph of a crystal or a molecule.

        Returns:
            ``Data`` with ``x [N, DESCRIPTOR_DIM]``, ``node_type [N]`` (atomic numbers),
            ``atom_index [N]``, ``edge_index [2, E]``, ``edge_attr [E, 1]`` (distance, Å) and
            ``edge_vec [E, 3]`` (displacement source → target image, Å).

        Raises:
            UnsupportedStructureError: Partial occupancy, partial periodicity, non-finite or coincident
                positions, too many pairs, or (``isolated="error"``) an atom without neighbors.
            UnsupportedElementError: A site holds no chemical element.
        """
        numbers = atomic_numbers(structure, tier=self.name)
        positions, lattice = self._geometry(structure)
        pairs = search_within_cutoff(positions, lattice, self.cutoff)
        num_atoms = len(numbers)
        if 2 * len(pairs.distance) > self.max_edges:
            raise self._too_many_pairs(2 * len(pairs.distance), num_atoms)
        degree = np.bincount(pairs.ends.ravel(), minlength=num_atoms)
        if not degree.all():
            pairs = self._join_isolated(structure, positions, lattice, pairs, np.flatnonzero(degree == 0))
        if len(pairs.distance) and pairs.distance.min() < COINCIDENT_DISTANCE:
            closest = int(np.argmin(pairs.distance))
            raise UnsupportedStructureError(
                f"sites {pairs.source[closest]} and {pairs.target[closest]} sit on the same point "
                f"({pairs.distance[closest]:.2g} Å apart); validate the structure first",
                tier=self.name,
            )
        edges = directed_edges(pairs, num_atoms, self.max_neighbors)
        return Data(
            x=torch.from_numpy(descriptor_table().take(numbers, axis=0)),
            edge_index=torch.from_numpy(edges.endpoints),
            edge_attr=torch.from_numpy(edges.distance[:, None]),
            node_type=torch.from_numpy(numbers),
            atom_index=torch.from_numpy(np.arange(num_atoms)),
            edge_vec=torch.from_numpy(edges.vector),
        )

    def describe(self, structure: Structure | Molecule) -> dict[str, Any]:
        """Sizes of the graph: degrees, edge lengths, and the sites joined beyond the cutoff."""
        graph = self.build(structure)
        degree = np.bincount(graph.edge_index[0].numpy(), minlength=graph.num_nodes)
        distance = graph.edge_attr[:, 0].numpy()
        beyond = np.unique(graph.edge_index[0].numpy()[distance >= self.cutoff])
        return {
            "atoms": int(graph.num_nodes),
            "edges": int(distance.size),
            "degree": {"min": int(degree.min()), "mean": float(degree.mean()), "max": int(degree.max())},
            "shortest_edge_angstrom": float(distance.min()) if distance.size else None,
            "longest_edge_angstrom": float(distance.max()) if distance.size else None,
            "sites_joined_beyond_cutoff": beyond.tolist(),
        }

    def _geometry(self, structure: Structure | Molecule) -> tuple[np.ndarray, np.ndarray | None]:
        """Cartesian positions and (for a crystal) the lattice matrix, checked for this tier."""
        if len(structure) == 0:
            raise UnsupportedStructureError("the structure has no atoms", tier=self.name)
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
                    tier=self.name,
                )
        # a NaN or infinite lattice entry reaches the Cartesian positions too (0 × inf is NaN)
        if not np.isfinite(positions).all():
            raise UnsupportedStructureError("coordinates or lattice contain NaN or infinite values", tier=self.name)
        estimate = self._expected_pairs(len(positions), lattice, self.cutoff)
        if estimate > self.max_edges:
            raise self._too_many_pairs(estimate, len(positions), expected=True)
        return positions, lattice

    @staticmethod
    def _expected_pairs(num_atoms: int, lattice: np.ndarray | None, radius: float) -> int:
        """Directed pairs expected within ``radius``, from the atom density."""
        sphere = 4.0 / 3.0 * math.pi * radius**3
        if lattice is None:
            return int(num_atoms * min(num_atoms - 1, DENSEST_ATOM_DENSITY * sphere))
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = lattice.tolist()
        volume = abs(ax * (by * cz - bz * cy) + ay * (bz * cx - bx * cz) + az * (bx * cy - by * cx))
        return int(num_atoms * num_atoms / volume * sphere)

    def _too_many_pairs(self, pairs: int, num_atoms: int, *, expected: bool = False) -> UnsupportedStructureError:
        found = "would give about" if expected else "gives"
        return UnsupportedStructureError(
            f"{num_atoms} atoms at a {self.cutoff:g} Å cutoff {found} {pairs:,} directed neighbor pairs, more "
            f"than max_edges={self.max_edges:,}; lower the cutoff, or raise max_edges if memory allows "
            "(about 130 bytes per pair)",
            tier=self.name,
        )

    def _join_isolated(
        self,
        structure: Structure | Molecule,
        positions: np.ndarray,
        lattice: np.ndarray | None,
        pairs: PairList,
        isolated: np.ndarray,
    ) -> PairList:
        """Add pairs from each isolated atom to its nearest neighbors, or refuse (``isolated="error"``).

        The search radius doubles until every isolated atom has found its neighbors. It never needs to
        pass the shortest lattice vector (an atom's own image) or a molecule's extent.
        """
        if self.isolated == "error":
            sites = ", ".join(f"{index} ({structure[int(index)].species_string})" for index in isolated[:5])
            more = f" and {len(isolated) - 5} more" if len(isolated) > 5 else ""
            subject = f"site {sites} has" if len(isolated) == 1 else f"sites {sites}{more} have"
            raise UnsupportedStructureError(
                f"{subject} no neighbor within {self.cutoff:g} Å; raise the cutoff or use isolated='nearest'",
                tier=self.name,
            )
        if lattice is None:
            farthest = float(np.linalg.norm(np.ptp(positions, axis=0)))
        else:
            farthest = float(np.linalg.norm(lattice, axis=1).min())
        bound = farthest * (1 + 1e-9) + 2 * DISTANCE_RESOLUTION
        searched, remaining, joined = self.cutoff, isolated, [pairs]
        while len(remaining) and searched < bound:
            radius = min(2 * searched, bound)
            expected = self._expected_pairs(len(positions), lattice, radius)
            if expected > self.max_edges:
                raise UnsupportedStructureError(
                    f"site {remaining[0]} ({structure[int(remaining[0])].species_string}) has no neighbor within "
                    f"{searched:g} Å, and searching farther would give about {expected:,} pairs, more than "
                    f"max_edges={self.max_edges:,}; raise the cutoff or max_edges",
                    tier=self.name,
                )
            wider = search_within_cutoff(positions, lattice, radius)
            nearest, complete = nearest_from(wider, remaining, radius)
            joined.append(one_per_pair(nearest))
            remaining, searched = remaining[~complete], radius
        return PairList.concatenate(joined)
