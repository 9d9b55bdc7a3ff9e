"""What every tier encoder shares: the tier's slice of a batch, input embeddings, and the block protocol.

An encoder runs in three phases so that fusion can act between blocks (``cross`` fusion exchanges node
states between tiers after each block):

1. :meth:`TierEncoder.start` embeds the raw tier graph into an :class:`EncoderState`;
2. :meth:`TierEncoder.step` applies block ``i`` (``i = 0 … num_blocks - 1``);
3. :meth:`TierEncoder.finish` reads the state out into one vector per graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn.norm import BatchNorm

from tierbench.config.model import EncoderConfig
from tierbench.model.rbf import GaussianExpansion
from tierbench.tier import TierDims
from tierbench.tier.fields import INTRA


@dataclass(frozen=True)
class TierGraph:
    """One tier's part of a (batched) multi-tier sample.

    Attributes:
        x: Node features ``[N, node_dim]``.
        node_type: Categorical node labels ``[N]``, or ``None``.
        u: Graph-level features ``[B, global_dim]``, or ``None``.
        edge_index: Intra-tier edges ``[2, E]``.
        edge_attr: Edge features ``[E, edge_dim]``.
        batch: Graph of each node ``[N]``.
        num_graphs: Number of graphs ``B`` in the batch.
    """

    x: Tensor
    node_type: Tensor | None
    u: Tensor | None
    edge_index: Tensor
    edge_attr: Tensor
    batch: Tensor
    num_graphs: int

    @classmethod
    def from_batch(cls, data: HeteroData, tier: str) -> TierGraph:
        """Extract ``tier`` from a multi-tier sample or batch.

        Raises:
            KeyError: The sample holds no graph of ``tier``.
        """
        if tier not in data.node_types:
            raise KeyError(f"the batch holds no {tier!r} graphs (it has {', '.join(data.node_types) or 'none'})")
        nodes, edges = data[tier], data[tier, INTRA, tier]
        batch = nodes.batch if "batch" in nodes else torch.zeros(nodes.num_nodes, dtype=torch.long)
        return cls(
            x=nodes.x,
            node_type=nodes.get("node_type"),
            u=nodes.get("u"),
            edge_index=edges.edge_index,
            edge_attr=edges.edge_attr,
            batch=batch,
            num_graphs=int(getattr(data, "num_graphs", 1)),
        )


@dataclass(frozen=True)
class EncoderState:
    """Hidden states of one tier while it is encoded.

    Attributes:
        x: Node states ``[N, C]``.
        edge_attr: Edge states ``[E, C]``.
        u: Graph states ``[B, C]``.
        edge_index: Intra-tier edges ``[2, E]``.
        batch: Graph of each node ``[N]``.
        distance: Edge lengths in Å ``[E]``, or ``None`` when the tier has no distance column.
        readout: Readout accumulated over blocks ``[B, C]`` (encoders that read out every block).
    """

    x: Tensor
    edge_attr: Tensor
    u: Tensor
    edge_index: Tensor
    batch: Tensor
    distance: Tensor | None
    readout: Tensor | None = None

    @property
    def num_graphs(self) -> int:
        """Number of graphs in the batch."""
        return self.u.size(0)

    @property
    def edge_batch(self) -> Tensor:
        """Graph of each edge ``[E]``."""
        return self.batch[self.edge_index[1]]


class _FeatureProjection(nn.Module):
    """Features → ``channels`` (optionally batch-normalized first); a learned constant when there are none."""

    def __init__(self, in_channels: int, channels: int, *, normalize: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, channels) if in_channels else None
        self.norm = BatchNorm(in_channels, allow_single_element=True) if in_channels and normalize else None
        self.constant = None if in_channels else nn.Parameter(torch.zeros(channels))

    def forward(self, features: Tensor | None, count: int) -> Tensor:
        if self.linear is None:
            return self.constant.expand(count, -1)  # type: ignore[union-attr]
        if features is None:
            raise ValueError("the tier declares features that its graphs do not carry")
        return self.linear(features if self.norm is None else self.norm(features))


class TierEmbedding(nn.Module):
    """Embeds a tier graph's raw inputs into ``channels``-wide node, edge and graph states.

    Nodes: a learned embedding of ``node_type`` plus a projection of the batch-normalized ``x``. Edges:
    the Gaussian expansion of the distance column concatenated with the batch-normalized other columns,
    projected. Graph: a projection of the batch-normalized ``u`` (a learned constant when the tier has
    none).

    Args:
        dims: Feature widths of the tier.
        channels: Width of the states.
        config: The tier's encoder configuration (for the distance expansion).

    Raises:
        ValueError: The tier declares neither node features nor node types.
    """

    other_edge_columns: Tensor

    def __init__(self, dims: TierDims, channels: int, config: EncoderConfig) -> None:
        super().__init__()
        if dims.node_dim == 0 and dims.num_node_types == 0:
            raise ValueError("a tier needs node features or node types to be encoded")
        self.channels = channels
        self.distance_index = dims.edge_distance_index
        self.type_embedding = nn.Embedding(dims.num_node_types, channels) if dims.num_node_types else None
        self.node_projection = _FeatureProjection(dims.node_dim, channels, normalize=True) if dims.node_dim else None
        self.rbf = (
            GaussianExpansion(config.rbf.start, config.rbf.stop, config.rbf.num_gaussians, config.rbf.width)
            if self.distance_index is not None
            else None
        )
        other_columns = [column for column in range(dims.edge_dim) if column != self.distance_index]
        self.register_buffer("other_edge_columns", torch.tensor(other_columns, dtype=torch.long))
        self.edge_norm = BatchNorm(len(other_columns), allow_single_element=True) if other_columns else None
        edge_inputs = len(other_columns) + (self.rbf.num_gaussians if self.rbf is not None else 0)
        self.edge_projection = _FeatureProjection(edge_inputs, channels, normalize=False)
        self.state_projection = _FeatureProjection(dims.global_dim, channels, normalize=True)

    def forward(self, graph: TierGraph) -> EncoderState:
        """Initial states of ``graph``."""
        num_nodes = graph.x.size(0)
        x = graph.x.new_zeros(num_nodes, self.channels)
        if self.type_embedding is not None and graph.node_type is not None:
            x = x + self.type_embedding(graph.node_type)
        if self.node_projection is not None:
            x = x + self.node_projection(graph.x, num_nodes)
        edge_parts: list[Tensor] = []
        distance = None
        if self.rbf is not None and self.distance_index is not None:
            distance = graph.edge_attr[:, self.distance_index]
            edge_parts.append(self.rbf(distance))
        if self.edge_norm is not None:
            edge_parts.append(self.edge_norm(graph.edge_attr.index_select(1, self.other_edge_columns)))
        edge_inputs = torch.cat(edge_parts, dim=-1) if edge_parts else None
        return EncoderState(
            x=x,
            edge_attr=self.edge_projection(edge_inputs, graph.edge_index.size(1)),
            u=self.state_projection(graph.u, graph.num_graphs),
            edge_index=graph.edge_index,
            batch=graph.batch,
            distance=distance,
        )


class TierEncoder(nn.Module):
    """Base of the per-tier encoders: embedding, ``num_blocks`` blocks, and a readout per graph.

    Subclasses implement :meth:`step` and :meth:`pool`; the readout is the pooled vector concatenated
    with the graph state, projected to ``readout_dim``.

    Args:
        dims: Feature widths of the tier.
        config: Encoder configuration.
        channels: Width of the hidden states.
        readout_dim: Width of the readout vector.
        pooled_dim: Width of the vector :meth:`pool` returns.
    """

    def __init__(self, dims: TierDims, config: EncoderConfig, channels: int, readout_dim: int, pooled_dim: int) -> None:
        super().__init__()
        self.channels = channels
        self.num_blocks = config.blocks
        self.embedding = TierEmbedding(dims, channels, config)
        self.readout_projection = nn.Sequential(nn.Linear(pooled_dim + channels, readout_dim), nn.SiLU())

    def start(self, graph: TierGraph) -> EncoderState:
        """Embed the tier graph."""
        return self.embedding(graph)

    def step(self, index: int, state: EncoderState) -> EncoderState:
        """Apply block ``index``."""
        raise NotImplementedError

    def pool(self, state: EncoderState) -> Tensor:
        """One vector per graph from the final states ``[B, pooled_dim]``."""
        raise NotImplementedError

    def finish(self, state: EncoderState) -> Tensor:
        """The tier's readout ``[B, readout_dim]``."""
        return self.readout_projection(torch.cat([self.pool(state), state.u], dim=-1))

    def forward(self, graph: TierGraph) -> Tensor:
        """Encode ``graph`` into its readout ``[B, readout_dim]``."""
        state = self.start(graph)
        for index in range(self.num_blocks):
            state = self.step(index, state)
        return self.finish(state)
