"""The fusion model: per-tier encoders (MEGNet, OrbNet, CGCNN, SchNet), fusion, and the Lightning module."""

from tierbench.model.config import EncoderConfig, ModelConfig, OptimizerConfig, RBFConfig
from tierbench.model.fusion import FusionNetwork, ModelConfigError
from tierbench.model.module import NonFiniteLossError, TierFusionModule

__all__ = [
    "EncoderConfig",
    "FusionNetwork",
    "ModelConfig",
    "ModelConfigError",
    "NonFiniteLossError",
    "OptimizerConfig",
    "RBFConfig",
    "TierFusionModule",
]
