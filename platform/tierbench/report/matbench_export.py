"""Matbench ``results.json.gz`` files: fold-wise test predictions and scores, one file per tier combination.

The layout is what ``matbench.MatbenchBenchmark.as_dict`` writes (``matbench_v0.1``): per task, per
``fold_<k>``, the predictions keyed by matbench id (``data``), free-form ``parameters`` (here the MLflow
run, seed and config hash) and the ``scores`` matbench computes (MAE, RMSE, MAPE, max error; or
accuracy, balanced accuracy, F1 and ROC-AUC on probabilities thresholded at 0.5), and a ``hash``: the
SHA-256 of the key-sorted JSON of everything else. Matbench accepts a file for submission only when
every fold of the full task is recorded; files from subsets are written too (for inspection), with a
warning.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import logging
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow import MlflowClient

import tierbench
from tierbench.datasets.matbench_tasks import MATBENCH_FOLDS, MATBENCH_STRUCTURE_TASKS
from tierbench.errors import TierbenchError
from tierbench.report.trials import TrialRecord, download_predictions
from tierbench.tracking.tags import PREDICTIONS_ARTIFACT

logger = logging.getLogger(__name__)

BENCHMARK_NAME = "matbench_v0.1"
FORMAT_VERSION = "0.6"
DATESTAMP_FORMAT = "%Y.%m.%d %H:%M.%S"
PROBABILITY_THRESHOLD = 0.5
MAPE_THRESHOLD = 1e-5
PREDICTION_COLUMNS = ("id", "target", "prediction")
RESULTS_FILE = "results.json.gz"


class MatbenchExportError(TierbenchError, ValueError):
    """Trial predictions that cannot be written as matbench results."""


def matbench_task(trial: TrialRecord) -> str | None:
    """The matbench task a fold-split trial ran on (from its dataset tag or its dataset params)."""
    if trial.fold is None:
        return None
    return next((name for name in (trial.dataset, *trial.params.values()) if name in MATBENCH_STRUCTURE_TASKS), None)


def id_prefix(task: str) -> str:
    """Prefix of the task's sample ids (``mb-mp-gap-`` for ``matbench_mp_gap``)."""
    return task.replace("matbench", "mb").replace("_", "-") + "-"


def read_predictions(path: Path, task: str, run_id: str) -> pd.DataFrame:
    """A trial's test predictions, checked to be matbench ids of ``task``.

    Raises:
        MatbenchExportError: Other columns, or ids that are not the task's matbench ids.
    """
    frame = pd.read_csv(path, dtype={"id": str})
    if tuple(frame.columns) != PREDICTION_COLUMNS:
        raise MatbenchExportError(
            f"{PREDICTIONS_ARTIFACT} of run {run_id} has columns {list(frame.columns)}, "
            f"expected {list(PREDICTION_COLUMNS)}"
        )
    foreign = frame.loc[~frame["id"].str.startswith(id_prefix(task)), "id"]
    if len(foreign):
        raise MatbenchExportError(
            f"run {run_id}: ids such as {foreign.iloc[0]!r} are not matbench ids of {task} "
            f"(expected {id_prefix(task)}…; read the task with the matbench dataset format)"
        )
    return frame


def fold_scores(truth: np.ndarray, predictions: np.ndarray, task_type: str) -> dict[str, float]:
    """Matbench's per-fold scores (``matbench.data_ops.score_array``)."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        max_error,
        mean_absolute_error,
        mean_squared_error,
        roc_auc_score,
    )

    if task_type == "regression":
        kept = np.abs(truth) > MAPE_THRESHOLD
        return {
            "mae": float(mean_absolute_error(truth, predictions)),
            "rmse": float(np.sqrt(mean_squared_error(truth, predictions))),
            "mape": float(np.mean(np.abs((truth[kept] - predictions[kept]) / truth[kept]))),
            "max_error": float(max_error(truth, predictions)),
        }
    labels, predicted = truth.astype(bool), predictions > PROBABILITY_THRESHOLD
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
        "f1": float(f1_score(labels, predicted)),
        "rocauc": float(roc_auc_score(labels.astype(float), predictions)),
    }


def results_hash(document: dict[str, Any]) -> str:
    """Matbench's ``hash_dictionary``: SHA-256 of the key-sorted JSON."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode("utf-8")).hexdigest()


def _fold_result(trial: TrialRecord, frame: pd.DataFrame, task: str) -> dict[str, Any]:
    task_type = MATBENCH_STRUCTURE_TASKS[task].task_type
    predictions = frame["prediction"].to_numpy(dtype=float)
    if task_type == "classification" and ((predictions < 0) | (predictions > 1)).any():
        raise MatbenchExportError(f"run {trial.run_id}: classification predictions must be probabilities in [0, 1]")
    return {
        "data": dict(zip(frame["id"], predictions.tolist(), strict=True)),
        "parameters": {"mlflow_run_id": trial.run_id, "seed": trial.seed, "config_hash": trial.config_hash},
        "scores": fold_scores(frame["target"].to_numpy(dtype=float), predictions, task_type),
    }


def _warn_if_incomplete(tiers: str, task: str, folds: dict[str, dict[str, Any]]) -> None:
    recorded = sum(len(fold["data"]) for fold in folds.values())
    size = MATBENCH_STRUCTURE_TASKS[task].size
    if len(folds) < MATBENCH_FOLDS or recorded < size:
        logger.warning(
            "%s on %s: %d of %d folds and %d of %d samples recorded; matbench accepts only complete tasks",
            tiers,
            task,
            len(folds),
            MATBENCH_FOLDS,
            recorded,
            size,
        )


def benchmark_document(tiers: str, tasks: dict[str, dict[str, dict[str, Any]]], experiment_id: str) -> dict[str, Any]:
    """The ``MatbenchBenchmark`` dictionary (with its hash) of one tier combination."""
    document: dict[str, Any] = {
        "@module": "matbench.bench",
        "@class": "MatbenchBenchmark",
        "version": FORMAT_VERSION,
        "tasks": {
            task: {
                "@module": "matbench.task",
                "@class": "MatbenchTask",
                "benchmark_name": BENCHMARK_NAME,
                "dataset_name": task,
                "results": folds,
            }
            for task, folds in sorted(tasks.items())
        },
        "user_metadata": {
            "algorithm": f"tierbench fusion model, tiers {tiers}",
            "tiers": tiers,
            "tierbench_version": tierbench.__version__,
            "mlflow_experiment_id": experiment_id,
        },
        "benchmark_name": BENCHMARK_NAME,
        "datestamp": datetime.datetime.now(datetime.timezone.utc).strftime(DATESTAMP_FORMAT),
    }
    document["hash"] = results_hash(document)
    return document


def _one_trial_per_fold(trials: Sequence[TrialRecord]) -> dict[str, dict[str, dict[int, TrialRecord]]]:
    """Tiers label → task → fold → the trial with the lowest seed (matbench takes one prediction per fold)."""
    chosen: dict[str, dict[str, dict[int, TrialRecord]]] = defaultdict(lambda: defaultdict(dict))
    for trial in trials:
        task = matbench_task(trial)
        if task is None or trial.fold is None:
            continue
        folds = chosen[trial.tiers][task]
        kept = folds.get(trial.fold)
        if kept is None or (trial.seed or 0) < (kept.seed or 0):
            folds[trial.fold] = trial
    return chosen


def export_matbench(
    client: MlflowClient, trials: Sequence[TrialRecord], directory: Path, experiment_id: str
) -> list[Path]:
    """Write ``<directory>/<tiers>/results.json.gz`` for every combination with matbench fold trials.

    Returns:
        The files written (none when no trial ran on matbench folds).

    Raises:
        MatbenchExportError: A trial's predictions are not matbench predictions of its task.
    """
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        for tiers, tasks in sorted(_one_trial_per_fold(trials).items()):
            results: dict[str, dict[str, dict[str, Any]]] = {}
            for task, folds in tasks.items():
                results[task] = {}
                for fold, trial in sorted(folds.items()):
                    path = download_predictions(client, trial.run_id, Path(scratch) / trial.run_id)
                    results[task][f"fold_{fold}"] = _fold_result(
                        trial, read_predictions(path, task, trial.run_id), task
                    )
                _warn_if_incomplete(tiers, task, results[task])
            target = directory / tiers / RESULTS_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(target, "wt", encoding="utf-8") as handle:
                json.dump(benchmark_document(tiers, results, experiment_id), handle)
            written.append(target)
    return written
