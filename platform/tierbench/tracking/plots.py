"""Per-trial figures logged to MLflow: parity plot or ROC curve, and learning curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path


def parity_plot(predictions: Sequence[Mapping[str, Any]], target: str, unit: str, path: Path) -> Path:
    """Predicted against true values of the test split, with the y = x line and the MAE."""
    truth = np.array([row["target"] for row in predictions], dtype=float)
    predicted = np.array([row["prediction"] for row in predictions], dtype=float)
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    axes.scatter(truth, predicted, s=8, alpha=0.6)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    axes.plot([low, high], [low, high], color="black", linewidth=0.8)
    mae = float(np.mean(np.abs(truth - predicted)))
    label = f"{target} [{unit}]" if unit else target
    axes.set(xlabel=f"true {label}", ylabel=f"predicted {label}", title=f"test MAE {mae:.4g} {unit}".strip())
    return _save(figure, path)


def roc_plot(predictions: Sequence[Mapping[str, Any]], target: str, path: Path) -> Path:
    """ROC curve of the test split with its area."""
    from sklearn.metrics import roc_auc_score, roc_curve

    truth = np.array([row["target"] for row in predictions], dtype=float)
    scores = np.array([row["prediction"] for row in predictions], dtype=float)
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.subplots()
    if len(np.unique(truth)) > 1:
        false_positive, true_positive, _ = roc_curve(truth, scores)
        axes.plot(false_positive, true_positive)
        title = f"{target}: ROC-AUC {roc_auc_score(truth, scores):.3f}"
    else:
        title = f"{target}: one class only in the test split"
    axes.plot([0, 1], [0, 1], color="black", linewidth=0.8, linestyle="--")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    return _save(figure, path)


def learning_curves(history: Sequence[Mapping[str, float]], path: Path) -> Path:
    """Training and validation loss (and validation metrics) per epoch."""
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    epochs = [row["epoch"] for row in history]
    for key in ("train_loss", "val_loss"):
        values = [row.get(key, np.nan) for row in history]
        axes.plot(epochs, values, label=key)
    axes.set(xlabel="epoch", ylabel="loss (standardized target)", yscale="log")
    axes.legend()
    return _save(figure, path)
