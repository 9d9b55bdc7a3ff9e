"""One trial: a (dataset, split, tiers, model, seed) combination trained and tested on this machine.

:func:`run_trial` loads the dataset, splits it, featurizes it through the graph cache, trains the fusion
model with plain Lightning (early stopping and the best checkpoint on the validation loss) and tests the
best weights. Everything is seeded: the same config and seed give the same metrics on CPU. A trial whose
loss turns NaN or infinite comes back as failed with the reason instead of raising.

The steps are also public, so that a distributed runner (e.g. a Ray Train worker) can reuse them with
its own strategy and callbacks: :func:`load_trial_data`, :func:`build_module`, :func:`trial_callbacks`
and :func:`trainer_arguments`. Trackers plug in through ``callbacks`` and ``logger`` (e.g. an MLflow
logger created for an existing run id).
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytorch_lightning as pl
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint

from tierbench.datasets.spec import DatasetSpec, TaskType
from tierbench.model.config import ModelConfig, OptimizerConfig
from tierbench.model.module import NonFiniteLossError, TierFusionModule
from tierbench.splits import SplitSpec

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

    from tierbench.datamodule import MultiTierDataModule
    from tierbench.datasets import Dataset
    from tierbench.featurize import Featurization
    from tierbench.splits import Split

MONITOR = "val_loss"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainerConfig(_Strict):
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


class TrialTier(_Strict):
    """A tier of a trial.

    Attributes:
        tier: Registry name or ``package.module:Class``.
        params: Constructor params of the tier.
    """

    tier: str
    params: dict[str, Any] = Field(default_factory=dict)


class TrialConfig(_Strict):
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


def configure_cpu() -> None:
    """Flush float32 subnormals to zero.

    Effective for every thread only before torch starts its worker threads, so call it at process
    start; later calls still help the calling thread.
    """
    torch.set_flush_denormal(True)


def load_trial_data(config: TrialConfig, dataset: Dataset | None = None) -> TrialData:
    """Load, split and featurize the dataset, and set up the data module.

    Args:
        config: The trial.
        dataset: The already loaded dataset of ``config.dataset`` (to share one load between trials).

    Raises:
        ValueError: Unknown target, a fold the split does not have, or no validation samples.
    """
    from tierbench.datamodule import MultiTierDataModule
    from tierbench.datasets import load_dataset
    from tierbench.featurize import featurize
    from tierbench.registry import get_tier
    from tierbench.splits import make_splits

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


def run_trial(
    config: TrialConfig | Mapping[str, Any],
    *,
    callbacks: Sequence[Callback] = (),
    logger: Logger | bool = False,
    dataset: Dataset | None = None,
    checkpoint_dir: str | Path | None = None,
) -> TrialResult:
    """Run one trial on this machine.

    Args:
        config: The trial (a :class:`TrialConfig` or its mapping).
        callbacks: Extra Lightning callbacks (trackers, profilers).
        logger: A Lightning logger, or ``False`` for none.
        dataset: The already loaded dataset of ``config.dataset``.
        checkpoint_dir: Where to keep the best checkpoint (default: a temporary folder, removed after).

    Returns:
        The result; a NaN or infinite loss gives ``status="failed"`` with the reason.
    """
    configure_cpu()
    config = config if isinstance(config, TrialConfig) else TrialConfig.model_validate(config)
    started = time.perf_counter()
    data = load_trial_data(config, dataset)
    result = new_result(config, data)
    module = build_module(config, data)
    history = MetricHistory()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    with tempfile.TemporaryDirectory(prefix="tierbench-trial-") as scratch:
        folder = Path(checkpoint_dir) if checkpoint_dir is not None else Path(scratch)
        trainer = pl.Trainer(
            **trainer_arguments(config.trainer),
            callbacks=[*trial_callbacks(config.trainer, folder), history, *callbacks],
            logger=logger,
        )
        try:
            trained = time.perf_counter()
            try:
                trainer.fit(module, datamodule=data.datamodule)
            except NonFiniteLossError as error:
                result.status, result.failure_reason, result.failure_message = "failed", error.reason, str(error)
            tested = time.perf_counter()
            if result.status == "ok" and isinstance(trainer.checkpoint_callback, ModelCheckpoint):
                best = trainer.checkpoint_callback.best_model_path
                # a trainer of its own, so that restoring the best checkpoint leaves the history intact
                tester = pl.Trainer(**trainer_arguments(config.trainer), logger=False, enable_checkpointing=False)
                tester.test(module, datamodule=data.datamodule, ckpt_path=best or None, verbose=False)
                result.metrics = test_metrics(tester)
                result.predictions = test_predictions(module, data.dataset)
                result.checkpoint_path = best if checkpoint_dir is not None and best else None
        finally:
            torch.use_deterministic_algorithms(deterministic_before)
    complete_result(result, data, history)
    finished = time.perf_counter()
    result.timings.update(training=tested - trained, test=finished - tested, total=finished - started)
    return result


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
