"""Comparison of tier graphs: exactly, or up to node and edge order (for invariance checks).

Example::

    from tierbench.testing import assert_same_graph, permuted

    permutation = np.random.default_rng(0).permutation(len(structure))
    assert_same_graph(tier.build(structure), tier.build(permuted(structure, permutation)), permutation)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Data

from tierbench.tier.fields import GRAPH_FIELDS

"""Every field of a tier graph (see :mod:`tierbench.tier.protocol`)."""

DEFAULT_RTOL = 1e-4
"""Relative tolerance on float features when graphs of transformed structures are compared."""
DEFAULT_ATOL = 1e-5
"""Absolute tolerance on float features when graphs of transformed structures are compared."""

_ROUNDING = 4
"""Decimals float features are rounded to before they order nodes and edges."""


def assert_identical_graphs(first: Data, second: Data, *, what: str = "the two graphs") -> None:
    """Assert two graphs have the same fields with exactly equal tensors, in the same order.

    Args:
        first: A tier graph.
        second: Another tier graph.
        what: How the message names the pair (e.g. ``"two builds"``).

    Raises:
        AssertionError: A field is in one graph only, or differs; the message names it.
    """
    for field in GRAPH_FIELDS:
        if (field in first) != (field in second):
            raise AssertionError(f"{field} is present in only one of {what}")
        if field in first and not torch.equal(first[field], second[field]):
            raise AssertionError(f"{field} differs between {what}")


def _node_order(graph: Data, site_of_atom: Sequence[int] | np.ndarray) -> np.ndarray:
    sites = np.asarray(site_of_atom)[graph.atom_index.numpy()]
    node_type = graph.node_type.numpy() if "node_type" in graph else np.zeros(graph.num_nodes, dtype=int)
    features = np.round(graph.x.double().numpy(), _ROUNDING)
    keys = [*features.T[::-1], node_type, sites]
    return np.lexsort(keys)


def canonical_graph(graph: Data, site_of_atom: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
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
    edge_order = np.lexsort([*np.round(edge_features, _ROUNDING).T[::-1], edges[1], edges[0]])
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
    second_site_of_atom: Sequence[int] | np.ndarray,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> None:
    """Assert two graphs are equal up to node and edge order.

    Args:
        first: The graph of a reference structure.
        second: The graph of a transformed copy of it (permuted, rotated, translated, wrapped …).
        second_site_of_atom: For each site of the transformed structure, the reference site it came
            from (``np.arange(len(structure))`` when the sites keep their order).
        rtol: Relative tolerance on the float features (``x``, ``edge_attr``, ``u``).
        atol: Absolute tolerance on the float features.

    Raises:
        AssertionError: The graphs differ; the message names the field.
    """
    reference = canonical_graph(first, list(range(len(second_site_of_atom))))
    other = canonical_graph(second, second_site_of_atom)
    if reference.keys() != other.keys():
        raise AssertionError(f"fields differ: {sorted(reference)} vs {sorted(other)}")
    for field in ("sites", "node_type", "edges", "members"):
        if field in reference:
            np.testing.assert_array_equal(reference[field], other[field], err_msg=f"{field} differ")
    for field in ("x", "edge_attr", "u"):
        if field in reference:
            np.testing.assert_allclose(reference[field], other[field], rtol=rtol, atol=atol, err_msg=f"{field} differ")
