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

from tierbench.tier import TierDims
from tierbench_tiers.elements import DESCRIPTOR_DIM, NUM_ELEMENT_TYPES

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure
    from torch_geometric.data import Data

DISTANCE_RESOLUTION = 2.0**-16
"""Å (about 1.5e-5 Å): distances that round to the same multiple are equal for ordering and ties.

A binary step, so that no decimal distance such as a/2 of a tabulated lattice sits on a rounding edge.
"""

DEFAULT_MAX_EDGES = 10_000_000
"""About 1.3 GB at the peak of a build (≈130 bytes per directed pair)."""

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
        from tierbench_tiers.atom import builder  # vesin and torch load with the first build, not with the class

        return builder.build(self, structure)

    def describe(self, structure: Structure | Molecule) -> dict[str, Any]:
        """Sizes of the graph: degrees, edge lengths, and the sites joined beyond the cutoff."""
        from tierbench_tiers.atom import builder

        return builder.describe(self, structure)
