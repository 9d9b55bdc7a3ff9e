"""Running a suite end to end: plan, skip what is finished, featurize, schedule trials, record, compare.

The driver (this module) owns everything that must happen exactly once: the MLflow store and
experiment, the suite's parent run, each trial's run, the featurization of each dataset (on Ray,
through the cache), and the final comparison. Trials run wherever the scheduler puts them and log
their learning curves into the run the driver created for them.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from tierbench.plan import PlannedTrial, plan_suite
from tierbench.suite import Suite
from tierbench.tracking import (
    FAILED,
    FINISHED,
    PREDICTIONS_ARTIFACT,
    TAG_CONFIG_HASH,
    TAG_DATASET,
    TAG_FOLD,
    TAG_SEED,
    TAG_SPLIT,
    TAG_SUITE,
    TAG_TARGET,
    TAG_TASK,
    TAG_TIERS,
    TAG_UNIT,
    Tracker,
)

logger = logging.getLogger(__name__)

DEFAULT_STORAGE = Path(".tierbench") / "runs"
LIBRARIES = ("torch", "torch-geometric", "pytorch-lightning", "ray", "mlflow", "pymatgen", "tblite", "pyscf")
DONE, TO_RUN, EXCLUDED = "done", "to run", "excluded"


@dataclass
class TrialStatus:
    """A planned trial and what the suite does with it."""

    trial: PlannedTrial
    state: str
    reason: str = ""


@dataclass
class SuiteOutcome:
    """What a suite execution did.

    Attributes:
        statuses: Every planned trial with its state before the run.
        finished: Names of trials that finished in this execution.
        failed: Trial name → failure reason, for trials that failed in this execution.
        suite_run_id: The parent run (``None`` when there was nothing to run).
        experiment: The MLflow experiment.
        table: The comparison table (Markdown), when one could be made.
        coverage: Dataset label → coverage report of its featurization.
    """

    statuses: list[TrialStatus]
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    suite_run_id: str | None = None
    experiment: str = ""
    table: str = ""
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)


def git_commit() -> str:
    """The checkout's commit, or ``unknown`` outside a git checkout."""
    try:
        found = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries results depend on, as ``version.<name>`` tags."""
    return {f"version.{name}": version(name) for name in LIBRARIES}


def suite_statuses(suite: Suite, tracker: Tracker | None, force: bool = False) -> list[TrialStatus]:
    """Every trial of the suite as done, to run or excluded (with the reason)."""
    statuses = []
    for trial in plan_suite(suite):
        if trial.excluded:
            statuses.append(TrialStatus(trial, EXCLUDED, trial.excluded))
        elif not force and tracker is not None and tracker.finished_trial(trial.config_hash) is not None:
            statuses.append(TrialStatus(trial, DONE, "a FINISHED run has this config hash"))
        else:
            statuses.append(TrialStatus(trial, TO_RUN))
    return statuses


def dry_run_table(statuses: Sequence[TrialStatus]) -> str:
    """Every trial with its hash and state, one per line."""
    lines = [f"{'trial':<48}{'hash':<14}state"]
    for status in statuses:
        note = f" ({status.reason})" if status.state == EXCLUDED else ""
        lines.append(f"{status.trial.name:<48}{status.trial.config_hash[:12]:<14}{status.state}{note}")
    counts = Counter(status.state for status in statuses)
    lines.append(", ".join(f"{counts[state]} {state}" for state in (DONE, TO_RUN, EXCLUDED)))
    return "\n".join(lines)


def trial_tags(suite: Suite, trial: PlannedTrial, unit: str, task: str, split_id: str) -> dict[str, str]:
    """The tags that the comparison and the MLflow UI group trials by."""
    tags = {
        TAG_SUITE: suite.name,
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
        from tierbench.registry import load_tier_class

        tags[f"tier.{label}.version"] = load_tier_class(entry.tier).version
    return tags


def _trial_artifacts(trial: PlannedTrial, result: Any, unit: str, folder: Path) -> list[Path]:
    from tierbench.plots import learning_curves, parity_plot, roc_plot

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


def record_result(tracker: Tracker, run_id: str, trial: PlannedTrial, result: Any, unit: str) -> None:
    """Log a trial's final metrics, timings and artifacts, and end its run FINISHED or FAILED."""
    metrics = dict(result.metrics)
    metrics.update({f"featurize_cpu_seconds_{label}": value for label, value in result.featurization_cpu.items()})
    metrics["train_seconds"] = result.timings.get("training", 0.0)
    metrics.update({f"n_{part}": float(count) for part, count in result.samples.items() if isinstance(count, int)})
    tracker.log(run_id, metrics=metrics)
    with tempfile.TemporaryDirectory(prefix="tierbench-artifacts-") as folder:
        for path in _trial_artifacts(trial, result, unit, Path(folder)):
            tracker.client.log_artifact(run_id, str(path))
    if result.status == "ok":
        tracker.finish(run_id, FINISHED)
    else:
        tracker.finish(run_id, FAILED, f"{result.failure_reason}: {result.failure_message}")


def run_suite(
    suite: Suite,
    *,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SuiteOutcome:
    """Run every trial of the suite that has not finished before, then compare tier combinations.

    Args:
        suite: The validated suite.
        address: Ray cluster address (default ``RAY_ADDRESS`` or a local cluster on demand).
        force: Rerun trials that already have a FINISHED run.
        progress: Show progress bars.
        echo: Where to print the summary lines.
    """
    from tierbench.suite_execution import SuiteExecution

    tracker = Tracker(suite.tracking.experiment or suite.name, suite.tracking.tracking_uri)
    stale = tracker.sweep_stale_runs()
    if stale:
        echo(f"marked {len(stale)} runs of a stopped driver KILLED")
    statuses = suite_statuses(suite, tracker, force)
    outcome = SuiteOutcome(statuses, experiment=tracker.experiment)
    pending = [status.trial for status in statuses if status.state == TO_RUN]
    if pending:
        SuiteExecution(suite, tracker, outcome, address=address, progress=progress, echo=echo).run(pending)
    hashes = {status.trial.config_hash for status in statuses}
    outcome.table = comparison_table(tracker, outcome.suite_run_id, hashes, echo)
    return outcome


def comparison_table(
    tracker: Tracker, suite_run_id: str | None, config_hashes: set[str], echo: Callable[[str], None]
) -> str:
    """Compare the suite's finished trials (logging the table to the suite run when there is one).

    Only trials of the suite's current plan count, so an earlier version of the suite (say, fewer
    epochs) in the same experiment never mixes into the means.
    """
    from tierbench.report.compare import compare
    from tierbench.report.trials import ComparisonError

    try:
        comparison = compare(
            tracking_uri=tracker.tracking_uri,
            experiment=tracker.experiment,
            log_to_suite=suite_run_id is not None,
            config_hashes=config_hashes,
        )
    except ComparisonError as error:
        echo(f"no comparison: {error}")
        return ""
    echo(comparison.markdown)
    echo(f"tables and chart: {comparison.files[0].parent}")
    return comparison.markdown


def unit_of(units: Mapping[str, str], target: str) -> str:
    """The unit of ``target`` (``""`` when unknown or dimensionless)."""
    return units.get(target, "")
