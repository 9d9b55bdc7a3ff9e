"""Names of the fields of tier graphs and multi-tier samples, defined once.

A tier's :class:`torch_geometric.data.Data` carries the graph fields below (see
:mod:`tierbench.tier.protocol` for shapes); a multi-tier sample is a ``HeteroData`` with one node type per
tier label and the relations below between them.
"""

from __future__ import annotations

NODE_FEATURES = "x"
NODE_TYPE = "node_type"
EDGE_INDEX = "edge_index"
EDGE_FEATURES = "edge_attr"
EDGE_VECTOR = "edge_vec"
ATOM_INDEX = "atom_index"
MEMBER_INDEX = "member_index"
GLOBAL_FEATURES = "u"

GRAPH_FIELDS = (NODE_FEATURES, NODE_TYPE, EDGE_INDEX, EDGE_FEATURES, ATOM_INDEX, MEMBER_INDEX, GLOBAL_FEATURES)
"""The fields of a tier graph that the tier contract compares (the optional ones where present)."""
EDGE_EXTRAS = (EDGE_VECTOR,)
"""Optional per-edge fields carried into multi-tier samples."""

ATOM_TIER = "atom"
"""Label of the atom tier, which cross-tier relations point at."""
INTRA = "to"
"""Relation of a tier's own edges: ``(t, "to", t)``."""
ON_ATOM = "on"
"""Relation from each tier node to the atom it sits on: ``(t, "on", "atom")``."""
MEMBER_OF = "has"
"""Relation from a tier node to extra member atoms (a motif's ligands): ``(t, "has", "atom")``."""
