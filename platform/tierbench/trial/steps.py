"""The steps of a trial, public so that every backend (a Ray task, a Ray Train worker) shares them.

:func:`load_trial_data` loads, splits and featurizes; :func:`build_module` makes the seeded model;
:func:`trial_callbacks` and :func:`trainer_arguments` configure Lightning; :func:`new_result` and
:func:`complete_result` fill in the result around training.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint

from tierbench.config.base import TaskType
from tierbench.config.trial import TrainerConfig, TrialConfig
from tierbench.model.module import TierFusionModule
from tierbench.trial.result import MONITOR, MetricHistory, TrialResult, best_epoch

if TYPE_CHECKING:
    from tierbench.datasets import Dataset
    from tierbench.datasets.splits import Split
    from tierbench.featurization.results import Featurization
    from tierbench.samples.datamodule import MultiTierDataModule


@dataclass
class TrialData:
    """A trial's data, ready for Lightning.

    Attributes:
        dataset: The loaded dataset.
        split: The split used.
        featurization: Where the graphs are and how their builds went.
        datamodule: Train/val/test batches (set up: scaler fitted).
        task: ``regression`` or ``classification``.
        load_seconds: Wall time of loading and splitting the dataset.
        featurization_seconds: Wall time of featurization.
    """

    dataset: Dataset
    split: Split
    featurization: Featurization
    datamodule: MultiTierDataModule
    task: TaskType
    load_seconds: float
    featurization_seconds: float


def configure_cpu() -> None:
    """Flush float32 subnormals to zero.

    Effective for every thread only before torch starts its worker threads, so call it at process
    start; later calls still help the calling thread.
    """
    torch.set_flush_denormal(True)


def denormals_flushed() -> bool:
    """Whether the calling thread flushes float32 subnormals to zero (numpy and torch share the CPU flag)."""
    return bool(np.float32(1e-40) * np.float32(1.0) == 0.0)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Flush float32 subnormals to zero inside the block; afterwards the caller's setting is back.

    Training runs flushed (see :func:`configure_cpu`). The flag belongs to the thread, and left on it
    changes the caller's own numerics afterwards: scipy's ``cKDTree`` was seen to recurse until the
    stack overflowed in a thread a trial had left flushed.
    """
    was_flushed = denormals_flushed()
    configure_cpu()
    try:
        yield
    finally:
        if not was_flushed:
            torch.set_flush_denormal(False)


def load_trial_data(config: TrialConfig, dataset: Dataset | None = None) -> TrialData:
    """Load, split and featurize the dataset, and set up the data module.

    Args:
        config: The trial.
        dataset: The already loaded dataset of ``config.dataset`` (to share one load between trials).

    Raises:
        ValueError: Unknown target, a fold the split does not have, or no validation samples.
    """
    from tierbench.datasets import load_dataset
    from tierbench.datasets.splits import make_splits
    from tierbench.featurization.engine import featurize
    from tierbench.samples.datamodule import MultiTierDataModule
    from tierbench.tier.registry import get_tier

    started = time.perf_counter()
    dataset = dataset if dataset is not None else load_dataset(config.dataset)
    if config.target not in dataset.target_names:
        raise ValueError(f"target {config.target!r} is not in {dataset.name} ({', '.join(dataset.target_names)})")
    splits = make_splits(dataset, config.split)
    if config.fold >= len(splits):
        raise ValueError(f"fold {config.fold} requested, but the split has {len(splits)}")
    split = splits[config.fold]
    if not split.val:
        raise ValueError("the split has no validation samples; early stopping and checkpoints need them")
    loaded = time.perf_counter()
    tiers = {label: get_tier(entry.tier, **entry.params) for label, entry in config.tiers.items()}
    featurization = featurize(dataset, tiers, cache=config.cache, workers=config.featurize_workers, progress=False)
    featurized = time.perf_counter()
    task = config.task or dataset.task_types.get(config.target, "regression")
    datamodule = MultiTierDataModule(
        dataset,
        featurization,
        list(tiers),
        [config.target],
        {part: positions.tolist() for part, positions in split.positions(dataset).items()},
        batch_size=config.trainer.batch_size,
        scaled=[task == "regression"],
        seed=config.seed,
    )
    datamodule.setup()
    return TrialData(dataset, split, featurization, datamodule, task, loaded - started, featurized - loaded)


def build_module(config: TrialConfig, data: TrialData) -> TierFusionModule:
    """The fusion model for the trial's tiers, with the training split's target scaler (seeded)."""
    scaler = data.datamodule.scaler
    if scaler is None:
        raise ValueError("the data module is not set up")
    pl.seed_everything(config.seed, workers=True, verbose=False)
    return TierFusionModule(
        data.datamodule.tier_dims,
        [config.target],
        model=config.model.model_copy(update={"task": data.task}),
        optimizer=config.optimizer,
        target_mean=scaler.mean,
        target_std=scaler.std,
    )


def trial_callbacks(config: TrainerConfig, checkpoint_dir: str | Path) -> list[Callback]:
    """Best-checkpoint and early-stopping callbacks on the validation loss.

    The best checkpoint is taken when validation ends, before any ``on_train_epoch_end`` hook: a resume
    checkpoint written in that hook (Ray Train's) then knows the epoch's best, and a trial resumed from it
    tests the same weights as an uninterrupted one.
    """
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best",
        monitor=MONITOR,
        mode="min",
        save_top_k=1,
        save_on_train_epoch_end=False,
    )
    callbacks: list[Callback] = [best]
    if config.early_stopping_patience is not None:
        callbacks.append(EarlyStopping(monitor=MONITOR, mode="min", patience=config.early_stopping_patience))
    return callbacks


def trainer_arguments(config: TrainerConfig) -> dict[str, Any]:
    """Keyword arguments of ``pl.Trainer`` for a trial (without callbacks, logger and strategy)."""
    return {
        "max_epochs": config.max_epochs,
        "accelerator": config.accelerator,
        "devices": 1,
        "deterministic": config.deterministic,
        "gradient_clip_val": config.gradient_clip,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }


def new_result(config: TrialConfig, data: TrialData) -> TrialResult:
    """A successful result so far: identity, task, featurization cost and sample counts."""
    result = TrialResult(
        config_hash=config.config_hash(),
        status="ok",
        task=data.task,
        featurization_cpu=dict(data.datamodule.featurization_cpu_seconds),
    )
    result.samples = {part: len(data.datamodule.samples[part]) for part in ("train", "val", "test")}
    result.samples["excluded"] = dict(data.datamodule.excluded)
    return result


def complete_result(result: TrialResult, data: TrialData, history: MetricHistory) -> None:
    """Add the epoch history, the best epoch and its validation loss, and the data timings."""
    result.history, result.epochs = history.epochs, len(history.epochs)
    result.best_epoch = best_epoch(history.epochs)
    if result.best_epoch is not None:
        result.metrics["best_val_loss"] = history.epochs[result.best_epoch][MONITOR]
    result.timings = {
        "load": data.load_seconds,
        "featurization": data.featurization_seconds,
        "featurization_cpu": float(sum(data.featurization.built_cpu_seconds.values())),
    }
