"""A small suite logged the way the suite runner logs it, for the comparison and MLflow server tests.

Driver: :class:`~tierbench.tracking.Tracker` creates the suite run and every trial run with its tags;
worker: :class:`~tierbench.tracking.RunLogger` logs the test metrics, costs and ``predictions.csv``;
driver: the run is finished. The trials are real fits of scikit-learn models on structure descriptors of
the matbench test files, over matbench's folds, so every logged number is a real result that the tests
can recompute independently.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error, r2_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.paths import DATA_DIR
from tierbench.datasets import Dataset, load_dataset
from tierbench.datasets.splits import make_splits
from tierbench.tracking.store import RunLogger, Tracker
from tierbench.tracking.tags import (
    FAILED,
    TAG_CONFIG_HASH,
    TAG_DATASET,
    TAG_FOLD,
    TAG_SEED,
    TAG_SPLIT,
    TAG_TARGET,
    TAG_TASK,
    TAG_TIERS,
    TAG_UNIT,
)

DATA = DATA_DIR / "datasets"
# label → (matbench task, target, file)
DATASETS = {
    "gap": ("matbench_mp_gap", "gap pbe", DATA / "matbench_mp_gap.json.gz"),
    "metal": ("matbench_mp_is_metal", "is_metal", DATA / "matbench_mp_is_metal.json.gz"),
}
TIERS = ("atom", "atom+motif", "atom+orbital")
REGRESSORS = {
    "atom": DummyRegressor,
    "atom+motif": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor(3)),
    "atom+orbital": lambda: make_pipeline(StandardScaler(), Ridge(1.0)),
}
CLASSIFIERS = {
    "atom": lambda: DummyClassifier(strategy="prior"),
    "atom+motif": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(3)),
    "atom+orbital": lambda: make_pipeline(StandardScaler(), LogisticRegression()),
}
FOLDS = range(4)
FAILED_TRIAL = ("gap", "atom", 3)
"""This trial ends FAILED (no test metrics): the atom baseline of ``gap`` has 3 folds, the others 4."""


@dataclass(frozen=True)
class LoggedTrial:
    """A trial as logged, with what an independent check needs."""

    run_id: str
    label: str
    task: str
    tiers: str
    fold: int
    split_id: str
    finished: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    test_ids: tuple[str, ...] = ()
    truth: np.ndarray = field(default_factory=lambda: np.empty(0))
    predictions: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def run_name(self) -> str:
        return f"{self.label}|{self.tiers}|fold{self.fold}"


@dataclass(frozen=True)
class LoggedSuite:
    """A suite execution logged through Tracker and RunLogger."""

    tracking_uri: str
    experiment: str
    experiment_id: str
    suite_run_id: str
    trials: list[LoggedTrial]

    def finished(self, label: str, tiers: str) -> list[LoggedTrial]:
        return sorted(
            (t for t in self.trials if t.label == label and t.tiers == tiers and t.finished), key=lambda t: t.fold
        )


def _descriptors(dataset: Dataset) -> np.ndarray:
    """Density, volume per site, mean atomic number and site count of every structure."""
    rows = []
    for position in range(len(dataset)):
        structure = dataset.structure(position)
        numbers = [site.specie.Z for site in structure]
        rows.append([structure.density, structure.volume / len(structure), np.mean(numbers), len(structure)])
    return np.asarray(rows, dtype=float)


def _test_metrics(task: str, truth: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    if task == "regression":
        return {
            "test_mae": mean_absolute_error(truth, predictions),
            "test_rmse": math.sqrt(mean_squared_error(truth, predictions)),
            "test_r2": r2_score(truth, predictions),
        }
    return {
        "test_roc_auc": roc_auc_score(truth, predictions),
        "test_accuracy": float(np.mean((predictions > 0.5) == truth.astype(bool))),
        "test_bce": log_loss(truth, np.clip(predictions, 1e-7, 1 - 1e-7), labels=[0, 1]),
    }


def log_suite(
    tracking_uri: str,
    experiment: str,
    workdir: Path,
    *,
    labels: Sequence[str] = tuple(DATASETS),
    tiers: Sequence[str] = TIERS,
    folds: Sequence[int] = FOLDS,
    failed: tuple[str, str, int] | None = FAILED_TRIAL,
) -> LoggedSuite:
    """Run and log a small suite: datasets × tier combinations × matbench folds, one model per combination."""
    tracker = Tracker(experiment, tracking_uri)
    suite_params = {"datasets": list(labels), "tiers": list(tiers), "split": {"method": "matbench"}}
    suite_run_id = tracker.start_suite("report-demo", suite_params, {"tierbench.suite_file": "demo.yaml"})
    logged = []
    for label in labels:
        task_name, target, path = DATASETS[label]
        dataset = load_dataset({"name": task_name, "path": str(path)})
        task = dataset.task_types[target]
        started = time.process_time()
        features = _descriptors(dataset)
        featurize_seconds = time.process_time() - started
        values = dataset.target_values(target)
        for split in make_splits(dataset, {"method": "matbench"}):
            if split.fold not in folds:
                continue
            train, test = dataset.positions_of(split.train), dataset.positions_of(split.test)
            for combination in tiers:
                config = {"dataset": {"name": task_name, "path": str(path)}, "target": target, "tiers": combination}
                config |= {"split": {"method": "matbench", "fold": split.fold}, "model": {"kind": "sklearn"}}
                config_hash = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
                tags = {TAG_TIERS: combination, TAG_DATASET: label, TAG_TARGET: target, TAG_UNIT: dataset.units[target]}
                tags |= {TAG_TASK: task, TAG_SPLIT: split.split_id, TAG_SEED: "0", TAG_FOLD: str(split.fold)}
                tags |= {TAG_CONFIG_HASH: config_hash}
                run_name = f"{label}|{combination}|fold{split.fold}"
                run_id = tracker.create_trial_run(suite_run_id, run_name, config, tags)
                if failed == (label, combination, split.fold):
                    tracker.finish(run_id, FAILED, "training loss became NaN at epoch 3")
                    logged.append(LoggedTrial(run_id, label, task, combination, split.fold, split.split_id))
                    continue
                worker = RunLogger(tracking_uri, run_id)
                started = time.perf_counter()
                if task == "regression":
                    model = REGRESSORS[combination]().fit(features[train], values[train])
                    predictions = model.predict(features[test])
                else:
                    model = CLASSIFIERS[combination]().fit(features[train], values[train])
                    predictions = model.predict_proba(features[test])[:, 1]
                metrics = _test_metrics(task, values[test], predictions)
                costs = {f"featurize_cpu_seconds_{tier}": featurize_seconds for tier in combination.split("+")}
                worker.log_metrics({**metrics, **costs, "train_seconds": time.perf_counter() - started})
                table = workdir / run_id / "predictions.csv"
                table.parent.mkdir(parents=True)
                pd.DataFrame({"id": split.test, "target": values[test], "prediction": predictions}).to_csv(
                    table, index=False
                )
                worker.log_artifacts([table])
                tracker.finish(run_id)
                logged.append(
                    LoggedTrial(
                        run_id,
                        label,
                        task,
                        combination,
                        split.fold,
                        split.split_id,
                        finished=True,
                        metrics=metrics,
                        test_ids=split.test,
                        truth=values[test],
                        predictions=predictions,
                    )
                )
    tracker.finish(suite_run_id)
    return LoggedSuite(tracking_uri, experiment, tracker.experiment_id, suite_run_id, logged)
