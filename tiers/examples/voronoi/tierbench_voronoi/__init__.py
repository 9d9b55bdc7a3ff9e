"""Voronoi tier: atoms joined by the faces of their Voronoi cells (O'Keeffe's solid-angle weights).

A complete tier plug-in in one module. Distance cutoffs join atoms that merely happen to be close; a
Voronoi face joins atoms that bound each other's cell, weighted by the solid angle the face subtends
(O'Keeffe, Acta Cryst. A35, 772, 1979). Faces smaller than ``min_weight`` of the largest face of the
cell are dropped, which removes the tiny faces that make Voronoi graphs fragile.

Graph:
    nodes: atoms; ``node_type`` = atomic number; ``x`` = [Voronoi cell volume (Å³), kept faces].
    edges: one per kept face and direction; ``edge_attr`` = [distance (Å), solid-angle weight,
    face area (Å²)].

Testing: the tierbench test kit checks the tier contract (determinism, dims, pickling, cache keys,
invariance to site order, rotation, translation and wrapping) in one call; ``tests/test_contract.py``::

    from tierbench.testing import check_tier
    from tierbench_voronoi import VoronoiTier


    def test_voronoi_tier_keeps_the_tier_contract():
        check_tier(VoronoiTier())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from pymatgen.analysis.local_env import VoronoiNN
from pymatgen.core import Molecule, Structure
from torch_geometric.data import Data

from tierbench.errors import UnsupportedStructureError
from tierbench.tier import TierDims


class VoronoiTier:
    """Atoms joined by shared Voronoi faces.

    Args:
        min_weight: Smallest kept face, as a fraction of the cell's largest solid angle.
        cutoff: Radius (Å) searched for Voronoi neighbors; large enough for any ordinary crystal.
    """

    name: ClassVar[str] = "voronoi"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("pymatgen",)
    kinds: ClassVar[tuple[str, ...]] = ("crystal",)

    def __init__(self, min_weight: float = 0.1, cutoff: float = 10.0) -> None:
        self.min_weight = float(min_weight)
        self.cutoff = float(cutoff)

    @property
    def dims(self) -> TierDims:
        """Two node features, three edge features, atomic numbers as node types."""
        return TierDims(node_dim=2, edge_dim=3, num_node_types=119, edge_distance_index=0)

    def params(self) -> Mapping[str, Any]:
        """Settings that change the graph."""
        return {"min_weight": self.min_weight, "cutoff": self.cutoff}

    def build(self, structure: Structure | Molecule) -> Data:
        """Build the Voronoi graph of a crystal.

        Raises:
            UnsupportedStructureError: For molecules (a Voronoi cell of an isolated molecule is unbounded).
        """
        if not isinstance(structure, Structure):
            raise UnsupportedStructureError("the Voronoi tier needs a periodic crystal", tier=self.name)
        # VoronoiNN expects every site inside the cell
        structure = Structure.from_sites(structure.sites, to_unit_cell=True)
        analyzer = VoronoiNN(cutoff=self.cutoff, extra_nn_info=True, compute_adj_neighbors=False)
        sources, targets, features, node_features = [], [], [], []
        for centre, faces in enumerate(analyzer.get_all_nn_info(structure)):
            kept = [face for face in faces if face["weight"] >= self.min_weight]
            volume = sum(face["poly_info"]["volume"] for face in faces)
            node_features.append([volume, len(kept)])
            for face in kept:
                distance = float(np.linalg.norm(face["site"].coords - structure[centre].coords))
                sources.append(centre)
                targets.append(int(face["site_index"]))
                features.append([distance, float(face["weight"]), float(face["poly_info"]["area"])])
        return Data(
            x=torch.tensor(node_features, dtype=torch.float32),
            node_type=torch.tensor(structure.atomic_numbers, dtype=torch.long),
            edge_index=torch.tensor([sources, targets], dtype=torch.long).reshape(2, -1),
            edge_attr=torch.tensor(features, dtype=torch.float32).reshape(-1, 3),
            atom_index=torch.arange(len(structure), dtype=torch.long),
        )
