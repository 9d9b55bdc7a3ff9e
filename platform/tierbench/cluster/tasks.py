"""The task backend: a single-worker CPU trial as one Ray task (about 10 ms of scheduling in a warm worker)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tierbench.cluster.jobs import ClusterTrialResult, Launcher, TrialJob
from tierbench.ray_connection import current_node
from tierbench.trial.run import run_trial

if TYPE_CHECKING:
    from tierbench.config.suite import Resources
    from tierbench.datasets import Dataset


def task_launcher(resources: Resources) -> Launcher:
    """Start each job as a Ray task that reserves ``cpus_per_worker`` CPUs and is retried ``max_failures`` times."""
    import ray

    task = ray.remote(run_trial_task).options(
        num_cpus=resources.cpus_per_worker,
        num_gpus=0,
        max_retries=resources.max_failures,
        retry_exceptions=False,
    )
    threads = max(1, int(resources.cpus_per_worker))
    return lambda job, data: task.remote(job, threads, data)


def run_trial_task(job: TrialJob, threads: int, dataset: Dataset | None) -> ClusterTrialResult:
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
        callbacks=list(job.callbacks),
        dataset=dataset,
        checkpoint_dir=f"{job.storage_path.rstrip('/')}/{job.run_name}",
    )
    return ClusterTrialResult.from_result(result, [node], started_at=started_at, finished_at=time.time())
