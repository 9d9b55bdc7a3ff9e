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

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint

from tierbench.config.trial import TrialConfig
from tierbench.model.module import NonFiniteLossError
from tierbench.trial.result import MetricHistory, TrialResult, test_metrics, test_predictions
from tierbench.trial.steps import (
    build_module,
    complete_result,
    flushed_denormals,
    load_trial_data,
    new_result,
    trainer_arguments,
    trial_callbacks,
)

if TYPE_CHECKING:
    from pytorch_lightning.loggers import Logger

    from tierbench.datasets import Dataset


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
    config = config if isinstance(config, TrialConfig) else TrialConfig.model_validate(config)
    with flushed_denormals():
        return _train_and_test(
            config, callbacks=callbacks, logger=logger, dataset=dataset, checkpoint_dir=checkpoint_dir
        )


def _train_and_test(
    config: TrialConfig,
    *,
    callbacks: Sequence[Callback],
    logger: Logger | bool,
    dataset: Dataset | None,
    checkpoint_dir: str | Path | None,
) -> TrialResult:
    """The body of :func:`run_trial`, with subnormals flushed."""
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
