"""Trials on a real local Ray cluster: equal to local runs, bounded concurrency, failures, DDP and resume.

The fault-injection tests kill real training processes with SIGKILL in the middle of an epoch.
"""

from __future__ import annotations

import os
import signal
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import ray.cloudpickle

import tierbench
from tierbench.cluster.jobs import (
    ClusterTrialResult,
    TrialJob,
    accelerator_for,
    dataset_key,
    trial_demand,
    uses_ray_train,
)
from tierbench.cluster.ray_train import scaling_config
from tierbench.cluster.scheduler import run_trials
from tierbench.config.suite import Resources
from tierbench.config.trial import TrialConfig
from tierbench.errors import Reason
from tierbench.tier.registry import available_tiers
from tierbench.tracking.callbacks import learning_curve_logger
from tierbench.trial.run import run_trial

pytestmark = pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available")

# the fault-injecting callback below travels to Ray workers, which cannot import this test module
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

QM9_60 = {"name": "qm9", "size": 60, "targets": ["gap"], "seed": 0}


class KillOnce(pl.Callback):
    """SIGKILLs its own training process after the first batch of ``epoch`` on rank ``rank``, once.

    The marker file records the kill, so the process that Ray starts again trains on undisturbed. In a
    Ray Train worker (``after_commit``) it first waits until Ray Train has committed the checkpoints
    reported so far, as it has long before any failure when epochs take minutes.
    """

    def __init__(self, marker: Path, epoch: int = 1, rank: int = 0, after_commit: bool = False) -> None:
        self.marker = marker
        self.epoch = epoch
        self.rank = rank
        self.after_commit = after_commit

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if trainer.current_epoch == self.epoch and trainer.global_rank == self.rank and not self.marker.exists():
            if self.after_commit:
                import ray.train

                ray.train.get_all_reported_checkpoints(ray.train.CheckpointConsistencyMode.COMMITTED)
            self.marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture(scope="module")
def qm9() -> tierbench.datasets.Dataset:
    return tierbench.load_dataset(QM9_60)


def _config(tmp_path: Path, **changes: Any) -> TrialConfig:
    values: dict[str, Any] = {
        "dataset": QM9_60,
        "target": "gap",
        "tiers": {"atom": {"tier": "atom"}},
        "trainer": {"max_epochs": 3, "batch_size": 16},
        "model": {"hidden_dim": 16},
        "cache": str(tmp_path / "cache"),
    }
    return TrialConfig.model_validate({**values, **changes})


def _job(name: str, config: TrialConfig, tmp_path: Path, **changes: Any) -> TrialJob:
    return TrialJob(name, config, str(tmp_path / "runs"), **changes)


def _run(jobs: list[TrialJob], resources: Resources, dataset: Any) -> dict[str, ClusterTrialResult]:
    results: dict[str, ClusterTrialResult] = {}
    run_trials(jobs, resources, dataset=dataset, on_result=lambda job, result: results.update({job.name: result}))
    return results


def test_resources_alone_choose_the_path_and_the_gpus() -> None:
    cpu = Resources()
    assert not uses_ray_train(cpu)
    assert accelerator_for(cpu) == "cpu"
    ddp = Resources(workers_per_trial=2, cpus_per_worker=3)
    assert uses_ray_train(ddp)
    assert trial_demand(ddp) == {"CPU": 6}
    gpu = Resources(gpus_per_worker=0.5, cpus_per_worker=2)
    assert uses_ray_train(gpu)
    assert accelerator_for(gpu) == "gpu"
    assert trial_demand(gpu) == {"CPU": 2, "GPU": 0.5}
    scaling = scaling_config(gpu)
    assert scaling.num_workers == 1
    assert scaling.use_gpu
    assert scaling.resources_per_worker == {"CPU": 2, "GPU": 0.5}
    assert not scaling_config(ddp).use_gpu


def test_dataset_key_is_canonical(tmp_path: Path) -> None:
    first = _config(tmp_path).dataset
    reordered = TrialConfig.model_validate(
        {**_config(tmp_path).model_dump(), "dataset": {"seed": 0, "targets": ["gap"], "size": 60, "name": "qm9"}}
    ).dataset
    assert dataset_key(first) == dataset_key(reordered)
    assert dataset_key(first) != dataset_key(_config(tmp_path, dataset={**QM9_60, "size": 61}).dataset)


def test_concurrency_limit_holds_and_every_result_arrives(ray_local, qm9, tmp_path: Path) -> None:
    config = _config(tmp_path, trainer={"max_epochs": 1, "batch_size": 16})
    jobs = [_job(f"seed{seed}", config.model_copy(update={"seed": seed}), tmp_path) for seed in range(3)]
    results = _run(jobs, Resources(max_concurrent_trials=1), qm9)
    assert sorted(results) == ["seed0", "seed1", "seed2"]
    spans = sorted((result.started_at, result.finished_at) for result in results.values())
    assert all(result.status == "ok" for result in results.values())
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(spans))


def test_each_job_gets_the_dataset_of_its_spec(ray_local, qm9, tmp_path: Path) -> None:
    config = _config(tmp_path, trainer={"max_epochs": 1, "batch_size": 16})
    smaller = qm9.subset(range(40), reason="first 40")
    result = _run([_job("mapped", config, tmp_path)], Resources(), {dataset_key(config.dataset): smaller})["mapped"]
    assert result.status == "ok", result.failure_message
    assert sum(result.samples[part] for part in ("train", "val", "test")) == 40


def test_a_trial_error_is_reported_and_the_others_finish(ray_local, qm9, tmp_path: Path) -> None:
    broken = _job("broken", _config(tmp_path, target="homo"), tmp_path)
    fine = _job("fine", _config(tmp_path, trainer={"max_epochs": 1, "batch_size": 16}), tmp_path)
    results = _run([broken, fine], Resources(), qm9)
    assert results["broken"].status == "failed"
    assert results["broken"].failure_reason == Reason.TRIAL_ERROR
    assert "homo" in str(results["broken"].failure_message)
    assert results["fine"].status == "ok"


def test_ray_trial_equals_local_run(ray_local, qm9, one_thread_training, tmp_path: Path) -> None:
    config = _config(tmp_path)
    local = run_trial(config, dataset=qm9)
    job = _job("atom", config, tmp_path, trial="caller's record")
    seen: list[tuple[TrialJob, ClusterTrialResult]] = []
    run_trials([job], Resources(), dataset=qm9, on_result=lambda job, result: seen.append((job, result)))
    [(returned_job, remote)] = seen
    assert returned_job.trial == "caller's record"
    assert remote.status == "ok", remote.failure_message
    assert remote.config_hash == config.config_hash()
    assert remote.metrics == local.metrics
    assert remote.predictions == local.predictions
    assert remote.history == local.history
    assert remote.node_ids == [ray_local.get_runtime_context().get_node_id()]


@pytest.mark.slow
def test_task_trial_logs_curves_into_its_run(ray_local, qm9, tmp_path: Path) -> None:
    from tierbench.tracking.store import Tracker

    tracker = Tracker("scheduling", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.create_trial_run(tracker.start_suite("scheduling", {}, {}), "atom", {}, {})
    curves = learning_curve_logger(tracker.tracking_uri, run_id)
    job = TrialJob("atom", _config(tmp_path), str(tmp_path / "runs"), callbacks=(curves,))
    result = _run([job], Resources(), qm9)["atom"]
    assert result.status == "ok", result.failure_message
    curve = tracker.client.get_metric_history(run_id, "val_loss")
    assert sorted(point.step for point in curve) == [0, 1, 2]
    assert result.node_ids == [ray_local.get_runtime_context().get_node_id()]


@pytest.mark.slow
def test_killed_task_is_retried_into_the_same_run_without_duplicates(ray_local, qm9, tmp_path: Path) -> None:
    from tierbench.tracking.store import Tracker

    tracker = Tracker("retries", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.create_trial_run(tracker.start_suite("retries", {}, {}), "retried", {}, {})
    marker = tmp_path / "killed"
    storage = str(tmp_path / "runs")
    curves = learning_curve_logger(tracker.tracking_uri, run_id)
    job = TrialJob("retried", _config(tmp_path), storage, callbacks=(KillOnce(marker), curves))
    result = _run([job], Resources(max_failures=1), qm9)["retried"]
    assert marker.exists()
    assert result.status == "ok", result.failure_message
    assert result.epochs == 3
    assert [point.step for point in tracker.client.get_metric_history(run_id, "val_loss")] == [0, 1, 2]
    runs = tracker.client.search_runs([tracker.experiment_id])
    assert sorted(run.info.run_name for run in runs) == ["retried", "suite retries"]


@pytest.mark.slow
def test_killed_task_without_retries_fails_alone(ray_local, qm9, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    doomed = _job("doomed", _config(tmp_path), tmp_path, callbacks=(KillOnce(marker),))
    other = _job("other", _config(tmp_path, seed=1), tmp_path)
    results = _run([doomed, other], Resources(max_failures=0), qm9)
    assert marker.exists()
    assert results["doomed"].status == "failed"
    assert results["doomed"].failure_reason == Reason.WORKER_DIED
    assert results["other"].status == "ok"


@pytest.mark.slow
def test_two_worker_ddp_trial_converges_like_one_worker(ray_local, qm9, one_thread_training, tmp_path: Path) -> None:
    from tierbench.tracking.store import Tracker

    config = _config(tmp_path, trainer={"max_epochs": 8, "batch_size": 8})
    single = run_trial(config, dataset=qm9)
    tracker = Tracker("ddp", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = tracker.create_trial_run(tracker.start_suite("ddp", {}, {}), "ddp", {}, {})
    job = TrialJob(
        "ddp", config, str(tmp_path / "runs"), callbacks=(learning_curve_logger(tracker.tracking_uri, run_id),)
    )
    result = _run([job], Resources(workers_per_trial=2, max_failures=0), qm9)["ddp"]
    assert result.status == "ok", result.failure_message
    curve = tracker.client.get_metric_history(run_id, "val_loss")
    assert sorted(point.step for point in curve) == list(range(8))  # rank 0 alone logs
    assert len(result.node_ids) == 2
    assert result.epochs == 8
    assert result.resumed_from_epoch is None
    assert len(result.predictions) == result.samples["test"] == single.samples["test"]
    assert {row["id"] for row in result.predictions} == {row["id"] for row in single.predictions}
    print(f"gap test MAE (eV): 1 worker {single.metrics['test_mae']:.4f}, 2 workers {result.metrics['test_mae']:.4f}")
    assert result.metrics["test_mae"] < 1.5 * single.metrics["test_mae"]


@pytest.mark.slow
def test_ddp_worker_killed_mid_epoch_resumes_from_last_checkpoint(ray_local, qm9, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    kill = KillOnce(marker, epoch=1, rank=1, after_commit=True)
    config = _config(tmp_path)
    resources = Resources(workers_per_trial=2, max_failures=1)
    result = _run([_job("resilient", config, tmp_path, callbacks=(kill,))], resources, qm9)["resilient"]
    assert marker.exists()
    assert result.status == "ok", result.failure_message
    assert result.resumed_from_epoch == 0
    assert [row["epoch"] for row in result.history] == [0, 1, 2]
    uninterrupted = TrialJob("uninterrupted", config, str(tmp_path / "uninterrupted"))
    reference = _run([uninterrupted], resources, qm9)["uninterrupted"]
    assert reference.status == "ok", reference.failure_message
    assert result.metrics == pytest.approx(reference.metrics, rel=1e-5)


@pytest.mark.slow
def test_rerun_resumes_a_ddp_trial_whose_workers_died(ray_local, qm9, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    config = _config(tmp_path)
    resources = Resources(workers_per_trial=2, max_failures=0)
    kill = KillOnce(marker, epoch=2, after_commit=True)
    first = _run([_job("t", config, tmp_path, callbacks=(kill,))], resources, qm9)["t"]
    assert first.status == "failed"
    assert first.failure_reason == Reason.WORKER_DIED
    again = _run([_job("t", config, tmp_path)], resources, qm9)["t"]
    assert again.status == "ok", again.failure_message
    assert again.resumed_from_epoch == 1
    assert [row["epoch"] for row in again.history] == [0, 1, 2]
