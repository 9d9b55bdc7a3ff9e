"""Multi-worker and GPU trials on Ray Train V2: DDP, a checkpoint every epoch, resume after failures.

A trial runs as a ``TorchTrainer`` whose workers train the fusion model with Lightning's DDP
(``RayDDPStrategy`` and ``RayLightningEnvironment``, checked by ``prepare_trainer``), each on its shard of
the training split, so ``N`` workers step with ``N × batch_size`` samples. ``RayTrainReportCallback``
commits the whole trainer state at the end of every epoch. The Ray Train run is named by the trial's
config hash under the job's storage path, so after a worker failure (up to ``max_failures`` times) and
when the suite is run again the new workers receive the last committed checkpoint from
``ray.train.get_checkpoint()`` and Lightning restores weights, optimizer, schedule, early stopping and
the epoch history from it (``Trainer.restore`` no longer exists in Ray Train V2).

The best weights (lowest validation loss) are kept beside the Ray Train run on the same storage, so they
outlive restarts on other nodes. After training every worker tests them on the whole test split (no
sharding, so the metrics are those of a single-process test) and rank 0 returns the result.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from tierbench.cluster.jobs import ClusterTrialResult, Launcher, TrialJob, accelerator_for, failed_result
from tierbench.errors import Reason
from tierbench.model.module import NonFiniteLossError
from tierbench.ray_connection import NodeInfo, current_node
from tierbench.trial.result import MetricHistory, test_metrics, test_predictions
from tierbench.trial.steps import (
    build_module,
    complete_result,
    configure_cpu,
    load_trial_data,
    new_result,
    trainer_arguments,
    trial_callbacks,
)

if TYPE_CHECKING:
    from ray import ObjectRef
    from ray.train import Checkpoint, RunConfig, ScalingConfig

    from tierbench.config.suite import Resources

BEST_MODEL_FOLDER = "best_model"
"""Folder of the best weights inside the trial's Ray Train run folder."""
CHECKPOINTS_KEPT = 2


def scaling_config(resources: Resources) -> ScalingConfig:
    """Ray Train workers of one trial: count, CPUs and GPUs each (GPUs only where the suite asks)."""
    from ray.train import ScalingConfig

    per_worker = {"CPU": resources.cpus_per_worker}
    if resources.gpus_per_worker > 0:
        per_worker["GPU"] = resources.gpus_per_worker
    return ScalingConfig(
        num_workers=resources.workers_per_trial,
        use_gpu=resources.gpus_per_worker > 0,
        resources_per_worker=per_worker,
    )


def run_config(job: TrialJob, resources: Resources) -> RunConfig:
    """The trial's Ray Train run: named by config hash (a rerun resumes it), retried ``max_failures`` times."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig

    return RunConfig(
        name=job.run_name,
        storage_path=job.storage_path,
        failure_config=FailureConfig(max_failures=resources.max_failures),
        checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT),
    )


def run_ddp_trial(job: TrialJob, resources: Resources, dataset: list[ObjectRef | None]) -> ClusterTrialResult:
    """Run one trial on Ray Train and return its result; failures come back as failed results.

    Args:
        job: The trial, with absolute paths.
        resources: Workers, CPUs and GPUs per worker, ``max_failures``.
        dataset: A one-element list holding the object-store reference of the loaded dataset, or
            ``None`` (the workers load it).
    """
    from ray.train import TrainingFailedError
    from ray.train.torch import TorchTrainer

    trainer = TorchTrainer(
        train_worker,  # type: ignore[arg-type]  # Ray Train V2 hands rank 0's return value back
        train_loop_config={"job": job, "resources": resources, "dataset": dataset[0]},
        scaling_config=scaling_config(resources),
        run_config=run_config(job, resources),
    )
    try:
        outcome = trainer.fit()
    except TrainingFailedError as error:
        return failed_result(job, _failure_reason(error), str(error))
    result: ClusterTrialResult = outcome.return_value  # type: ignore[attr-defined]  # Ray Train V2's Result
    return result


def _failure_reason(error: Exception) -> Reason:
    """``worker_died`` when a worker's process or node died (the other ranks then fail too), else ``error``."""
    from ray.exceptions import NodeDiedError, RayActorError, WorkerCrashedError
    from ray.train import WorkerGroupError

    def died(failure: Exception) -> bool:
        # Ray Train wraps a dead worker's error in a failed health check
        cause = getattr(failure, "health_check_failure", failure)
        return isinstance(cause, RayActorError | NodeDiedError | WorkerCrashedError)

    if isinstance(error, WorkerGroupError) and any(died(failure) for failure in error.worker_failures.values()):
        return Reason.WORKER_DIED
    return Reason.TRIAL_ERROR


def train_worker(loop_config: dict[str, Any]) -> ClusterTrialResult | None:
    """One Ray Train worker of a trial; rank 0 returns the result, the others ``None``."""
    import ray.train
    from ray.train.lightning import RayTrainReportCallback

    job: TrialJob = loop_config["job"]
    resources: Resources = loop_config["resources"]
    started_at, started = time.time(), time.perf_counter()
    configure_cpu()
    torch.set_num_threads(max(1, int(resources.cpus_per_worker)))
    rank = ray.train.get_context().get_world_rank()
    nodes = _all_nodes()
    config = job.config
    reference = loop_config["dataset"]
    try:
        data = load_trial_data(config, ray.get(reference) if reference is not None else None)
        module = build_module(config, data)
    except Exception as error:  # the same on every rank, before any collective: no retry can help
        failed = failed_result(job, Reason.TRIAL_ERROR, f"{type(error).__name__}: {error}")
        return ClusterTrialResult.from_result(failed, nodes) if rank == 0 else None
    result = ClusterTrialResult.from_result(new_result(config, data), nodes, started_at=started_at)
    history = MetricHistory()
    best_folder = f"{job.storage_path.rstrip('/')}/{job.run_name}/{BEST_MODEL_FOLDER}"
    callbacks = [*trial_callbacks(config.trainer, best_folder), history, *job.callbacks]
    trainer = _ddp_trainer(job, resources, callbacks=[*callbacks, RayTrainReportCallback()])
    with tempfile.TemporaryDirectory(prefix="tierbench-resume-") as folder:
        resume_from = _local_copy(ray.train.get_checkpoint(), folder)
        trained = time.perf_counter()
        try:
            trainer.fit(module, datamodule=data.datamodule, ckpt_path=resume_from)
        except NonFiniteLossError as error:
            result.status, result.failure_reason, result.failure_message = "failed", error.reason, str(error)
    tested = time.perf_counter()
    if result.status == "ok":
        checkpointing = trainer.checkpoint_callback
        result.checkpoint_path = checkpointing.best_model_path if isinstance(checkpointing, ModelCheckpoint) else None
        tester = _ddp_trainer(job, resources, callbacks=[], use_distributed_sampler=False, enable_checkpointing=False)
        tester.test(module, datamodule=data.datamodule, ckpt_path=result.checkpoint_path or None, verbose=False)
        result.metrics = test_metrics(tester)
    if rank != 0:
        return None
    if result.status == "ok":
        result.predictions = test_predictions(module, data.dataset)
    complete_result(result, data, history)
    result.resumed_from_epoch = history.restored_epoch
    finished = time.perf_counter()
    result.timings.update(training=tested - trained, test=finished - tested, total=finished - started)
    result.finished_at = time.time()
    return result


def _ddp_trainer(job: TrialJob, resources: Resources, callbacks: list[pl.Callback], **options: Any) -> pl.Trainer:
    """A Lightning trainer for a Ray Train worker, on the accelerator the resources reserve."""
    from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer

    arguments = {**trainer_arguments(job.config.trainer), "accelerator": accelerator_for(resources), "devices": "auto"}
    trainer = pl.Trainer(
        **arguments,
        strategy=RayDDPStrategy(),
        plugins=[RayLightningEnvironment()],
        callbacks=callbacks,
        logger=False,
        **options,
    )
    return prepare_trainer(trainer)


def _all_nodes() -> list[NodeInfo]:
    """Every worker's node, in rank order (a collective: every rank must call it)."""
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, current_node())
    return gathered


def _local_copy(checkpoint: Checkpoint | None, folder: str) -> str | None:
    """The Lightning checkpoint file of the last committed Ray Train checkpoint, copied into ``folder``."""
    if checkpoint is None:
        return None
    from ray.train.lightning import RayTrainReportCallback

    checkpoint.to_directory(folder)
    return str(Path(folder) / RayTrainReportCallback.CHECKPOINT_NAME)


def ray_train_launcher(resources: Resources) -> Launcher:
    """Start each job as a Ray Train run, through a launcher task kept on the driver's node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    # The launcher and the Ray Train controller it starts stay on the driver's node (the head node on a
    # cluster): a worker node going away then costs a restart from the last checkpoint, not the trial.
    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    launcher = ray.remote(run_ddp_trial).options(num_cpus=0, max_retries=0, scheduling_strategy=here)
    # the dataset reference travels inside a list so that the launcher passes it on unresolved
    return lambda job, data: launcher.remote(job, resources, [data])
