"""Comparison of tier graphs up to node order, for invariance tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch_geometric.data import Data

GRAPH_FIELDS = ("x", "node_type", "edge_index", "edge_attr", "atom_index", "member_index", "u")


def _node_order(graph: Data, site_of_atom: Sequence[int]) -> np.ndarray:
    sites = np.asarray(site_of_atom)[graph.atom_index.numpy()]
    node_type = graph.node_type.numpy() if "node_type" in graph else np.zeros(graph.num_nodes, dtype=int)
    features = np.round(graph.x.double().numpy(), 4)
    keys = [*features.T[::-1], node_type, sites]
    return np.lexsort(keys)


def canonical_graph(graph: Data, site_of_atom: Sequence[int]) -> dict[str, np.ndarray]:
    """Node- and edge-order-free form of a graph.

    Args:
        graph: A tier graph.
        site_of_atom: For each site of the structure the graph was built from, the site of the
            reference structure it corresponds to (identity for the reference itself).

    Returns:
        Arrays in a canonical order: node sites, node types, node features, edges (as canonical node
        indices) with their features, member links and the global features.
    """
    order = _node_order(graph, site_of_atom)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    site_map = np.asarray(site_of_atom)
    canonical: dict[str, np.ndarray] = {
        "sites": site_map[graph.atom_index.numpy()][order],
        "x": graph.x.double().numpy()[order],
    }
    if "node_type" in graph:
        canonical["node_type"] = graph.node_type.numpy()[order]
    edges = rank[graph.edge_index.numpy()]
    edge_features = graph.edge_attr.double().numpy()
    edge_order = np.lexsort([*np.round(edge_features, 4).T[::-1], edges[1], edges[0]])
    canonical["edges"] = edges[:, edge_order]
    canonical["edge_attr"] = edge_features[edge_order]
    if "member_index" in graph:
        members = graph.member_index.numpy()
        pairs = np.stack([rank[members[0]], site_map[members[1]]])
        canonical["members"] = pairs[:, np.lexsort([pairs[1], pairs[0]])]
    if "u" in graph:
        canonical["u"] = graph.u.double().numpy()
    return canonical


def assert_same_graph(
    first: Data,
    second: Data,
    second_site_of_atom: Sequence[int],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> None:
    """Assert two graphs are equal up to node order (``second`` built from a permuted structure)."""
    reference = canonical_graph(first, list(range(len(second_site_of_atom))))
    other = canonical_graph(second, second_site_of_atom)
    assert reference.keys() == other.keys(), f"fields differ: {sorted(reference)} vs {sorted(other)}"
    for field in ("sites", "node_type", "edges", "members"):
        if field in reference:
            np.testing.assert_array_equal(reference[field], other[field], err_msg=f"{field} differ")
    for field in ("x", "edge_attr", "u"):
        if field in reference:
            np.testing.assert_allclose(reference[field], other[field], rtol=rtol, atol=atol, err_msg=f"{field} differ")
