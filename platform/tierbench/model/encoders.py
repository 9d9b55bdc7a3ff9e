"""Per-tier encoder factory: the encoder kind named in a tier's configuration, from the encoder registry.

Encoders are plug-ins like tiers (:data:`tierbench.plugins.ENCODERS`): the built-ins, any class installed
under the entry-point group ``tierbench.encoders``, or a ``"package.module:Class"`` path. An encoder is a
:class:`~tierbench.model.base.TierEncoder` subclass constructed as ``Encoder(dims, config, channels,
readout_dim, mlp_channels)``.
"""

from __future__ import annotations

from tierbench.config.model import EncoderConfig
from tierbench.model.base import TierEncoder
from tierbench.plugins import ENCODERS
from tierbench.tier import TierDims


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
        TypeError: The registered class is no ``TierEncoder``.
    """
    encoder_class = ENCODERS.load_class(config.kind)
    if not (isinstance(encoder_class, type) and issubclass(encoder_class, TierEncoder)):
        raise TypeError(f"encoder {config.kind!r} ({encoder_class!r}) is not a tierbench.model.base.TierEncoder")
    try:
        return encoder_class(dims, config, channels, readout_dim, mlp_channels)
    except ValueError as error:
        raise ValueError(f"tier {tier!r}: {error}") from error
