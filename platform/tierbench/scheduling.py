"""Running trials on Ray: each where its resources are free, on any node, a bounded number at once.

The suite's resources alone choose how a trial runs:

* **One CPU worker** (``workers_per_trial == 1``, ``gpus_per_worker == 0``): a Ray task reserving
  ``cpus_per_worker`` CPUs calls :func:`tierbench.train.run_trial` and gives the same metrics. Ray reuses
  worker processes: a trial in a warm one costs about 10 ms of scheduling, a new one pays its imports
  once (5–9 s on 2 CPUs), against 20–30 s of Ray Train start-up for every trial (measured by
  ``benchmarks/perf/ray_overhead.py``). A task whose process dies is rerun from the start up to
  ``max_failures`` times, then reported failed with reason ``worker_died``.
* **Several workers or GPUs**: a Ray Train ``TorchTrainer`` runs the trial with DDP, checkpoints every
  epoch and resumes from the last checkpoint after a worker failure or when the suite is rerun (see
  :mod:`tierbench.ddp`).

:func:`run_trials` reports every trial through ``on_result`` in the calling thread as it finishes, failed
ones included, and never lets one trial's failure stop the others.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierbench.distributed import NodeInfo, connect_ray, current_node, trials_that_fit
from tierbench.settings import cache_dir
from tierbench.train import TrialConfig, TrialResult, run_trial

if TYPE_CHECKING:
    from pytorch_lightning import Callback
    from ray import ObjectRef

    from tierbench.datasets import Dataset
    from tierbench.datasets.spec import DatasetSpec
    from tierbench.suite import Resources

WORKER_DIED = "worker_died"
"""Failure reason: the trial's process (or its node) died and no retry was left."""
TRIAL_ERROR = "error"
"""Failure reason: the trial raised an exception (e.g. a target the dataset lacks)."""
TAG_NODE_IPS = "ray.node_ips"
TAG_NODE_IDS = "ray.node_ids"
SQLITE_PREFIX = "sqlite:///"


def dataset_key(spec: DatasetSpec) -> str:
    """Key of a dataset spec in the ``dataset`` mapping of :func:`run_trials` (canonical JSON)."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)


@dataclass(frozen=True)
class TrialJob:
    """A trial to run, and where it records what it does.

    Attributes:
        name: The trial's run name.
        config: The trial.
        run_id: The MLflow run the driver created for the trial; the worker logs its per-epoch curves
            there (``None``: no tracking).
        tracking_uri: The MLflow tracking URI of that run.
        storage_path: Storage shared by every node (a folder or a URI such as ``s3://…``): multi-worker
            trials keep their Ray Train checkpoints and best weights under ``<storage_path>/<config
            hash>``.
        trial: The caller's own record of the trial, handed back with the result (not sent to workers).
        callbacks: Extra Lightning callbacks for the trial's trainer (sent to the workers, so picklable).
    """

    name: str
    config: TrialConfig
    run_id: str | None
    tracking_uri: str | None
    storage_path: str
    trial: Any = None
    callbacks: tuple[Callback, ...] = ()

    @property
    def run_name(self) -> str:
        """Name of the trial's Ray Train run: the config hash, so that a rerun resumes it."""
        return self.config.config_hash()


@dataclass
class ClusterTrialResult(TrialResult):
    """A :class:`~tierbench.train.TrialResult` with where and when the trial ran on the cluster.

    Attributes:
        node_ids: Ray node id of each training process (one per worker, rank order).
        node_ips: IP address of each training process's node.
        resumed_from_epoch: The epoch of the checkpoint a multi-worker trial resumed from (after a worker
            failure or a rerun); ``None`` when it started from scratch.
        started_at: Unix time at which the (last) training process started the trial.
        finished_at: Unix time at which it finished.
        wall_seconds: Seconds from submission to result, seen by the driver (queueing included).
    """

    node_ids: list[str] = field(default_factory=list)
    node_ips: list[str] = field(default_factory=list)
    resumed_from_epoch: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    wall_seconds: float = 0.0

    @classmethod
    def from_result(cls, result: TrialResult, nodes: Sequence[NodeInfo], **details: Any) -> ClusterTrialResult:
        """The result with the nodes it ran on and further ``details`` (fields of this class)."""
        values = {item.name: getattr(result, item.name) for item in fields(TrialResult)}
        node_ids, node_ips = [node.node_id for node in nodes], [node.node_ip for node in nodes]
        return cls(**values, node_ids=node_ids, node_ips=node_ips, **details)


def failed_result(job: TrialJob, reason: str, message: str) -> ClusterTrialResult:
    """A failed result for a trial that produced none of its own."""
    return ClusterTrialResult(job.config.config_hash(), "failed", failure_reason=reason, failure_message=message)


def uses_ray_train(resources: Resources) -> bool:
    """Whether trials run on Ray Train (several workers or GPUs) rather than as one Ray task each."""
    return resources.workers_per_trial > 1 or resources.gpus_per_worker > 0


def accelerator_for(resources: Resources) -> str:
    """The Lightning accelerator the resources reserve: ``gpu`` exactly when workers get GPUs."""
    return "gpu" if resources.gpus_per_worker > 0 else "cpu"


def trial_demand(resources: Resources) -> dict[str, float]:
    """Cluster resources one trial holds while it runs (all its workers together)."""
    demand = {"CPU": resources.workers_per_trial * resources.cpus_per_worker}
    if resources.gpus_per_worker > 0:
        demand["GPU"] = resources.workers_per_trial * resources.gpus_per_worker
    return demand


def trial_tracking(job: TrialJob, nodes: Sequence[NodeInfo]) -> list[Callback]:
    """In a training process: tag the job's run with its nodes and return the per-epoch curve logger."""
    if job.run_id is None or job.tracking_uri is None:
        return []
    from tierbench.tracking import RunLogger
    from tierbench.tracking_callback import EpochMetricsToMLflow

    run_logger = RunLogger(job.tracking_uri, job.run_id)
    run_logger.set_tags(
        {TAG_NODE_IPS: ",".join(node.node_ip for node in nodes), TAG_NODE_IDS: ",".join(n.node_id for n in nodes)}
    )
    return [EpochMetricsToMLflow(run_logger)]


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
        launch = _ray_train_launcher(resources)
        limit = resources.max_concurrent_trials or trials_that_fit(trial_demand(resources))
    else:
        launch = _task_launcher(resources)
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


Launcher = Callable[[TrialJob, "ObjectRef | None"], "ObjectRef"]


def _task_launcher(resources: Resources) -> Launcher:
    import ray

    task = ray.remote(_run_trial_task).options(
        num_cpus=resources.cpus_per_worker,
        num_gpus=0,
        max_retries=resources.max_failures,
        retry_exceptions=False,
    )
    threads = max(1, int(resources.cpus_per_worker))
    return lambda job, data: task.remote(job, threads, data)


def _ray_train_launcher(resources: Resources) -> Launcher:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from tierbench.ddp import run_ddp_trial

    # The launcher and the Ray Train controller it starts stay on the driver's node (the head node on a
    # cluster): a worker node going away then costs a restart from the last checkpoint, not the trial.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    launcher = ray.remote(run_ddp_trial).options(num_cpus=0, max_retries=0, scheduling_strategy=here)
    # the dataset reference travels inside a list so that the launcher passes it on unresolved
    return lambda job, data: launcher.remote(job, resources, [data])


def _run_trial_task(job: TrialJob, threads: int, dataset: Dataset | None) -> ClusterTrialResult:
    """A single-worker CPU trial inside a Ray task (the dataset argument arrives resolved)."""
    import torch

    started_at = time.time()
    torch.set_num_threads(threads)
    node = current_node()
    # Ray leaves GPUs visible to tasks that reserved none: pin the accelerator to what was reserved.
    trainer = job.config.trainer.model_copy(update={"accelerator": "cpu"})
    config = job.config.model_copy(update={"trainer": trainer})
    result = run_trial(
        config,
        callbacks=[*job.callbacks, *trial_tracking(job, [node])],
        dataset=dataset,
        checkpoint_dir=f"{job.storage_path.rstrip('/')}/{job.run_name}",
    )
    return ClusterTrialResult.from_result(result, [node], started_at=started_at, finished_at=time.time())


def _collect(reference: ObjectRef, job: TrialJob) -> ClusterTrialResult:
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        result: ClusterTrialResult = ray.get(reference)
    except RayTaskError as error:
        cause = error.cause if error.cause is not None else error
        return failed_result(job, TRIAL_ERROR, f"{type(cause).__name__}: {cause}")
    except RayError as error:
        return failed_result(job, WORKER_DIED, f"{type(error).__name__}: {error}")
    return result


def _worker_view(job: TrialJob) -> TrialJob:
    """The job as workers see it: no caller's record, the graph cache named, every local path absolute.

    Workers may run in another directory (Ray Train moves them into the run's folder), so relative
    paths would point elsewhere there.
    """
    cache = job.config.cache if job.config.cache is not None else str(cache_dir())
    config = job.config.model_copy(update={"cache": _absolute(cache)})
    tracking_uri = job.tracking_uri
    if tracking_uri is not None and tracking_uri.startswith(SQLITE_PREFIX):
        tracking_uri = SQLITE_PREFIX + _absolute(tracking_uri.removeprefix(SQLITE_PREFIX))
    return replace(job, config=config, tracking_uri=tracking_uri, storage_path=_absolute(job.storage_path), trial=None)


def _absolute(location: str) -> str:
    """A local path made absolute; URIs (``s3://…``) unchanged."""
    return location if "://" in location else str(Path(location).expanduser().resolve())
