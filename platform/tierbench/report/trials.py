"""Finished trial runs read back from MLflow, one record per (dataset, target, tiers, split).

MLflow returns params and tags as strings and its search language knows AND but neither OR nor IN, so
the query asks only for what it can express (trial runs, FINISHED, optionally one suite run) and the
rest is decided here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Experiment, Run

from tierbench.errors import TierbenchError
from tierbench.tracking.tags import (
    FINISHED,
    KIND_SUITE,
    KIND_TRIAL,
    PREDICTIONS_ARTIFACT,
    TAG_CONFIG_HASH,
    TAG_DATASET,
    TAG_FOLD,
    TAG_KIND,
    TAG_PARENT,
    TAG_SEED,
    TAG_SPLIT,
    TAG_TARGET,
    TAG_TASK,
    TAG_TIERS,
    TAG_UNIT,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
REQUIRED_TAGS = (TAG_DATASET, TAG_TARGET, TAG_TIERS, TAG_SPLIT, TAG_TASK)
PROGRESS_BAR_VARIABLE = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"

"""Test predictions of a trial (columns ``id,target,prediction``), at the root of its artifacts."""


class ComparisonError(TierbenchError, ValueError):
    """Nothing to compare: an unknown experiment or run, or no finished trial."""


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial as the comparison sees it.

    Attributes:
        run_id: MLflow run id.
        run_name: Run name (``<dataset>|<tiers>|seed<k>``).
        parent_run_id: The suite run it belongs to.
        dataset: Dataset label.
        target: Target predicted.
        unit: Unit of the target (and of MAE/RMSE).
        task: ``regression`` or ``classification``.
        tiers: Tier combination label, e.g. ``atom+motif``.
        split_id: Identity of the train/val/test assignment; the same for every tier combination of a
            seed or fold, hence the key that pairs trials.
        seed: Seed, when the trial has one.
        fold: Fold, for fold-based splits.
        config_hash: Hash of the trial's resolved configuration.
        start_time: Start time in ms since the epoch (the latest of duplicates wins).
        metrics: Final metric values (``test_mae``, ``train_seconds``, …).
        params: Flattened configuration, as strings.
    """

    run_id: str
    run_name: str
    parent_run_id: str | None
    dataset: str
    target: str
    unit: str
    task: str
    tiers: str
    split_id: str
    seed: int | None
    fold: int | None
    config_hash: str
    start_time: int
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def group(self) -> tuple[str, str, str]:
        """``(dataset, target, tiers)``: the trials that are averaged together."""
        return (self.dataset, self.target, self.tiers)


def _optional_int(value: str | None) -> int | None:
    return int(value) if value not in (None, "", "None") else None


def _record(run: Run) -> TrialRecord | None:
    tags = run.data.tags
    missing = [name for name in REQUIRED_TAGS if not tags.get(name)]
    if missing:
        logger.warning("run %s lacks the tags %s; it is not compared", run.info.run_id, ", ".join(missing))
        return None
    return TrialRecord(
        run_id=run.info.run_id,
        run_name=run.info.run_name or "",
        parent_run_id=tags.get(TAG_PARENT),
        dataset=tags[TAG_DATASET],
        target=tags[TAG_TARGET],
        unit=tags.get(TAG_UNIT, ""),
        task=tags[TAG_TASK],
        tiers=tags[TAG_TIERS],
        split_id=tags[TAG_SPLIT],
        seed=_optional_int(tags.get(TAG_SEED)),
        fold=_optional_int(tags.get(TAG_FOLD)),
        config_hash=tags.get(TAG_CONFIG_HASH, ""),
        start_time=run.info.start_time or 0,
        metrics=dict(run.data.metrics),
        params=dict(run.data.params),
    )


def search_all(client: MlflowClient, experiment_ids: list[str], query: str) -> Iterator[Run]:
    """Every run matching ``query``, page by page (works the same against sqlite and a server)."""
    token: str | None = None
    while True:
        page = client.search_runs(experiment_ids, query, max_results=PAGE_SIZE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def resolve_experiment(client: MlflowClient, name: str | None, suite: Run | None) -> Experiment:
    """The experiment to compare: named, else the suite run's, else that of the newest suite run.

    Raises:
        ComparisonError: The experiment does not exist, does not hold the suite run, or the store holds no
            suite run.
    """
    if name is not None:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none"
            raise ComparisonError(f"no MLflow experiment named {name!r} (experiments: {known})")
        if suite is not None and suite.info.experiment_id != experiment.experiment_id:
            raise ComparisonError(f"suite run {suite.info.run_id} is not in experiment {name!r}")
        return experiment
    if suite is not None:
        return client.get_experiment(suite.info.experiment_id)
    newest = _newest_suite_run(client, [e.experiment_id for e in client.search_experiments()])
    if newest is None:
        raise ComparisonError("the MLflow store holds no tierbench suite run; run `tierbench bench` first")
    return client.get_experiment(newest.info.experiment_id)


def suite_run(client: MlflowClient, run_id: str) -> Run:
    """The suite (parent) run with this id.

    Raises:
        ComparisonError: No such run, or the run is not a suite run.
    """
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise ComparisonError(f"no MLflow run with id {run_id!r}") from error
    kind = run.data.tags.get(TAG_KIND)
    if kind != KIND_SUITE:
        raise ComparisonError(f"run {run_id} is a {kind or 'non-tierbench'} run, not a suite run")
    return run


def _newest_suite_run(client: MlflowClient, experiment_ids: list[str]) -> Run | None:
    runs = client.search_runs(
        experiment_ids, f"tags.`{TAG_KIND}` = '{KIND_SUITE}'", max_results=1, order_by=["attributes.start_time DESC"]
    )
    return runs[0] if runs else None


def latest_suite_run(client: MlflowClient, experiment_id: str) -> str | None:
    """Id of the newest suite run of the experiment, if any."""
    newest = _newest_suite_run(client, [experiment_id])
    return newest.info.run_id if newest else None


def collect_trials(
    client: MlflowClient,
    experiment_id: str,
    suite_run_id: str | None = None,
    config_hashes: Collection[str] | None = None,
) -> list[TrialRecord]:
    """FINISHED trial runs of an experiment (or of one suite run), one per (dataset, target, tiers, split).

    A trial re-run (``--force``, or a later suite execution with another configuration) leaves several
    FINISHED runs for one split of one combination; the newest is kept, so means never mix them.
    ``config_hashes`` keeps only the trials of one suite's current plan, so trials of an earlier
    version of the suite in the same experiment stay out of its table.

    Raises:
        ComparisonError: No finished trial run matches.
    """
    query = f"tags.`{TAG_KIND}` = '{KIND_TRIAL}' and attributes.status = '{FINISHED}'"
    if suite_run_id is not None:
        query += f" and tags.`{TAG_PARENT}` = '{suite_run_id}'"
    newest: dict[tuple[str, str, str, str], TrialRecord] = {}
    superseded = 0
    for run in search_all(client, [experiment_id], query):
        record = _record(run)
        if record is None or (config_hashes is not None and record.config_hash not in config_hashes):
            continue
        key = (*record.group, record.split_id)
        kept = newest.get(key)
        if kept is not None:
            superseded += 1
            if kept.start_time >= record.start_time:
                continue
        newest[key] = record
    if superseded:
        logger.warning("%d older runs of the same split and tier combination were replaced by newer ones", superseded)
    if not newest:
        scope = f"suite run {suite_run_id}" if suite_run_id else f"experiment {experiment_id}"
        raise ComparisonError(f"{scope} has no FINISHED trial run to compare")
    return sorted(newest.values(), key=lambda r: (r.dataset, r.target, r.tiers, r.fold or 0, r.seed or 0, r.split_id))


def download_predictions(client: MlflowClient, run_id: str, directory: Path) -> Path:
    """Download a trial's ``predictions.csv`` into ``directory`` and return its path.

    MLflow draws a progress bar per download unless ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is false;
    for many one-file downloads that is noise, so it is switched off for the call.
    """
    directory.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get(PROGRESS_BAR_VARIABLE)
    os.environ[PROGRESS_BAR_VARIABLE] = "false"
    try:
        return Path(client.download_artifacts(run_id, PREDICTIONS_ARTIFACT, str(directory)))
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_BAR_VARIABLE, None)
        else:
            os.environ[PROGRESS_BAR_VARIABLE] = previous
