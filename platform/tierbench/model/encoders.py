"""Per-tier encoder factory: the encoder kind named in a tier's configuration."""

from __future__ import annotations

from tierbench.model.base import TierEncoder
from tierbench.model.cgcnn import CGCNNEncoder
from tierbench.model.config import EncoderConfig
from tierbench.model.megnet import MEGNetEncoder
from tierbench.model.orbnet import OrbNetEncoder
from tierbench.model.schnet import SchNetEncoder
from tierbench.tier import TierDims

ENCODERS: dict[str, type[TierEncoder]] = {
    "megnet": MEGNetEncoder,
    "orbnet": OrbNetEncoder,
    "cgcnn": CGCNNEncoder,
    "schnet": SchNetEncoder,
}


def build_encoder(
    tier: str, dims: TierDims, config: EncoderConfig, *, channels: int, readout_dim: int, mlp_channels: int
) -> TierEncoder:
    """Instantiate the encoder of one tier.

    Args:
        tier: Tier name (for error messages).
        dims: Feature widths of the tier.
        config: The tier's encoder configuration.
        channels: Width of the hidden states.
        readout_dim: Width of the readout vector.
        mlp_channels: Width of the hidden layers of perceptrons inside blocks.

    Raises:
        ValueError: The encoder cannot encode this tier (the message names both).
    """
    try:
        return ENCODERS[config.kind](dims, config, channels, readout_dim, mlp_channels)
    except ValueError as error:
        raise ValueError(f"tier {tier!r}: {error}") from error
