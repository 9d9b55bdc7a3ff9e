"""Recording a finished trial in MLflow: its tags, metrics, timings and artifacts, and its final state."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tierbench.config.trial import PlannedTrial
from tierbench.tracking.store import Tracker
from tierbench.tracking.tags import (
    FAILED,
    FINISHED,
    PREDICTIONS_ARTIFACT,
    TAG_CONFIG_HASH,
    TAG_DATASET,
    TAG_FOLD,
    TAG_NODE_IDS,
    TAG_NODE_IPS,
    TAG_SEED,
    TAG_SPLIT,
    TAG_SUITE,
    TAG_TARGET,
    TAG_TASK,
    TAG_TIERS,
    TAG_UNIT,
)

if TYPE_CHECKING:
    from tierbench.cluster.jobs import ClusterTrialResult

LIBRARIES = ("torch", "torch-geometric", "pytorch-lightning", "ray", "mlflow", "pymatgen", "tblite", "pyscf")


@cache
def git_commit() -> str:
    """The checkout's commit, or ``unknown`` outside a git checkout (asked once per process)."""
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


@cache
def library_versions() -> dict[str, str]:
    """Versions of the libraries results depend on, as ``version.<name>`` tags (read once per process)."""
    return {f"version.{name}": version(name) for name in LIBRARIES}


def trial_tags(suite_name: str, trial: PlannedTrial, unit: str, task: str, split_id: str) -> dict[str, str]:
    """The tags that the comparison and the MLflow UI group trials by."""
    tags = {
        TAG_SUITE: suite_name,
        TAG_TIERS: trial.tiers_label,
        TAG_DATASET: trial.dataset,
        TAG_TARGET: trial.config.target,
        TAG_UNIT: unit,
        TAG_TASK: task,
        TAG_SPLIT: split_id,
        TAG_SEED: str(trial.seed),
        TAG_CONFIG_HASH: trial.config_hash,
        "git_commit": git_commit(),
        **library_versions(),
    }
    if trial.fold is not None:
        tags[TAG_FOLD] = str(trial.fold)
    for label, entry in trial.config.tiers.items():
        from tierbench.tier.registry import load_tier_class

        tags[f"tier.{label}.version"] = load_tier_class(entry.tier).version
    return tags


def _trial_artifacts(trial: PlannedTrial, result: ClusterTrialResult, unit: str, folder: Path) -> list[Path]:
    from tierbench.tracking.plots import learning_curves, parity_plot, roc_plot

    config_path = folder / "config.yaml"
    config_path.write_text(yaml.safe_dump(trial.config.model_dump(mode="json"), sort_keys=False))
    paths = [config_path]
    if result.predictions:
        predictions = folder / PREDICTIONS_ARTIFACT
        rows = ["id,target,prediction"] + [f"{r['id']},{r['target']!r},{r['prediction']!r}" for r in result.predictions]
        predictions.write_text("\n".join(rows) + "\n")
        paths.append(predictions)
        if result.task == "classification":
            paths.append(roc_plot(result.predictions, trial.config.target, folder / "roc_curve.png"))
        else:
            paths.append(parity_plot(result.predictions, trial.config.target, unit, folder / "parity.png"))
    if result.history:
        paths.append(learning_curves(result.history, folder / "learning_curves.png"))
    samples = folder / "samples.json"
    samples.write_text(json.dumps(result.samples, indent=2))
    paths.append(samples)
    checkpoint = getattr(result, "checkpoint_path", None)
    if checkpoint and Path(checkpoint).is_file():
        paths.append(Path(checkpoint))
    return paths


def record_result(tracker: Tracker, run_id: str, trial: PlannedTrial, result: ClusterTrialResult, unit: str) -> None:
    """Log a trial's final metrics, timings, nodes and artifacts, and end its run FINISHED or FAILED."""
    metrics = dict(result.metrics)
    metrics.update({f"featurize_cpu_seconds_{label}": value for label, value in result.featurization_cpu.items()})
    metrics["train_seconds"] = result.timings.get("training", 0.0)
    metrics.update({f"n_{part}": float(count) for part, count in result.samples.items() if isinstance(count, int)})
    nodes = (
        {TAG_NODE_IPS: ",".join(result.node_ips), TAG_NODE_IDS: ",".join(result.node_ids)} if result.node_ids else {}
    )
    tracker.log(run_id, metrics=metrics, tags=nodes)
    with tempfile.TemporaryDirectory(prefix="tierbench-artifacts-") as folder:
        for path in _trial_artifacts(trial, result, unit, Path(folder)):
            tracker.client.log_artifact(run_id, str(path))
    if result.status == "ok":
        tracker.finish(run_id, FINISHED)
    else:
        tracker.finish(run_id, FAILED, f"{result.failure_reason}: {result.failure_message}")


def unit_of(units: Mapping[str, str], target: str) -> str:
    """The unit of ``target`` (``""`` when unknown or dimensionless)."""
    return units.get(target, "")
