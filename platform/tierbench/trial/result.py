"""What a trial gives back: test metrics and predictions, the epoch history and timings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from tierbench.model.module import TierFusionModule

if TYPE_CHECKING:
    from tierbench.datasets import Dataset


MONITOR = "val_loss"


@dataclass
class TrialResult:
    """Outcome of one trial.

    Attributes:
        config_hash: :meth:`TrialConfig.config_hash`.
        status: ``"ok"`` or ``"failed"``.
        failure_reason: Short reason when failed (e.g. ``"non_finite_loss"``).
        failure_message: What happened, for a person.
        metrics: Test metrics in the target's unit (``test_mae`` …) and the best validation loss.
        predictions: ``id``, ``target`` and ``prediction`` (target unit; probability for classification)
            of every test sample.
        history: Per epoch: the epoch's train and validation metrics.
        timings: Seconds: ``load``, ``featurization`` (wall), ``featurization_cpu`` (tier builds run
            now), ``training``, ``test``, ``total``.
        samples: Samples per part after restricting to what every tier covers, and ``excluded`` counts.
        best_epoch: Epoch of the best validation loss.
        epochs: Epochs trained.
        task: ``regression`` or ``classification``.
        featurization_cpu: Tier label → CPU seconds its graphs of the trial's samples cost to build
            (measured when they were built, also when they now come from the cache).
        checkpoint_path: The best checkpoint, when the trial was given a checkpoint folder.
    """

    config_hash: str
    status: Literal["ok", "failed"]
    failure_reason: str | None = None
    failure_message: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    predictions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None
    epochs: int = 0
    task: str = "regression"
    featurization_cpu: dict[str, float] = field(default_factory=dict)
    checkpoint_path: str | None = None


class MetricHistory(Callback):
    """Keeps every epoch's logged metrics (train and validation) as floats.

    The rows are saved in every checkpoint, so a trial resumed from one keeps the epochs before it.

    Attributes:
        epochs: One row per epoch.
        restored_epoch: Epoch of the last row restored from a checkpoint (``None``: started from scratch).
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self.restored_epoch: int | None = None

    def state_dict(self) -> dict[str, Any]:
        """The rows so far."""
        return {"epochs": [dict(row) for row in self.epochs]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the rows of the checkpoint being resumed."""
        self.epochs = [dict(row) for row in state_dict["epochs"]]
        self.restored_epoch = int(self.epochs[-1]["epoch"]) if self.epochs else None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Record the epoch (its validation ran before this hook)."""
        row = {"epoch": float(trainer.current_epoch)}
        row.update({key: float(value) for key, value in trainer.callback_metrics.items() if value.numel() == 1})
        self.epochs.append(row)


def test_metrics(trainer: pl.Trainer) -> dict[str, float]:
    """The test metrics the trainer logged (``test_mae`` …)."""
    return {key: float(value) for key, value in trainer.callback_metrics.items() if key.startswith("test_")}


def test_predictions(module: TierFusionModule, dataset: Dataset) -> list[dict[str, Any]]:
    """``id``, ``target`` and ``prediction`` of every test sample the module saw."""
    found = module.test_predictions
    if not found:
        return []
    ids = dataset.ids
    return [
        {"id": ids[int(index)], "target": float(target[0]), "prediction": float(prediction[0])}
        for index, target, prediction in zip(
            found["sample_index"].tolist(), found["target"], found["prediction"], strict=True
        )
    ]


def best_epoch(epochs: list[dict[str, float]]) -> int | None:
    """The epoch with the lowest finite validation loss."""
    scored = [(row[MONITOR], index) for index, row in enumerate(epochs) if math.isfinite(row.get(MONITOR, math.nan))]
    return min(scored)[1] if scored else None
