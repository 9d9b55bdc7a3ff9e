"""What defines one trial, and the trials a suite plans: plain configuration, no torch."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator

from tierbench.config.base import StrictModel, TaskType
from tierbench.config.dataset import DatasetSpec
from tierbench.config.model import ModelConfig, OptimizerConfig
from tierbench.config.split import SplitSpec


class TrainerConfig(StrictModel):
    """How a trial trains.

    Attributes:
        max_epochs: Upper bound on epochs.
        batch_size: Samples per batch.
        early_stopping_patience: Epochs without a better validation loss before training stops
            (``None``: train all ``max_epochs``).
        gradient_clip: Clip the gradient norm to this value (``None``: no clipping).
        accelerator: Lightning accelerator (``"auto"``: a GPU when there is one, ``"cpu"``, ``"gpu"``).
        deterministic: Deterministic algorithms. ``"warn"`` (default) uses them wherever they exist and
            warns where an operation has none: CPU trials reproduce exactly, and GPU trials still run
            (PyG's scatter on CUDA has no deterministic kernel). ``True`` raises there instead.
    """

    max_epochs: int = Field(200, ge=1)
    batch_size: int = Field(64, ge=1)
    early_stopping_patience: int | None = Field(20, ge=1)
    gradient_clip: float | None = Field(None, gt=0)
    accelerator: str = "auto"
    deterministic: bool | Literal["warn"] = "warn"


class TrialTier(StrictModel):
    """A tier of a trial.

    Attributes:
        tier: Registry name or ``package.module:Class``.
        params: Constructor params of the tier.
    """

    tier: str
    params: dict[str, Any] = Field(default_factory=dict)


class TrialConfig(StrictModel):
    """Everything that defines one trial.

    Attributes:
        dataset: The dataset spec (see :class:`tierbench.datasets.DatasetSpec`).
        target: The target to predict.
        task: ``regression`` or ``classification``; default: the dataset's task type for the target. It
            replaces ``model.task``.
        split: How the dataset is split.
        fold: Which split of ``split`` (fold-based methods make several).
        tiers: Tier label → tier; a list of names is accepted (label = name). The atom tier must be
            labelled ``atom`` for cross fusion.
        model: Fusion model.
        optimizer: Optimizer and schedule.
        trainer: Epochs, batch size, early stopping.
        seed: Seed of weights, shuffling and dropout.
        featurize_workers: Parallel tier builds (1: in this process, no Ray; ``None``: every CPU of the
            Ray cluster).
        cache: Graph cache directory (default: ``TIERBENCH_CACHE`` or ``.tierbench/cache``).
    """

    dataset: DatasetSpec
    target: str
    task: TaskType | None = None
    split: SplitSpec = SplitSpec()
    fold: int = Field(0, ge=0)
    tiers: dict[str, TrialTier] = Field(min_length=1)
    model: ModelConfig = ModelConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    trainer: TrainerConfig = TrainerConfig()
    seed: int = 0
    featurize_workers: int | None = Field(1, ge=1)
    cache: str | None = None

    @field_validator("tiers", mode="before")
    @classmethod
    def _tier_names(cls, tiers: Any) -> Any:
        if isinstance(tiers, Sequence) and not isinstance(tiers, str):
            return {name: {"tier": name} for name in tiers}
        return tiers

    def config_hash(self) -> str:
        """SHA-256 of the config: equal hashes mean the same trial.

        Where it runs is not part of it: the cache location, the featurization workers and the
        accelerator (which the suite's resources choose) are left out.
        """
        identity = self.model_dump(
            mode="json", exclude={"cache": True, "featurize_workers": True, "trainer": {"accelerator"}}
        )
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a suite.

    Attributes:
        name: Run name, ``<dataset>|<tiers>|seed<k>`` (``|fold<f>`` for fold-based splits).
        dataset: Label of the suite's dataset entry.
        tiers: Tier labels in canonical order.
        seed: Model seed.
        fold: Fold (``None`` when the split has one part set).
        config: The trial's configuration.
        config_hash: Identity of the trial: its config plus the versions of its tiers.
        excluded: Why the trial cannot run (``None`` when it can).
    """

    name: str
    dataset: str
    tiers: tuple[str, ...]
    seed: int
    fold: int | None
    config: TrialConfig
    config_hash: str
    excluded: str | None = None

    @property
    def tiers_label(self) -> str:
        """``atom+motif`` style label."""
        return "+".join(self.tiers)
