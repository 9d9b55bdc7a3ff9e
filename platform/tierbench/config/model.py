"""Configuration of the fusion model and its optimizer (validated, JSON-able, strict about typos)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tierbench.config.base import StrictModel, TaskType
from tierbench.plugins import ENCODERS, UnknownPluginError

FusionMode = Literal["concat", "gated", "cross"]
RegressionLoss = Literal["mae", "huber", "mse"]
SchedulerKind = Literal["plateau", "cosine", "none"]


class RBFConfig(StrictModel):
    """Gaussian expansion of a tier's distance column.

    Attributes:
        start: Centre of the first Gaussian (Å).
        stop: Centre of the last Gaussian (Å); match it to the tier's cutoff.
        num_gaussians: Number of Gaussians.
        width: Standard deviation (Å); default: the spacing of the centres.
    """

    start: float = 0.0
    stop: float = 5.0
    num_gaussians: int = Field(50, ge=1)
    width: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RBFConfig:
        if self.stop <= self.start:
            raise ValueError(f"rbf stop ({self.stop} Å) must be larger than start ({self.start} Å)")
        return self


class EncoderConfig(StrictModel):
    """How one tier's graph is encoded.

    Attributes:
        kind: A registered encoder (:data:`tierbench.plugins.ENCODERS`): the built-ins ``"megnet"`` (edge,
            node and global updates; Set2Set readout), ``"orbnet"`` (attention messages, readout summed over
            steps), ``"cgcnn"`` (gated convolution, mean pooling) and ``"schnet"`` (continuous filters; needs
            a distance column), a plug-in's name, or a ``"package.module:Class"`` import path.
        blocks: Number of message-passing blocks.
        rbf: Expansion of the tier's distance column (ignored when the tier has none).
        set2set_steps: Processing steps of the Set2Set readouts (``megnet``).
        attention_heads: Attention heads (``orbnet``).
    """

    kind: str = "megnet"
    blocks: int = Field(3, ge=1)
    rbf: RBFConfig = RBFConfig()
    set2set_steps: int = Field(3, ge=1)
    attention_heads: int = Field(4, ge=1)

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        if ":" in kind:  # an import path is checked when the model is built, so that configs stay torch-free
            return kind
        try:
            ENCODERS.resolve(kind)
        except UnknownPluginError as error:
            raise ValueError(str(error)) from error
        return kind


def _literature_encoders() -> dict[str, dict[str, Any]]:
    # AMDNet expands motif-motif distances on 100 Gaussians over 0-11 Å; OrbNet encodes orbital graphs
    return {"motif": {"rbf": {"stop": 11.0, "num_gaussians": 100}}, "orbital": {"kind": "orbnet"}}


class ModelConfig(StrictModel):
    """Architecture and task of the fusion model.

    Attributes:
        hidden_dim: Width of node, edge and global states in every encoder (MEGNet: 32).
        mlp_dim: Width of the hidden layer of the perceptrons inside blocks (MEGNet's φ: 64; SchNet's
            filters).
        readout_dim: Width of each tier's readout vector (AMDNet: 16).
        head_dim: Width of the hidden layer of the output head (AMDNet: 32).
        default_encoder: Encoder of every tier, unless ``encoders`` overrides some of its fields.
        encoders: Tier name → fields of ``default_encoder`` that differ for that tier (``rbf`` is
            replaced as a whole); the defaults follow AMDNet (motif distances on 100 Gaussians over
            0-11 Å) and OrbNet (orbital tier).
        fusion: ``"concat"`` (AMDNet late fusion), ``"gated"`` (attention-weighted sum of the tier
            readouts) or ``"cross"`` (tiers exchange messages with the atom tier between blocks, then
            concatenate; needs the atom tier and the same number of blocks in every encoder).
        dropout: Dropout rate in the output head.
        task: ``"regression"`` or ``"classification"`` (binary; targets 0/1).
        loss: Regression loss on standardized targets: ``"mae"``, ``"huber"`` or ``"mse"``.
        huber_delta: Transition point of the Huber loss, in standard deviations of the target.
    """

    hidden_dim: int = Field(32, ge=1)
    mlp_dim: int = Field(64, ge=1)
    readout_dim: int = Field(16, ge=1)
    head_dim: int = Field(32, ge=1)
    default_encoder: EncoderConfig = EncoderConfig()
    encoders: dict[str, dict[str, Any]] = Field(default_factory=_literature_encoders)
    fusion: FusionMode = "concat"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    task: TaskType = "regression"
    loss: RegressionLoss = "mae"
    huber_delta: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _valid_overrides(self) -> ModelConfig:
        for tier in self.encoders:
            self.encoder_for(tier)
        return self

    def encoder_for(self, tier: str) -> EncoderConfig:
        """The encoder configuration of ``tier``: ``default_encoder`` with the tier's overrides.

        Raises:
            ValueError: The overrides are not valid encoder fields or values (the message names the tier).
        """
        overrides = self.encoders.get(tier)
        if not overrides:
            return self.default_encoder
        try:
            return EncoderConfig.model_validate({**self.default_encoder.model_dump(), **overrides})
        except ValueError as error:
            raise ValueError(f"encoder of tier {tier!r}: {error}") from error


class OptimizerConfig(StrictModel):
    """AdamW and its learning-rate schedule.

    Attributes:
        learning_rate: Initial learning rate.
        weight_decay: Decoupled weight decay.
        scheduler: ``"plateau"`` (reduce on a validation-loss plateau), ``"cosine"`` (cosine decay over
            the planned optimizer steps) or ``"none"``.
        plateau_factor: Factor applied to the learning rate on a plateau.
        plateau_patience: Epochs without improvement before the learning rate drops.
        min_learning_rate: Floor of the schedule.
    """

    learning_rate: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    scheduler: SchedulerKind = "plateau"
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(5, ge=0)
    min_learning_rate: float = Field(1e-6, ge=0)
