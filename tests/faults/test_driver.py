"""The suite driver killed, stopped and started again: every trial ends with exactly one FINISHED run, and
the results equal those of an uninterrupted run.

``tierbench bench`` runs as a real subprocess with its own local Ray cluster, over 60 QM9 molecules (atom
and atom+motif, two seeds, one trial at a time). The tests watch the graph cache and the MLflow store and
stop the driver at chosen moments: SIGKILL while it featurizes, while a trial trains, and right after a
trial finished; SIGTERM, and Ctrl-C (SIGINT to the whole process group), while trials train. Each time
the suite is started again. The next driver sweeps a killed driver's runs to KILLED; a stopped driver
marks its own runs KILLED. A finished trial is never trained again, and the metrics of the final runs
equal those of the same suite run without interruption (CPU, seeded).

The helpers here (the QM9 sample file, the suite file, the driver process and the store) also serve the
concurrency and NaN tests.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import SQLAlchemyError

from tierbench.config.suite import load_suite
from tierbench.featurization.cache import GraphCache
from tierbench.suite.plan import plan_suite
from tierbench.tier.registry import available_tiers
from tierbench.tracking.tags import (
    FINISHED,
    KILLED,
    KIND_SUITE,
    KIND_TRIAL,
    RUNNING,
    TAG_CONFIG_HASH,
    TAG_FAILURE,
    TAG_KIND,
)

pytestmark = pytest.mark.skipif(
    not {"atom", "motif"} <= set(available_tiers()), reason="the atom and motif tiers are not available"
)

TIERBENCH = str(Path(sys.executable).with_name("tierbench"))
QM9_SIZE = 60
MAX_EPOCHS = 8
WAIT_S = 300
"""Seconds a driver may take to reach a moment of interest (Ray start and worker imports take ~40 s)."""
POLL_S = 0.02
LINGER_S = 5
TRIALS = tuple(f"qm9-gap|{tiers}|seed{seed}" for tiers in ("atom", "atom+motif") for seed in (0, 1))
COMPARED_METRICS = ("test_mae", "test_rmse", "test_r2", "best_val_loss")
STOPPED_BY_DRIVER = "stopped before the run ended"
Value = TypeVar("Value")

SUITE = """\
name: {name}
datasets:
  - label: qm9-gap
    dataset: {{name: qm9-sample, format: extxyz, path: {data}, id_key: id, targets: [gap], units: {{gap: eV}}}}
    target: gap
split: {{method: random, test: 0.2, val: 0.2}}
tiers:
{tiers}
combinations: {combinations}
seeds: {seeds}
model: {{hidden_dim: 16, mlp_dim: 16, default_encoder: {{blocks: 1, rbf: {{num_gaussians: 10}}}}}}
trainer: {{max_epochs: {epochs}, batch_size: 8, early_stopping_patience: null}}
resources: {{max_concurrent_trials: {concurrent}, featurize_workers: 2}}
tracking: {{experiment: {experiment}, tracking_uri: "sqlite:///{store}/mlflow.db"}}
cache: {cache}
storage: {root}/runs
"""


def qm9_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 molecules of the embedded QM9 (gap in eV) as an extxyz file, written once per session."""
    path = tmp_path_factory.getbasetemp() / "qm9-sample.extxyz"
    if not path.exists():
        from ase.io import write
        from pymatgen.io.ase import AseAtomsAdaptor

        from tierbench.datasets import load_dataset

        frames = []
        for sample in load_dataset({"name": "qm9", "size": QM9_SIZE, "seed": 3, "targets": ["gap"]}):
            atoms = AseAtomsAdaptor.get_atoms(sample.structure)
            atoms.info = {"id": sample.id, "gap": sample.targets["gap"]}
            frames.append(atoms)
        partial = path.with_suffix(".partial")
        write(partial, frames, format="extxyz")
        partial.replace(path)
    return path


def write_suite(
    root: Path,
    data: Path,
    *,
    name: str = "faults",
    experiment: str | None = None,
    store: Path | None = None,
    cache: Path | None = None,
    tiers: str = "  atom: {}\n  motif: {}",
    combinations: str = "[[atom], [atom, motif]]",
    seeds: str = "[0, 1]",
    epochs: int = MAX_EPOCHS,
    concurrent: int = 1,
) -> Path:
    """A suite file over the QM9 sample in ``root`` (store and cache there unless given)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.yaml"
    path.write_text(
        SUITE.format(
            name=name,
            data=data,
            tiers=tiers,
            combinations=combinations,
            seeds=seeds,
            epochs=epochs,
            concurrent=concurrent,
            experiment=experiment or name,
            store=store or root,
            cache=cache or root / "cache",
            root=root,
        )
    )
    return path


@dataclass
class Driver:
    """A ``tierbench bench`` process in its own session (so Ctrl-C can go to its whole process group)."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, suite: Path, log: Path, env: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> Driver:
        """Start ``tierbench bench SUITE --quiet [options]`` in the suite's folder, output into ``log``."""
        with log.open("wb") as output:
            process = subprocess.Popen(
                [TIERBENCH, "bench", str(suite), "--quiet", *options],
                cwd=suite.parent,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        return cls(process, log)

    def output(self) -> str:
        """Everything the driver printed so far."""
        return self.log.read_text(errors="replace")

    def wait_until(self, condition: Callable[[], Value | None], moment: str, timeout: float = WAIT_S) -> Value:
        """Poll ``condition`` until it returns something truthy; fail if the driver ends or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = condition()
            except (MlflowException, SQLAlchemyError, sqlite3.Error):  # the driver is writing: look again
                found = None
            if found:
                return found
            if self.process.poll() is not None:
                pytest.fail(f"the driver exited ({self.process.returncode}) before {moment}:\n{self.output()[-4000:]}")
            time.sleep(POLL_S)
        self.stop(signal.SIGKILL)
        pytest.fail(f"no {moment} within {timeout} s:\n{self.output()[-4000:]}")

    def stop(self, number: int, *, group: bool = False) -> int:
        """Send a signal to the driver (or its process group) and return its exit status."""
        family = self._family()
        if group:
            os.killpg(self.process.pid, number)
        else:
            self.process.send_signal(number)
        return self._ended(family)

    def finish(self, timeout: float = WAIT_S) -> int:
        """Wait for the driver to end by itself and return its exit status."""
        family = self._family()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL)
            pytest.fail(f"the driver did not finish within {timeout} s:\n{self.output()[-4000:]}")
        return self._ended(family)

    def _family(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def _ended(self, family: list[psutil.Process]) -> int:
        """Wait for the driver, then briefly for the Ray processes it started; end those that outlive it.

        Ray's raylet, GCS and workers follow a killed driver within seconds, but its dashboard and
        runtime-env agents stay: they would only eat memory, so they are ended here.
        """
        status = self.process.wait(120)
        _, alive = psutil.wait_procs(family, timeout=LINGER_S)
        for process in alive:
            process.kill()
        psutil.wait_procs(alive, timeout=10)
        return status


@dataclass
class Store:
    """A read-only view of a suite's MLflow store."""

    root: Path
    experiment: str
    _client: MlflowClient | None = field(default=None, init=False)

    @property
    def uri(self) -> str:
        """The store's tracking URI."""
        return f"sqlite:///{self.root}/mlflow.db"

    def ready(self) -> bool:
        """Whether a driver has created the store and the experiment (before that, only drivers touch it)."""
        database = self.root / "mlflow.db"
        if not database.exists():
            return False
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            try:
                found = connection.execute("SELECT 1 FROM experiments WHERE name = ?", (self.experiment,)).fetchone()
            except sqlite3.OperationalError:
                return False
        return found is not None

    @property
    def client(self) -> MlflowClient:
        """An MLflow client of the store (made once the store exists)."""
        if self._client is None:
            assert self.ready(), "the store is read only after a driver created it"
            self._client = MlflowClient(self.uri)
        return self._client

    def runs(self, kind: str | None = None) -> list[Run]:
        """Every run of the experiment (of one kind: suite or trial); none before the store exists."""
        if not self.ready():
            return []
        experiment = self.client.get_experiment_by_name(self.experiment)
        query = f"tags.`{TAG_KIND}` = '{kind}'" if kind else ""
        return list(self.client.search_runs([experiment.experiment_id], query, max_results=1000))

    def epochs(self, run_id: str) -> int:
        """Epochs whose learning-curve point is logged in the run."""
        return len(self.client.get_metric_history(run_id, "val_loss"))

    def training(self) -> str | None:
        """A trial run that is training: RUNNING, with at least one epoch logged and several to go."""
        for run in self.runs(KIND_TRIAL):
            training = run.info.status == RUNNING and "val_loss" in run.data.metrics
            if training and 1 <= self.epochs(run.info.run_id) <= MAX_EPOCHS - 3:
                return run.info.run_id
        return None

    def finished_trials(self) -> list[Run]:
        """The FINISHED trial runs."""
        return [run for run in self.runs(KIND_TRIAL) if run.info.status == FINISHED]


def featurizing(cache: Path, tier: str = "motif") -> int | None:
    """How many graphs of ``tier`` are built, while some are built and some are not."""
    built = GraphCache(cache).info().get(tier, {}).get("graphs", 0)
    return built if 0 < built < QM9_SIZE else None


def summary_rows(table: str) -> list[str]:
    """The rows of the first table of a comparison (mean ± std per combination; no timings)."""
    lines = table.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith("| tiers |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def by_name(runs: list[Run]) -> dict[str, list[Run]]:
    """Runs grouped by run name (one name per trial)."""
    grouped: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        grouped[run.info.run_name or ""].append(run)
    return grouped


@contextmanager
def restore_signal_handlers() -> Iterator[None]:
    """Keep pytest's SIGINT/SIGTERM handlers: an in-process suite run installs its own."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


Launcher = Callable[..., Driver]


@pytest.fixture(name="start_driver")
def start_driver_fixture() -> Iterator[Launcher]:
    """``start_driver(suite, log, env=None, options=())`` starts a driver; any still running at the end is killed."""
    started: list[Driver] = []

    def start(suite: Path, log: Path, env: dict[str, str] | None = None, options: tuple[str, ...] = ()) -> Driver:
        started.append(Driver.start(suite, log, env, options))
        return started[-1]

    yield start
    for driver in started:
        if driver.process.poll() is None:
            driver.stop(signal.SIGKILL)


@dataclass(frozen=True)
class Reference:
    """The same suite run without interruption."""

    metrics: dict[str, dict[str, float]]
    table: str


@pytest.fixture(scope="module")
def qm9_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The QM9 sample file."""
    return qm9_sample(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(ray_local: object, qm9_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    from tierbench.suite.run import run_suite

    root = tmp_path_factory.mktemp("uninterrupted")
    suite = load_suite(write_suite(root, qm9_file, name="uninterrupted"))
    with restore_signal_handlers():
        outcome = run_suite(suite, progress=False, echo=lambda line: None)
    assert sorted(outcome.finished) == sorted(TRIALS), outcome.failed
    runs = by_name(Store(root, "uninterrupted").runs(KIND_TRIAL))
    return Reference({name: runs[name][0].data.metrics for name in TRIALS}, outcome.table)


def assert_every_trial_finished_once(store: Store, suite: Path, reference: Reference) -> dict[str, Run]:
    """Exactly one FINISHED run per trial, with the planned config hash and the uninterrupted metrics;
    no run is left RUNNING, and no trial was trained again after its FINISHED run ended."""
    runs = store.runs()
    assert not [run.info.run_name for run in runs if run.info.status == RUNNING]
    trials = by_name(store.runs(KIND_TRIAL))
    assert set(trials) == set(TRIALS)
    planned = {trial.name: trial.config_hash for trial in plan_suite(load_suite(suite))}
    finished = {}
    for name, attempts in trials.items():
        done = [run for run in attempts if run.info.status == FINISHED]
        assert len(done) == 1, f"{name}: {len(done)} FINISHED runs"
        finished[name] = done[0]
        assert done[0].data.tags[TAG_CONFIG_HASH] == planned[name]
        later = [run for run in attempts if run.info.start_time > done[0].info.end_time]
        assert not later, f"{name} was trained again after it finished"
        for metric in COMPARED_METRICS:
            assert done[0].data.metrics[metric] == reference.metrics[name][metric], (name, metric)
    return finished


@pytest.mark.slow
def test_driver_killed_while_featurizing_training_and_between_trials_then_rerun(
    reference: Reference, qm9_file: Path, start_driver: Launcher, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path, qm9_file, name="killed")
    store = Store(tmp_path, "killed")

    first = start_driver(suite, tmp_path / "featurizing.log")
    built = first.wait_until(lambda: featurizing(tmp_path / "cache"), "featurization")
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert 0 < built < QM9_SIZE
    assert not store.runs(KIND_TRIAL), "killed before any trial was planned"
    assert [run.info.status for run in store.runs(KIND_SUITE)] == [RUNNING], "a SIGKILL leaves the run behind"

    second = start_driver(suite, tmp_path / "training.log")
    interrupted = second.wait_until(store.training, "a trial training")
    assert second.stop(signal.SIGKILL) == -signal.SIGKILL
    assert [run.info.status for run in store.runs(KIND_SUITE)].count(KILLED) == 1, "the next driver swept it"

    third = start_driver(suite, tmp_path / "between.log")
    just_finished = third.wait_until(store.finished_trials, "a finished trial")
    assert third.stop(signal.SIGKILL) == -signal.SIGKILL
    assert len(just_finished) == 1

    last = start_driver(suite, tmp_path / "last.log")
    assert last.finish() == 0, last.output()[-4000:]
    assert "3 trials run (3 finished, 0 failed); 1 skipped or excluded" in last.output()

    finished = assert_every_trial_finished_once(store, suite, reference)
    assert finished[just_finished[0].info.run_name].info.run_id == just_finished[0].info.run_id
    assert store.client.get_run(interrupted).info.status == KILLED, "the trial killed while training"
    suites = sorted(run.info.status for run in store.runs(KIND_SUITE))
    assert suites == [FINISHED, KILLED, KILLED, KILLED]
    for run in store.runs():
        if run.info.status == KILLED:
            assert STOPPED_BY_DRIVER in run.data.tags[TAG_FAILURE], run.data.tags[TAG_FAILURE]
    assert summary_rows(last.output()) == summary_rows(reference.table)
    assert GraphCache(tmp_path / "cache").verify() == (2 * QM9_SIZE, 0)


@pytest.mark.slow
def test_sigterm_and_ctrl_c_stop_cleanly_and_the_suite_resumes(
    reference: Reference, qm9_file: Path, start_driver: Launcher, tmp_path: Path
) -> None:
    suite = write_suite(tmp_path, qm9_file, name="stopped")
    store = Store(tmp_path, "stopped")

    terminated = start_driver(suite, tmp_path / "sigterm.log")
    training = terminated.wait_until(store.training, "a trial training")
    assert terminated.stop(signal.SIGTERM) != 0  # 1 when the signal arrives while Ray waits, else 143
    assert {run.info.status for run in store.runs()} == {KILLED}, "the driver marked its own runs KILLED"
    for run in store.runs():
        assert run.data.tags[TAG_FAILURE] == "stopped by SIGTERM"
    epochs = store.epochs(training)
    assert epochs >= 1, "the learning curve so far is kept"

    interrupted = start_driver(suite, tmp_path / "ctrl-c.log")
    interrupted.wait_until(lambda: store.finished_trials() and store.training(), "a second trial training")
    assert interrupted.stop(signal.SIGINT, group=True) != 0
    statuses = [run.info.status for run in store.runs()]
    # a trial training beside the observed one may finish before the signal lands
    finished = statuses.count(FINISHED)
    assert RUNNING not in statuses and 1 <= finished < len(TRIALS)
    stopped_by_ctrl_c = [run for run in store.runs() if run.data.tags.get(TAG_FAILURE) == "stopped by SIGINT"]
    assert len(stopped_by_ctrl_c) == 1 + len(TRIALS) - finished, "the suite run and every unfinished trial run"
    assert store.epochs(training) == epochs

    resumed = start_driver(suite, tmp_path / "resumed.log")
    assert resumed.finish() == 0, resumed.output()[-4000:]
    assert "runs of a stopped driver KILLED" not in resumed.output(), "nothing was left for the sweep"
    left = len(TRIALS) - finished
    assert f"{left} trials run ({left} finished, 0 failed); {finished} skipped or excluded" in resumed.output()
    assert_every_trial_finished_once(store, suite, reference)
    assert summary_rows(resumed.output()) == summary_rows(reference.table)
    assert GraphCache(tmp_path / "cache").verify() == (2 * QM9_SIZE, 0)
