"""Per-epoch learning curves from a training process into its trial's MLflow run."""

from __future__ import annotations

import pytorch_lightning as pl

from tierbench.settings import SQLITE_PREFIX, sqlite_path
from tierbench.tracking.store import RunLogger

EPOCH_MARKER = "lr"
"""The metric logged at every epoch, whatever the trial monitors."""


class EpochMetricsToMLflow(pl.Callback):
    """Logs every scalar epoch metric (train/val losses and metrics) once per epoch, in one batched call.

    Only the global-rank-0 process logs, so a multi-worker trial writes one curve. An epoch the run already
    holds is not logged again: when Ray retries a trial whose worker died, the new attempt trains the same
    seeded epochs again, and the curve must not show them twice.

    Args:
        run_logger: The trial's run, created by the suite driver.
    """

    def __init__(self, run_logger: RunLogger) -> None:
        self.run_logger = run_logger
        self._logged_epochs: set[int] = set()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Read which epochs an earlier attempt of this trial logged."""
        if trainer.is_global_zero:
            self._logged_epochs = self.run_logger.logged_steps(EPOCH_MARKER)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log the epoch's metrics (validation has run before this hook)."""
        if not trainer.is_global_zero or trainer.sanity_checking or trainer.current_epoch in self._logged_epochs:
            return
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if hasattr(value, "numel") and value.numel() == 1 and not key.startswith("test_")
        }
        metrics[EPOCH_MARKER] = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else 0.0
        self.run_logger.log_metrics(metrics, step=trainer.current_epoch)


def learning_curve_logger(tracking_uri: str, run_id: str) -> EpochMetricsToMLflow:
    """The callback that logs a trial's curves into its run, for a training process in any directory.

    A relative sqlite path is made absolute here, in the driver: Ray Train runs its workers in the run's
    folder, where the relative path would name another file.
    """
    path = sqlite_path(tracking_uri)
    if path is not None:
        tracking_uri = f"{SQLITE_PREFIX}{path.resolve()}"
    return EpochMetricsToMLflow(RunLogger(tracking_uri, run_id))
