"""Per-epoch learning curves from a training process into its trial's MLflow run."""

from __future__ import annotations

import pytorch_lightning as pl

from tierbench.tracking import RunLogger


class EpochMetricsToMLflow(pl.Callback):
    """Logs every scalar epoch metric (train/val losses and metrics) once per epoch, in one batched call.

    Only the global-rank-0 process logs, so a multi-worker trial writes one curve.

    Args:
        run_logger: The trial's run, created by the suite driver.
    """

    def __init__(self, run_logger: RunLogger) -> None:
        self.run_logger = run_logger

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log the epoch's metrics (validation has run before this hook)."""
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if hasattr(value, "numel") and value.numel() == 1 and not key.startswith("test_")
        }
        metrics["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"]) if trainer.optimizers else 0.0
        self.run_logger.log_metrics(metrics, step=trainer.current_epoch)
