"""OrbNet encoder: attention message passing with a readout summed over all message-passing steps."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn
from torch_geometric.utils import scatter

from tierbench.config.model import EncoderConfig
from tierbench.model.base import EncoderState, TierEncoder, TierGraph
from tierbench.model.layers import OrbNetConv
from tierbench.tier import TierDims


class OrbNetEncoder(TierEncoder):
    r"""``blocks`` :class:`~tierbench.model.layers.OrbNetConv` layers (Qiao et al. 2020).

    The pooled vector sums a decoding of every node after every step, the embedding included:

    .. math::
        \mathbf{r} = \sum_{l=0}^{L} \sum_{v} \mathbf{D}_l \mathbf{x}^{(l)}_v

    Args:
        dims: Feature widths of the tier.
        config: Encoder configuration (``blocks``, ``rbf``, ``attention_heads``).
        channels: Width of the hidden states.
        readout_dim: Width of the readout vector.
        mlp_channels: Width of the hidden layers of perceptrons inside blocks (unused).
    """

    def __init__(
        self, dims: TierDims, config: EncoderConfig, channels: int, readout_dim: int, mlp_channels: int
    ) -> None:
        super().__init__(dims, config, channels, readout_dim, pooled_dim=channels)
        self.blocks = nn.ModuleList(OrbNetConv(channels, config.attention_heads) for _ in range(config.blocks))
        self.decoders = nn.ModuleList(nn.Linear(channels, channels) for _ in range(config.blocks + 1))

    def _decoded(self, step: int, state: EncoderState) -> Tensor:
        return scatter(self.decoders[step](state.x), state.batch, dim=0, dim_size=state.num_graphs, reduce="sum")

    def start(self, graph: TierGraph) -> EncoderState:
        """Embed the graph and decode the embedding (step 0 of the readout)."""
        state = super().start(graph)
        return replace(state, readout=self._decoded(0, state))

    def step(self, index: int, state: EncoderState) -> EncoderState:
        """One attention layer; its decoded nodes join the readout."""
        updated = replace(state, x=self.blocks[index](state.x, state.edge_index, state.edge_attr))
        return replace(updated, readout=self.pool(state) + self._decoded(index + 1, updated))

    def pool(self, state: EncoderState) -> Tensor:
        """The readout summed over steps ``[B, C]``."""
        if state.readout is None:
            raise RuntimeError("OrbNetEncoder.pool needs a state made by OrbNetEncoder.start")
        return state.readout
