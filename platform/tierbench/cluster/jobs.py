"""What the scheduler runs and gives back: trial jobs, their resources and their cluster results."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from tierbench.config.trial import TrialConfig
from tierbench.errors import Reason
from tierbench.ray_connection import NodeInfo
from tierbench.trial.result import TrialResult

if TYPE_CHECKING:
    from pytorch_lightning import Callback
    from ray import ObjectRef

    from tierbench.config.dataset import DatasetSpec
    from tierbench.config.suite import Resources


def dataset_key(spec: DatasetSpec) -> str:
    """Key of a dataset spec in the ``dataset`` mapping of :func:`run_trials` (canonical JSON)."""
    return json.dumps(spec.model_dump(mode="json"), sort_keys=True)


@dataclass(frozen=True)
class TrialJob:
    """A trial to run, and where it keeps its checkpoints.

    Attributes:
        name: The trial's run name.
        config: The trial.
        storage_path: Storage shared by every node (a folder or a URI such as ``s3://…``): multi-worker
            trials keep their Ray Train checkpoints and best weights under ``<storage_path>/<config
            hash>``.
        trial: The caller's own record of the trial, handed back with the result (not sent to workers).
        callbacks: Extra Lightning callbacks for the trial's trainer (sent to the workers, so picklable),
            e.g. a tracker that logs the learning curves as the trial trains.
    """

    name: str
    config: TrialConfig
    storage_path: str
    trial: Any = None
    callbacks: tuple[Callback, ...] = ()

    @property
    def run_name(self) -> str:
        """Name of the trial's Ray Train run: the config hash, so that a rerun resumes it."""
        return self.config.config_hash()


@dataclass
class ClusterTrialResult(TrialResult):
    """A :class:`~tierbench.trial.result.TrialResult` with where and when the trial ran on the cluster.

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


Launcher = Callable[[TrialJob, "ObjectRef | None"], "ObjectRef"]
"""Starts one job on Ray (with the object-store reference of its dataset) and returns its result's reference."""


def failed_result(job: TrialJob, reason: Reason, message: str) -> ClusterTrialResult:
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
