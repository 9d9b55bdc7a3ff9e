"""SchNet encoder: PyG's continuous-filter interaction blocks and a sum over atom-wise outputs."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn
from torch_geometric.nn.models.schnet import InteractionBlock
from torch_geometric.utils import scatter

from tierbench.config.model import EncoderConfig
from tierbench.model.base import EncoderState, TierEncoder
from tierbench.model.layers import mlp
from tierbench.tier import TierDims


class SchNetEncoder(TierEncoder):
    r"""``blocks`` SchNet interaction blocks (Schütt et al. 2018) with residual node updates.

    .. math::
        \mathbf{x}'_v = \mathbf{x}_v + \mathrm{MLP}\left(\sum_{w} \mathbf{W}\mathbf{x}_w \odot
            h_\Theta(\mathbf{e}_{wv})\, C(d_{wv})\right)

    :math:`\mathbf{e}_{wv}` is the tier's embedded edge (its distance expansion and other columns) and
    :math:`C` the cosine cutoff at ``rbf.stop``; edges longer than that pass no message. Readout: sum of
    an atom-wise perceptron of the node states.

    Args:
        dims: Feature widths of the tier; the edges must carry a distance column.
        config: Encoder configuration (``blocks``, ``rbf``).
        channels: Width of the hidden states and filters.
        readout_dim: Width of the readout vector.

    Raises:
        ValueError: The tier has no distance column.
    """

    def __init__(
        self, dims: TierDims, config: EncoderConfig, channels: int, readout_dim: int, mlp_channels: int
    ) -> None:
        if dims.edge_distance_index is None:
            raise ValueError("the schnet encoder needs a tier whose edges carry a distance column")
        super().__init__(dims, config, channels, readout_dim, pooled_dim=channels)
        self.cutoff = config.rbf.stop
        self.blocks = nn.ModuleList(
            InteractionBlock(channels, channels, mlp_channels, self.cutoff) for _ in range(config.blocks)
        )
        self.atomwise = mlp(channels, mlp_channels, channels)

    def step(self, index: int, state: EncoderState) -> EncoderState:
        """One interaction block."""
        if state.distance is None:
            raise RuntimeError("SchNetEncoder.step needs edge distances")
        # beyond the cutoff the cosine envelope would rise again; clamping makes it zero there
        distance = state.distance.clamp(max=self.cutoff)
        update = self.blocks[index](state.x, state.edge_index, distance, state.edge_attr)
        return replace(state, x=state.x + update)

    def pool(self, state: EncoderState) -> Tensor:
        """Sum of the atom-wise outputs per graph ``[B, C]``."""
        return scatter(self.atomwise(state.x), state.batch, dim=0, dim_size=state.num_graphs, reduce="sum")
