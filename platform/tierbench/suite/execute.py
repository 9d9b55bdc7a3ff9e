"""One execution of a suite's pending trials: the parent run, featurization per dataset, scheduling."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from tierbench.config.suite import Suite, SuiteDataset
from tierbench.config.trial import PlannedTrial
from tierbench.featurization.results import coverage_report
from tierbench.settings import DEFAULT_STORAGE
from tierbench.suite.outcome import EXCLUDED, SuiteOutcome
from tierbench.tracking.recording import git_commit, library_versions, record_result, trial_tags, unit_of
from tierbench.tracking.store import Tracker
from tierbench.tracking.tags import FAILED, FINISHED

if TYPE_CHECKING:
    from tierbench.cluster.jobs import ClusterTrialResult, TrialJob


class SuiteExecution:
    """Runs the pending trials of a suite and records everything in MLflow.

    Args:
        suite: The suite.
        tracker: The driver's MLflow handle.
        outcome: Filled in as trials finish.
        address: Ray cluster address.
        progress: Show progress bars.
        echo: Where to print summary lines.
    """

    def __init__(
        self,
        suite: Suite,
        tracker: Tracker,
        outcome: SuiteOutcome,
        *,
        address: str | None,
        progress: bool,
        echo: Callable[[str], None],
    ) -> None:
        self.suite = suite
        self.tracker = tracker
        self.outcome = outcome
        self.address = address
        self.progress = progress
        self.echo = echo
        self.storage = Path(suite.storage or DEFAULT_STORAGE).resolve()
        self._bar: Any = None
        self._units: dict[str, str] = {}

    def run(self, pending: list[PlannedTrial]) -> None:
        """Run the trials dataset by dataset under one parent run."""
        self._connect_ray()
        tags = {"git_commit": git_commit(), **library_versions()}
        parent = self.tracker.start_suite(self.suite.name, self.suite.model_dump(mode="json"), tags)
        self.outcome.suite_run_id = parent
        self.tracker.install_signal_handlers()
        self._bar = tqdm(total=len(pending), desc=f"suite {self.suite.name}", unit="trial", disable=not self.progress)
        try:
            for entry in self.suite.datasets:
                trials = [trial for trial in pending if trial.dataset == entry.name]
                if trials:
                    self._run_dataset(entry, trials)
        except Exception as error:  # e.g. an unwritable cache: no run may stay RUNNING behind it
            reason = f"{type(error).__name__}: {error}"
            self.tracker.finish(parent, FAILED, reason)
            self.tracker.kill_active(f"the suite stopped: {reason}")
            raise
        finally:
            self._bar.close()
        failures = len(self.outcome.failed)
        self.tracker.finish(
            parent, FINISHED if not failures else FAILED, f"{failures} trials failed" if failures else None
        )

    def _connect_ray(self) -> None:
        """Join or start Ray now, before the signal handlers are installed.

        Ray puts its own SIGTERM handler in place when it starts (it aborts the process), which would
        leave every run of a terminated driver RUNNING. The local cluster is the one featurization would
        start (sized by ``featurize_workers``), or the one trial scheduling would (every CPU).
        """
        from tierbench.ray_connection import connect_ray

        workers = self.suite.resources.featurize_workers
        connect_ray(self.address, num_cpus=workers if workers != 1 else None)

    def _log_json(self, name: str, payload: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="tierbench-suite-") as folder:
            path = Path(folder) / name
            path.write_text(json.dumps(payload, indent=2, default=str))
            self.tracker.client.log_artifact(str(self.outcome.suite_run_id), str(path), "datasets")

    def _run_dataset(self, entry: SuiteDataset, trials: list[PlannedTrial]) -> None:
        from tierbench.cluster.jobs import TrialJob
        from tierbench.cluster.scheduler import run_trials
        from tierbench.datasets import load_dataset
        from tierbench.featurization.engine import featurize
        from tierbench.tier.registry import get_tier
        from tierbench.tracking.callbacks import learning_curve_logger

        dataset = load_dataset(trials[0].config.dataset)
        self.echo(f"{entry.name}: {len(dataset)} samples ({dataset.quarantine.summary()})")
        # Every tier of the dataset's runnable trials, finished ones too: the structures all combinations
        # compare on, and so their splits, must not depend on which trials happen to be pending.
        planned = [status.trial for status in self.outcome.statuses if status.state != EXCLUDED]
        labels = list(dict.fromkeys(label for trial in planned if trial.dataset == entry.name for label in trial.tiers))
        tiers = {
            label: get_tier(self.suite.tiers[label].tier or label, **self.suite.tiers[label].params) for label in labels
        }
        featurization = featurize(
            dataset,
            tiers,
            cache=self.suite.cache,
            ray_address=self.address,
            workers=self.suite.resources.featurize_workers,
            progress=self.progress,
        )
        self.echo(featurization.table())
        covered = featurization.covered(labels)
        coverage = coverage_report(featurization, dataset, labels)
        self.outcome.coverage[entry.name] = coverage
        self._log_json(f"{entry.name}-coverage.json", coverage)
        if len(covered) < len(dataset):
            self.echo(
                f"{entry.name}: {len(dataset) - len(covered)} samples excluded from every combination "
                f"so that all combinations compare on the same structures: {featurization.exclusions(labels)}"
            )
        compared = dataset.subset(covered, reason="not covered by every tier of the suite")
        unit = unit_of(dataset.units, entry.target)
        task = entry.task or dataset.task_types.get(entry.target, "regression")
        jobs = []
        for trial in trials:
            split_id = self._split_id(compared, trial)
            run_id = self.tracker.create_trial_run(
                str(self.outcome.suite_run_id),
                trial.name,
                trial.config.model_dump(mode="json"),
                trial_tags(self.suite.name, trial, unit, task, split_id),
            )
            self._units[run_id] = unit
            curves = learning_curve_logger(self.tracker.tracking_uri, run_id)
            jobs.append(TrialJob(trial.name, trial.config, str(self.storage), (trial, run_id), (curves,)))
        run_trials(jobs, self.suite.resources, dataset=compared, address=self.address, on_result=self._on_result)

    def _split_id(self, dataset: Any, trial: PlannedTrial) -> str:
        from tierbench.datasets.splits import make_splits

        return make_splits(dataset, trial.config.split)[trial.config.fold].split_id

    def _on_result(self, job: TrialJob, result: ClusterTrialResult) -> None:
        trial, run_id = job.trial
        record_result(self.tracker, run_id, trial, result, self._units[run_id])
        if result.status == "ok":
            self.outcome.finished.append(trial.name)
        else:
            self.outcome.failed[trial.name] = str(result.failure_reason)
        self._bar.update(1)
        self._bar.set_postfix_str(
            f"{len(self.outcome.finished)} ok, {len(self.outcome.failed)} failed; last {trial.name}", refresh=True
        )
