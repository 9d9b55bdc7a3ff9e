"""MLflow records: one parent run per suite execution, one child run per trial, each trial once.

The driver owns the run lifecycle: it creates the store and the experiment before any parallel writer
exists (a fresh sqlite store touched by several processes at once crashes in its schema migration),
creates every trial's run, and hands the run id to the worker, which only logs into it. A Ray retry of a
trial therefore logs into the same run instead of making a second one. A trial whose ``config_hash``
already has a FINISHED run is skipped. Runs left RUNNING by a driver that died are marked KILLED when
the next driver starts, and SIGTERM marks the runs in progress KILLED before the driver exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH

from tierbench.settings import sqlite_path
from tierbench.settings import tracking_uri as default_tracking_uri
from tierbench.tracking.tags import (
    FINISHED,
    KILLED,
    KIND_SUITE,
    KIND_TRIAL,
    RUNNING,
    TAG_CONFIG_HASH,
    TAG_DRIVER,
    TAG_FAILURE,
    TAG_KIND,
    TAG_PARENT,
    TAG_SUITE,
)

logger = logging.getLogger(__name__)

BATCH_LIMIT = 900


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config → ``{"model.hidden_dim": "64", …}`` with values as strings, as MLflow params."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:MAX_PARAM_VAL_LENGTH]
    return flat


@contextmanager
def store_creation_lock(tracking_uri: str) -> Iterator[None]:
    """Hold an exclusive lock on a sqlite store's folder (no-op for other stores).

    MLflow creates and migrates a sqlite schema on first use, and two processes doing that at once
    crash each other: drivers started together take turns.
    """
    path = sqlite_path(tracking_uri)
    if path is None:
        yield
        return
    folder = path.resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def driver_identity() -> str:
    """``host:pid`` of this process, recorded on every run it creates."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _driver_is_gone(identity: str) -> bool:
    host, _, pid = identity.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid))


def experiment_exists(experiment: str, tracking_uri: str) -> bool:
    """Whether the store holds the experiment (looked up only: nothing is created)."""
    return MlflowClient(tracking_uri).get_experiment_by_name(experiment) is not None


class Tracker:
    """The driver's handle on one MLflow experiment.

    Creating it creates the store (e.g. the sqlite file) and the experiment, so it must happen in the
    driver before any trial process starts.

    Args:
        experiment: Experiment name.
        tracking_uri: MLflow tracking URI (default: ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    """

    def __init__(self, experiment: str, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri or default_tracking_uri()
        with store_creation_lock(self.tracking_uri):
            self.client = MlflowClient(self.tracking_uri)
            self.experiment_id = self._experiment_id(experiment)
        self.experiment = experiment
        self._active: set[str] = set()

    def _experiment_id(self, name: str) -> str:
        """The experiment's id, creating it unless another process just did (a server has no lock)."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException as error:
            created = self.client.get_experiment_by_name(name)
            if error.error_code != "RESOURCE_ALREADY_EXISTS" or created is None:
                raise
            return str(created.experiment_id)

    def start_suite(self, suite_name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Create the parent run of one suite execution."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"suite {suite_name}",
            tags={TAG_KIND: KIND_SUITE, TAG_SUITE: suite_name, TAG_DRIVER: driver_identity(), **tags},
        )
        self.log(run.info.run_id, params=flatten(params))
        self._active.add(run.info.run_id)
        return run.info.run_id

    def finished_trial(self, config_hash: str) -> Run | None:
        """The FINISHED run of a trial with this config hash, if any."""
        runs = self.client.search_runs(
            [self.experiment_id],
            f"tags.{TAG_CONFIG_HASH} = '{config_hash}' and attributes.status = '{FINISHED}'",
            max_results=1,
        )
        return runs[0] if runs else None

    def create_trial_run(
        self, parent_run_id: str, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str]
    ) -> str:
        """Create a trial's run (RUNNING) under the suite run; the worker logs into it by id."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=run_name,
            tags={TAG_KIND: KIND_TRIAL, TAG_PARENT: parent_run_id, TAG_DRIVER: driver_identity(), **tags},
        )
        self.log(run.info.run_id, params=flatten(params))
        self._active.add(run.info.run_id)
        return run.info.run_id

    def log(
        self,
        run_id: str,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        step: int = 0,
    ) -> None:
        """Log in batches (one call per ≤ 900 values: MLflow's batch limit is 1000)."""
        log_batch(self.client, run_id, metrics=metrics or {}, params=params or {}, tags=tags or {}, step=step)

    def finish(self, run_id: str, status: str = FINISHED, failure_reason: str | None = None) -> None:
        """End a run as FINISHED, FAILED or KILLED (with the reason as a tag)."""
        if failure_reason:
            self.client.set_tag(run_id, TAG_FAILURE, failure_reason[:MAX_TAG_VAL_LENGTH])
        self.client.set_terminated(run_id, status)
        self._active.discard(run_id)

    def sweep_stale_runs(self) -> list[str]:
        """Mark KILLED every RUNNING run whose driver process on this host no longer exists."""
        stale = []
        for run in self.client.search_runs(
            [self.experiment_id], f"attributes.status = '{RUNNING}'", max_results=10_000
        ):
            identity = run.data.tags.get(TAG_DRIVER, "")
            if identity and _driver_is_gone(identity):
                self.finish(run.info.run_id, KILLED, f"driver {identity} stopped before the run ended")
                stale.append(run.info.run_id)
        return stale

    def kill_active(self, reason: str) -> None:
        """Mark every run this driver started and did not end as KILLED."""
        for run_id in list(self._active):
            self.finish(run_id, KILLED, reason)

    def install_signal_handlers(self, on_stop: Callable[[], None] | None = None) -> None:
        """On SIGTERM or SIGINT: mark the active runs KILLED, run ``on_stop``, then exit."""

        def handler(number: int, frame: Any) -> None:
            name = signal.Signals(number).name
            logger.warning("%s received: marking %d active runs KILLED", name, len(self._active))
            self.kill_active(f"stopped by {name}")
            if on_stop is not None:
                on_stop()
            raise SystemExit(128 + number)

        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, handler)

    def trial_runs(self, parent_run_id: str | None = None) -> list[Run]:
        """Every trial run of the experiment (or of one suite execution)."""
        query = f"tags.{TAG_KIND} = '{KIND_TRIAL}'"
        if parent_run_id:
            query += f" and tags.`{TAG_PARENT}` = '{parent_run_id}'"
        return list(self.client.search_runs([self.experiment_id], query, max_results=50_000))


def log_batch(
    client: MlflowClient,
    run_id: str,
    *,
    metrics: Mapping[str, float],
    params: Mapping[str, str],
    tags: Mapping[str, str],
    step: int = 0,
) -> None:
    """Log metrics, params and tags with as few calls as MLflow's batch limit allows."""
    timestamp = int(time.time() * 1000)
    entries: list[Metric | Param | RunTag] = [Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
    entries += [Param(k, str(v)[:MAX_PARAM_VAL_LENGTH]) for k, v in params.items()]
    entries += [RunTag(k, str(v)[:MAX_TAG_VAL_LENGTH]) for k, v in tags.items()]
    for start in range(0, len(entries), BATCH_LIMIT):
        chunk = entries[start : start + BATCH_LIMIT]
        client.log_batch(
            run_id,
            metrics=[e for e in chunk if isinstance(e, Metric)],
            params=[e for e in chunk if isinstance(e, Param)],
            tags=[e for e in chunk if isinstance(e, RunTag)],
        )


class RunLogger:
    """A worker's handle on one existing run (created by the driver): metrics, tags and artifacts.

    Args:
        tracking_uri: The driver's tracking URI.
        run_id: The run to log into.
    """

    def __init__(self, tracking_uri: str, run_id: str) -> None:
        self.tracking_uri = tracking_uri
        self.run_id = run_id
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        """The MLflow client (created lazily, so the logger pickles into Ray tasks)."""
        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def __getstate__(self) -> dict[str, Any]:
        return {"tracking_uri": self.tracking_uri, "run_id": self.run_id, "_client": None}

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Log several metrics at one step in one call."""
        log_batch(self.client, self.run_id, metrics=metrics, params={}, tags={}, step=step)

    def logged_steps(self, key: str) -> set[int]:
        """The steps at which the run already holds a value of ``key``."""
        return {point.step for point in self.client.get_metric_history(self.run_id, key)}

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set several tags in one call."""
        log_batch(self.client, self.run_id, metrics={}, params={}, tags=tags)

    def log_artifacts(self, paths: Iterable[str | Path], artifact_path: str | None = None) -> None:
        """Upload files to the run's artifact store."""
        for path in paths:
            self.client.log_artifact(self.run_id, str(path), artifact_path)
