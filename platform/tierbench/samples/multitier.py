"""Multi-tier samples: one ``HeteroData`` holding every selected tier's graph of one structure.

Layout (what the fusion model reads):

* node type ``t`` per selected tier: ``x``, ``node_type`` (when the tier has one), ``u`` ``[1, g]``
  (when the tier has graph-level features) and ``num_nodes``;
* ``(t, "to", t)``: the tier's own edges with ``edge_attr`` (and ``edge_vec`` for the atom tier);
* ``(t, "on", "atom")``: each tier node linked to the atom it sits on (from ``atom_index``), present
  when the atom tier is selected;
* ``(t, "has", "atom")``: extra memberships from ``member_index`` (a motif and its ligands);
* graph level: ``y`` ``[1, n_targets]`` (standardized or raw, see the data module), ``sample_index``.

PyG batches this unchanged: node indices of cross edges are offset per sample automatically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch_geometric.data import Data, HeteroData

from tierbench.tier.fields import (
    ATOM_TIER,
    EDGE_EXTRAS,
    GLOBAL_FEATURES,
    INTRA,
    MEMBER_INDEX,
    MEMBER_OF,
    NODE_TYPE,
    ON_ATOM,
)


def combine_tiers(graphs: Mapping[str, Data], targets: Sequence[float] = (), sample_index: int = 0) -> HeteroData:
    """Assemble the per-tier graphs of one structure into a multi-tier sample.

    Args:
        graphs: Tier name → the tier's graph of the structure.
        targets: Target values, in a fixed order.
        sample_index: Position of the sample in its dataset (kept through batching).

    Returns:
        The ``HeteroData`` described in the module docstring.
    """
    sample = HeteroData()
    for tier_name, graph in graphs.items():
        store = sample[tier_name]
        store.x = graph.x
        store.num_nodes = graph.num_nodes
        for optional in (NODE_TYPE, GLOBAL_FEATURES):
            if optional in graph:
                store[optional] = graph[optional]
        edges = sample[tier_name, INTRA, tier_name]
        edges.edge_index = graph.edge_index
        edges.edge_attr = graph.edge_attr
        for extra in EDGE_EXTRAS:
            if extra in graph:
                edges[extra] = graph[extra]
        if ATOM_TIER in graphs and tier_name != ATOM_TIER:
            node_ids = torch.arange(graph.num_nodes, dtype=torch.long)
            sample[tier_name, ON_ATOM, ATOM_TIER].edge_index = torch.stack([node_ids, graph.atom_index])
            if MEMBER_INDEX in graph:
                sample[tier_name, MEMBER_OF, ATOM_TIER].edge_index = graph.member_index
    sample.y = torch.tensor([list(targets)], dtype=torch.float32)
    sample.sample_index = torch.tensor([sample_index], dtype=torch.long)
    return sample
