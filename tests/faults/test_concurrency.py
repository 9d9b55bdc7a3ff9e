"""Concurrent writers: trial processes and whole drivers starting together on a fresh sqlite store and
one graph cache lose nothing, duplicate nothing and corrupt nothing.

MLflow creates and migrates a sqlite store on first use, and processes doing that at once crash each
other. The driver therefore creates the store and the experiment before any trial process exists, and
drivers that start together take turns creating it. The processes here are real: spawned Python
processes that use :class:`~tierbench.tracking.Tracker` and :class:`~tierbench.tracking.RunLogger`
exactly as the suite driver and its trials do, released at the same instant; and two ``tierbench bench``
drivers started at once over the same QM9 molecules, store and cache. (This module imports little at
its top: the spawned processes import it.)
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tierbench.tier.registry import available_tiers
from tierbench.tracking.store import RunLogger, Tracker
from tierbench.tracking.tags import FINISHED, KIND_SUITE, KIND_TRIAL, TAG_CONFIG_HASH

PROCESSES = 4
EPOCHS = 5
Barrier = Any


def _log_a_trial(start: Barrier, tracking_uri: str, run_id: str, folder: str) -> int:
    """A trial process: log tags, learning curves and an artifact into the run the driver created."""
    start.wait()
    run = RunLogger(tracking_uri, run_id)
    run.set_tags({"ray.node_ips": "127.0.0.1"})
    for epoch in range(EPOCHS):
        run.log_metrics({"train_loss": 1.0 / (epoch + 1), "val_loss": 2.0 / (epoch + 1)}, step=epoch)
    predictions = Path(folder) / run_id / "predictions.csv"
    predictions.parent.mkdir(parents=True)
    predictions.write_text("id,target,prediction\nm1,1.0,1.1\n")
    run.log_artifacts([predictions])
    return EPOCHS


def _start_a_driver(start: Barrier, tracking_uri: str, experiment: str, index: int) -> str:
    """A driver process: create the store and experiment, its suite run and a trial run, log, finish."""
    start.wait()
    tracker = Tracker(experiment, tracking_uri)
    suite_run = tracker.start_suite(f"suite-{index}", {"index": index}, {})
    trial_run = tracker.create_trial_run(suite_run, f"trial-{index}", {"seed": index}, {TAG_CONFIG_HASH: str(index)})
    RunLogger(tracking_uri, trial_run).log_metrics({"val_loss": float(index)})
    tracker.finish(trial_run)
    tracker.finish(suite_run)
    return tracker.experiment_id


def _report(results: Any, function: Callable[..., object], *arguments: object) -> None:
    try:
        results.put(("ok", function(*arguments)))
    except BaseException as error:  # the parent asserts on it
        results.put(("error", f"{type(error).__name__}: {error}"))


def _run_together(function: Callable[..., object], arguments: list[tuple[object, ...]]) -> list[object]:
    """Run ``function`` in one spawned process per argument tuple, all released at once (after imports)."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(len(arguments)), context.Queue()
    processes = [context.Process(target=_report, args=(results, function, start, *item)) for item in arguments]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(60)
    errors = [value for status, value in outcomes if status == "error"]
    assert not errors, errors
    return [value for _, value in outcomes]


@pytest.mark.slow
def test_trial_processes_logging_together_into_a_fresh_store_lose_nothing(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = Tracker("fan-out", tracking_uri)
    suite_run = tracker.start_suite("fan-out", {}, {})
    runs = [tracker.create_trial_run(suite_run, f"trial-{k}", {"seed": k}, {}) for k in range(PROCESSES)]
    results = _run_together(_log_a_trial, [(tracking_uri, run_id, str(tmp_path)) for run_id in runs])
    assert results == [EPOCHS] * PROCESSES
    for run_id in runs:
        tracker.finish(run_id)
    client = MlflowClient(tracking_uri)
    trials = tracker.trial_runs(suite_run)
    assert sorted(run.info.run_id for run in trials) == sorted(runs), "no run lost, none added"
    for run_id in runs:
        assert [metric.step for metric in client.get_metric_history(run_id, "val_loss")] == list(range(EPOCHS))
        assert client.get_run(run_id).data.tags["ray.node_ips"] == "127.0.0.1"
        assert [item.path for item in client.list_artifacts(run_id)] == ["predictions.csv"]


@pytest.mark.slow
def test_drivers_starting_together_on_a_fresh_store_all_succeed(tmp_path: Path) -> None:
    tracking_uri = f"sqlite:///{tmp_path}/mlflow.db"
    arguments = [(tracking_uri, "shared", index) for index in range(PROCESSES)]
    experiment_ids = _run_together(_start_a_driver, arguments)
    assert len(set(experiment_ids)) == 1, "one experiment, created once"
    client = MlflowClient(tracking_uri)
    runs = client.search_runs(experiment_ids[:1], max_results=100)
    assert len(runs) == 2 * PROCESSES and {run.info.status for run in runs} == {FINISHED}
    trials = sorted(run.data.tags[TAG_CONFIG_HASH] for run in runs if run.data.tags.get("tierbench.kind") == "trial")
    assert trials == [str(index) for index in range(PROCESSES)]


@pytest.mark.slow
@pytest.mark.skipif(
    not {"atom", "motif"} <= set(available_tiers()), reason="the atom and motif tiers are not available"
)
def test_two_suites_started_at_once_on_one_store_and_cache(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from tests.faults.test_driver import TRIALS, Driver, Store, qm9_sample, write_suite
    from tierbench.featurization.cache import GraphCache

    data = qm9_sample(tmp_path_factory)
    shared = {"experiment": "shared", "store": tmp_path, "cache": tmp_path / "cache", "epochs": 3, "concurrent": 2}
    atom = write_suite(tmp_path / "atom", data, name="atom-only", combinations="[[atom]]", **shared)
    motif = write_suite(tmp_path / "motif", data, name="with-motif", combinations="[[atom, motif]]", **shared)
    drivers = [Driver.start(suite, suite.with_suffix(".log")) for suite in (atom, motif)]
    try:
        for driver in drivers:
            assert driver.finish() == 0, driver.output()[-4000:]
            assert "2 trials run (2 finished, 0 failed)" in driver.output()
    finally:
        for driver in drivers:
            if driver.process.poll() is None:
                driver.stop(signal.SIGKILL)

    store = Store(tmp_path, "shared")
    suites = store.runs(KIND_SUITE)
    assert sorted(run.info.run_name for run in suites) == ["suite atom-only", "suite with-motif"]
    trials = store.runs(KIND_TRIAL)
    assert sorted(run.info.run_name for run in trials) == sorted(TRIALS), "every trial once, none lost"
    assert {run.info.status for run in [*suites, *trials]} == {FINISHED}
    assert len({run.data.tags[TAG_CONFIG_HASH] for run in trials}) == len(TRIALS)
    cache = GraphCache(tmp_path / "cache")
    assert cache.verify() == (2 * 60, 0), "every graph intact, written once per key"
    assert not list((tmp_path / "cache").rglob(".tmp-*")), "no partial file left"
