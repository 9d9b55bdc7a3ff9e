"""CGCNN encoder: PyG's gated crystal-graph convolutions and mean pooling (Xie & Grossman 2018)."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn
from torch.nn import functional
from torch_geometric.nn import CGConv
from torch_geometric.utils import scatter

from tierbench.config.model import EncoderConfig
from tierbench.model.base import EncoderState, TierEncoder
from tierbench.tier import TierDims


class CGCNNEncoder(TierEncoder):
    r"""Crystal-graph convolutions (PyG's :class:`~torch_geometric.nn.conv.CGConv`) and mean pooling.

    ``blocks`` batch-normalized convolutions, each followed by a softplus as in CGCNN; edges keep their
    embedded features; readout: mean of the node states.

    .. math::
        \mathbf{x}'_v = \operatorname{softplus}\left(\mathbf{x}_v + \operatorname{BN}\sum_{w}
            \sigma(\mathbf{z}_{wv} \mathbf{W}_f + \mathbf{b}_f) \odot
            \operatorname{softplus}(\mathbf{z}_{wv} \mathbf{W}_s + \mathbf{b}_s)\right),
        \quad \mathbf{z}_{wv} = \mathbf{x}_v \oplus \mathbf{x}_w \oplus \mathbf{e}_{wv}

    Args:
        dims: Feature widths of the tier.
        config: Encoder configuration (``blocks``, ``rbf``).
        channels: Width of the hidden states.
        readout_dim: Width of the readout vector.
        mlp_channels: Width of the hidden layers of perceptrons inside blocks (unused).
    """

    def __init__(
        self, dims: TierDims, config: EncoderConfig, channels: int, readout_dim: int, mlp_channels: int
    ) -> None:
        super().__init__(dims, config, channels, readout_dim, pooled_dim=channels)
        self.blocks = nn.ModuleList(
            CGConv(channels, dim=channels, aggr="add", batch_norm=True) for _ in range(config.blocks)
        )

    def step(self, index: int, state: EncoderState) -> EncoderState:
        """One gated convolution."""
        return replace(state, x=functional.softplus(self.blocks[index](state.x, state.edge_index, state.edge_attr)))

    def pool(self, state: EncoderState) -> Tensor:
        """Mean of the node states per graph ``[B, C]``."""
        return scatter(state.x, state.batch, dim=0, dim_size=state.num_graphs, reduce="mean")
