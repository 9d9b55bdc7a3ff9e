"""The fusion model: per-tier encoders (MEGNet, OrbNet, CGCNN, SchNet and plug-ins), fusion, the Lightning module."""

from tierbench.model.fusion import FusionNetwork, ModelConfigError
from tierbench.model.module import NonFiniteLossError, TierFusionModule

__all__ = ["FusionNetwork", "ModelConfigError", "NonFiniteLossError", "TierFusionModule"]
