"""Running trials on Ray: each where its resources are free, on any node, a bounded number at once.

The suite's resources alone choose how a trial runs:

* **One CPU worker** (``workers_per_trial == 1``, ``gpus_per_worker == 0``): a Ray task reserving
  ``cpus_per_worker`` CPUs calls :func:`tierbench.trial.run.run_trial` and gives the same metrics. Ray reuses
  worker processes: a trial in a warm one costs about 10 ms of scheduling, a new one pays its imports
  once (5–9 s on 2 CPUs), against 20–30 s of Ray Train start-up for every trial (measured by
  ``benchmarks/perf/ray_overhead.py``). A task whose process dies is rerun from the start up to
  ``max_failures`` times, then reported failed with reason ``worker_died``.
* **Several workers or GPUs**: a Ray Train ``TorchTrainer`` runs the trial with DDP, checkpoints every
  epoch and resumes from the last checkpoint after a worker failure or when the suite is rerun (see
  :mod:`tierbench.cluster.ray_train`).

:func:`run_trials` reports every trial through ``on_result`` in the calling thread as it finishes, failed
ones included, and never lets one trial's failure stop the others.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tierbench.cluster.jobs import (
    ClusterTrialResult,
    TrialJob,
    dataset_key,
    failed_result,
    trial_demand,
    uses_ray_train,
)
from tierbench.cluster.ray_train import ray_train_launcher
from tierbench.cluster.tasks import task_launcher
from tierbench.errors import Reason
from tierbench.ray_connection import connect_ray, trials_that_fit
from tierbench.settings import cache_dir

if TYPE_CHECKING:
    from ray import ObjectRef

    from tierbench.config.suite import Resources
    from tierbench.datasets import Dataset


def run_trials(
    jobs: Sequence[TrialJob],
    resources: Resources,
    *,
    dataset: Dataset | Mapping[str, Dataset] | None = None,
    address: str | None = None,
    on_result: Callable[[TrialJob, ClusterTrialResult], None],
) -> None:
    """Run trials on Ray and report each result as it finishes.

    Args:
        jobs: The trials.
        resources: Workers per trial, CPUs and GPUs per worker, the concurrency limit and retries. Without
            ``max_concurrent_trials``, single-worker trials all queue at once (Ray starts each where CPUs
            are free) and multi-worker trials run as many at once as the cluster's current resources
            hold: set it on an autoscaling cluster.
        dataset: The loaded dataset every job uses, or a mapping :func:`dataset_key` → dataset. It is put
            into Ray's object store once and shared; jobs without one load their dataset themselves.
        address: Ray cluster address (default ``RAY_ADDRESS``, else a local cluster on demand).
        on_result: Called in this thread with each job and its result, in order of completion.
    """
    if not jobs:
        return
    import ray

    connect_ray(address)
    if dataset is None:
        shared: dict[str, ObjectRef] = {}
    elif isinstance(dataset, Mapping):
        shared = {key: ray.put(value) for key, value in dataset.items()}
    else:
        everyone = ray.put(dataset)
        shared = {dataset_key(job.config.dataset): everyone for job in jobs}
    if uses_ray_train(resources):
        launch = ray_train_launcher(resources)
        limit = resources.max_concurrent_trials or trials_that_fit(trial_demand(resources))
    else:
        launch = task_launcher(resources)
        limit = resources.max_concurrent_trials or len(jobs)
    waiting = deque(jobs)
    running: dict[ObjectRef, tuple[TrialJob, float]] = {}
    while waiting or running:
        while waiting and len(running) < limit:
            job = waiting.popleft()
            trial = launch(_worker_view(job), shared.get(dataset_key(job.config.dataset)))
            running[trial] = (job, time.perf_counter())
        (ready,), _ = ray.wait(list(running), num_returns=1)
        job, submitted = running.pop(ready)
        result = _collect(ready, job)
        result.wall_seconds = time.perf_counter() - submitted
        on_result(job, result)


def _collect(reference: ObjectRef, job: TrialJob) -> ClusterTrialResult:
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        result: ClusterTrialResult = ray.get(reference)
    except RayTaskError as error:
        cause = error.cause if error.cause is not None else error
        return failed_result(job, Reason.TRIAL_ERROR, f"{type(cause).__name__}: {cause}")
    except RayError as error:
        return failed_result(job, Reason.WORKER_DIED, f"{type(error).__name__}: {error}")
    return result


def _worker_view(job: TrialJob) -> TrialJob:
    """The job as workers see it: no caller's record, the graph cache named, every local path absolute.

    Workers may run in another directory (Ray Train moves them into the run's folder), so relative
    paths would point elsewhere there.
    """
    cache = job.config.cache if job.config.cache is not None else str(cache_dir())
    config = job.config.model_copy(update={"cache": _absolute(cache)})
    return replace(job, config=config, storage_path=_absolute(job.storage_path), trial=None)


def _absolute(location: str) -> str:
    """A local path made absolute; URIs (``s3://…``) unchanged."""
    return location if "://" in location else str(Path(location).expanduser().resolve())
