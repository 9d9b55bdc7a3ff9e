"""MEGNet encoder: residual graph-network blocks and Set2Set readouts of nodes and edges (AMDNet's branch)."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from tierbench.config.model import EncoderConfig
from tierbench.model.base import EncoderState, TierEncoder
from tierbench.model.layers import MEGNetConv, Set2Set
from tierbench.tier import TierDims


class MEGNetEncoder(TierEncoder):
    """MEGNet blocks with residual connections, and Set2Set readouts.

    ``blocks`` :class:`~tierbench.model.layers.MEGNetConv` blocks with residual connections on node, edge
    and graph states; readout: Set2Set of the nodes ⊕ Set2Set of the edges ⊕ graph state.

    Args:
        dims: Feature widths of the tier.
        config: Encoder configuration (``blocks``, ``rbf``, ``set2set_steps``).
        channels: Width of the hidden states.
        readout_dim: Width of the readout vector.
        mlp_channels: Width of the hidden layers of perceptrons inside blocks.
    """

    def __init__(
        self, dims: TierDims, config: EncoderConfig, channels: int, readout_dim: int, mlp_channels: int
    ) -> None:
        super().__init__(dims, config, channels, readout_dim, pooled_dim=4 * channels)
        self.blocks = nn.ModuleList(MEGNetConv(channels, mlp_channels) for _ in range(config.blocks))
        self.set2set = Set2Set(channels, config.set2set_steps, families=2)

    def step(self, index: int, state: EncoderState) -> EncoderState:
        """One graph-network block with residual connections."""
        x, edge_attr, u = self.blocks[index](state.x, state.edge_index, state.edge_attr, state.u, state.batch)
        return replace(state, x=state.x + x, edge_attr=state.edge_attr + edge_attr, u=state.u + u)

    def pool(self, state: EncoderState) -> Tensor:
        """Set2Set of nodes and of edges, per graph ``[B, 4C]``."""
        nodes, edges = self.set2set([state.x, state.edge_attr], [state.batch, state.edge_batch], state.num_graphs)
        return torch.cat([nodes, edges], dim=-1)
