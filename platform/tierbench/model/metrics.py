"""Per-epoch metrics in each target's own unit (regression) or on probabilities (binary classification)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, Metric, R2Score
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC

from tierbench.config.base import TaskType

REGRESSION_METRICS = ("mae", "rmse", "r2")
CLASSIFICATION_METRICS = ("bce", "roc_auc", "accuracy")


def _new_metric(name: str) -> Metric:
    factories: dict[str, Callable[[], Metric]] = {
        "mae": MeanAbsoluteError,
        "rmse": lambda: MeanSquaredError(squared=False),
        "r2": R2Score,
        "bce": MeanMetric,
        "roc_auc": BinaryAUROC,
        "accuracy": BinaryAccuracy,
    }
    return factories[name]()


def metric_key(metric: str, target: str, num_targets: int) -> str:
    """Logged name of ``metric`` for ``target``: the bare metric name when there is a single target."""
    return metric if num_targets == 1 else f"{metric}_{target}"


class TargetMetrics(nn.Module):
    """The metrics of one stage, one set per target column.

    Args:
        task: ``"regression"`` (MAE, RMSE, R²) or ``"classification"`` (BCE, ROC-AUC, accuracy).
        target_names: Targets in column order.
    """

    def __init__(self, task: TaskType, target_names: Sequence[str]) -> None:
        super().__init__()
        names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
        self.task = task
        self.columns: dict[str, tuple[str, int]] = {}
        metrics = {}
        for column, target in enumerate(target_names):
            for name in names:
                key = metric_key(name, target, len(target_names))
                metrics[key] = _new_metric(name)
                self.columns[key] = (name, column)
        self.metrics = nn.ModuleDict(metrics)

    def items(self) -> list[tuple[str, Metric]]:
        """(logged name, metric) pairs."""
        return [(key, metric) for key, metric in self.metrics.items() if isinstance(metric, Metric)]

    def update(self, prediction: Tensor, target: Tensor, per_sample_loss: Tensor) -> None:
        """Add a batch.

        Args:
            prediction: ``[B, T]`` predictions in the targets' units (probabilities for classification).
            target: ``[B, T]`` targets in their units (0/1 labels for classification).
            per_sample_loss: ``[B, T]`` binary cross-entropy per sample (classification only).
        """
        for key, metric in self.items():
            name, column = self.columns[key]
            if name == "bce":
                metric.update(per_sample_loss[:, column])
            elif self.task == "classification":
                metric.update(prediction[:, column], target[:, column].round().long())
            else:
                metric.update(prediction[:, column], target[:, column])
