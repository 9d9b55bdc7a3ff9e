"""The tier protocol: how a structure becomes one graph of a given tier.

A tier is a small, picklable object. ``build`` is pure and deterministic: the same structure and params
always give the same graph, which is what makes the content-addressed cache and paired comparisons
between tier combinations valid.

Every graph a tier builds is a :class:`torch_geometric.data.Data` with these fields:

* ``x`` ``[N, node_dim]`` float32 node features;
* ``node_type`` ``[N]`` int64 categorical node label in ``[0, num_node_types)`` (element, motif type,
  shell kind …) for a learned embedding; present when ``dims.num_node_types > 0``;
* ``edge_index`` ``[2, E]`` int64 directed edges (both directions present for symmetric relations);
* ``edge_attr`` ``[E, edge_dim]`` float32 edge features;
* ``atom_index`` ``[N]`` int64: for each tier node, the site of the input structure it sits on;
* ``member_index`` ``[2, M]`` int64 (optional): extra (tier node, site) links, e.g. a motif and its
  ligands;
* ``u`` ``[1, global_dim]`` float32 graph-level features, present when ``dims.global_dim > 0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure
    from torch_geometric.data import Data


@dataclass(frozen=True)
class TierDims:
    """Feature widths of the graphs a tier builds.

    Attributes:
        node_dim: Width of ``x``.
        edge_dim: Width of ``edge_attr``.
        num_node_types: Size of the ``node_type`` vocabulary (0 when the tier has no categorical label).
        global_dim: Width of ``u`` (0 when the tier has no graph-level features).
        edge_distance_index: Column of ``edge_attr`` that holds a distance in Å, which models expand in
            radial basis functions (``None`` when the tier's edges carry no distance).
    """

    node_dim: int
    edge_dim: int
    num_node_types: int = 0
    global_dim: int = 0
    edge_distance_index: int | None = None


@runtime_checkable
class Tier(Protocol):
    """A builder of one kind of graph from a crystal or a molecule.

    Attributes:
        name: Registry name (``"atom"``, ``"motif"``, ``"orbital"`` …).
        version: Bumped whenever ``build`` output changes, so cached graphs are never stale.
        dependencies: Distributions whose versions change the output; they enter the cache key.
        kinds: What the tier accepts: ``"crystal"``, ``"molecule"`` or both.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    dependencies: ClassVar[tuple[str, ...]]
    kinds: ClassVar[tuple[str, ...]]

    @property
    def dims(self) -> TierDims:
        """Feature widths of the graphs this tier builds."""
        ...

    def params(self) -> Mapping[str, Any]:
        """Every setting that changes the output, as JSON-able values."""
        ...

    def build(self, structure: Structure | Molecule) -> Data:
        """Build the graph of one structure.

        Raises:
            TierError: The structure cannot be represented by this tier; the message says why.
        """
        ...


def structure_kind(structure: Structure | Molecule) -> str:
    """``"crystal"`` for a periodic structure, else ``"molecule"``."""
    return "crystal" if hasattr(structure, "lattice") else "molecule"
