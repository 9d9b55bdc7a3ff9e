"""One trial end to end: real QM9 molecules and MP crystals, loaded, split, featurized, trained, tested."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch

from tierbench.config.trial import TrialConfig
from tierbench.datasets import load_dataset
from tierbench.datasets.extxyz import split_frames
from tierbench.tier.registry import available_tiers
from tierbench.trial.run import run_trial
from tierbench.trial.steps import denormals_flushed, flushed_denormals

pytestmark = [
    pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available"),
    pytest.mark.usefixtures("one_thread_training"),
]

HARTREE_TO_EV = 27.211386
TINY = {
    "model": {"hidden_dim": 12, "mlp_dim": 16, "readout_dim": 8, "head_dim": 16, "default_encoder": {"blocks": 2}},
    "optimizer": {"learning_rate": 3e-3},
    "trainer": {"max_epochs": 3, "batch_size": 16, "accelerator": "cpu"},
    "split": {"method": "random", "test": 0.2, "val": 0.2, "seed": 0},
}


@pytest.fixture(scope="module")
def qm9_file(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 molecules of ``qm9_10k`` as an extxyz file (gap in Ha)."""
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        frames = [str(text) for (_, text, _), _ in zip(split_frames(handle.read()), range(60), strict=False)]
    path = tmp_path_factory.mktemp("qm9") / "qm9_60.extxyz"
    path.write_text("".join(frames))
    return path


@pytest.fixture(scope="module")
def mp_file(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 small MP crystals as JSON lines, with an ``is_metal`` label (band gap 0)."""
    records = []
    with gzip.open(datasets_dir / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            if len(record["structure"]["species"]) <= 6:
                records.append({**record, "is_metal": record["band_gap"] == 0})
            if len(records) == 60:
                break
    path = tmp_path_factory.mktemp("mp") / "mp_60.jsonl"
    path.write_text("\n".join(json.dumps(record) for record in records))
    return path


def _qm9_spec(path: Path) -> dict[str, Any]:
    return {
        "name": "qm9_60",
        "format": "extxyz",
        "path": str(path),
        "id_key": "gdb_idx",
        "targets": ["gap"],
        "units": {"gap": "Ha"},
        "convert_units": {"gap": "eV"},
    }


def _qm9_trial(path: Path, cache: Path, **changes: Any) -> dict[str, Any]:
    return {**TINY, "dataset": _qm9_spec(path), "target": "gap", "tiers": ["atom"], "cache": str(cache), **changes}


def test_trial_reports_metrics_predictions_in_ev_and_timings(qm9_file: Path, tmp_path: Path) -> None:
    result = run_trial(_qm9_trial(qm9_file, tmp_path / "cache"))
    assert result.status == "ok", result.failure_message
    assert {"test_mae", "test_rmse", "test_r2", "best_val_loss"} <= set(result.metrics)
    assert result.samples == {"train": 36, "val": 12, "test": 12, "excluded": {}}
    assert len(result.predictions) == 12
    dataset = load_dataset(_qm9_spec(qm9_file))
    gaps = dict(zip(dataset.ids, dataset.target_values("gap").tolist(), strict=True))
    for row in result.predictions:
        assert row["target"] == pytest.approx(gaps[row["id"]], rel=1e-5)
        assert 2.0 < row["target"] < 20.0, "HOMO-LUMO gaps of QM9 are a few eV"
    assert result.epochs == 3 and len(result.history) == 3
    assert result.best_epoch is not None
    assert {"load", "featurization", "featurization_cpu", "training", "test", "total"} <= set(result.timings)
    assert result.timings["featurization_cpu"] > 0, "a cold cache builds every graph"
    warm = run_trial(_qm9_trial(qm9_file, tmp_path / "cache"))
    assert warm.timings["featurization_cpu"] == 0, "a warm cache builds nothing"


def test_same_seed_gives_the_same_metrics_and_predictions(qm9_file: Path, tmp_path: Path) -> None:
    dataset = load_dataset(_qm9_spec(qm9_file))
    first = run_trial(_qm9_trial(qm9_file, tmp_path, seed=3), dataset=dataset)
    again = run_trial(_qm9_trial(qm9_file, tmp_path, seed=3), dataset=dataset)
    other = run_trial(_qm9_trial(qm9_file, tmp_path, seed=4), dataset=dataset)
    assert again.metrics == first.metrics
    assert again.predictions == first.predictions
    assert other.metrics != first.metrics


class PoisonBatch(pl.Callback):
    """Puts a NaN into the atom features of the second training batch of the second epoch."""

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if trainer.current_epoch == 1 and batch_idx == 1:
            batch["atom"].x[0, 0] = float("nan")


def test_nan_loss_ends_the_trial_as_failed_with_the_reason(qm9_file: Path, tmp_path: Path) -> None:
    torch.use_deterministic_algorithms(False)
    result = run_trial(_qm9_trial(qm9_file, tmp_path), callbacks=[PoisonBatch()])
    assert not torch.are_deterministic_algorithms_enabled(), "the trial restores the process setting"
    assert result.status == "failed"
    assert result.failure_reason == "non_finite_loss"
    assert "epoch 1, batch 1" in str(result.failure_message)
    assert "atom.x" in str(result.failure_message)
    assert result.metrics.get("test_mae") is None
    assert len(result.history) == 1, "the first epoch finished before the failure"


def test_classification_trial_on_crystals(mp_file: Path, tmp_path: Path) -> None:
    config = {
        **TINY,
        "dataset": {"name": "mp_60", "format": "mp_jsonl", "path": str(mp_file), "targets": ["is_metal"]},
        "target": "is_metal",
        "task": "classification",
        "tiers": ["atom"],
        "cache": str(tmp_path),
    }
    result = run_trial(config)
    assert result.status == "ok", result.failure_message
    assert {"test_bce", "test_roc_auc", "test_accuracy"} <= set(result.metrics)
    assert all(0.0 < row["prediction"] < 1.0 for row in result.predictions)
    assert {row["target"] for row in result.predictions} <= {0.0, 1.0}


def test_trial_config_is_strict_and_hashes_what_defines_the_trial(qm9_file: Path, tmp_path: Path) -> None:
    config = TrialConfig.model_validate(_qm9_trial(qm9_file, tmp_path))
    assert config.tiers["atom"].tier == "atom"
    assert (
        config.config_hash() == TrialConfig.model_validate(_qm9_trial(qm9_file, tmp_path / "elsewhere")).config_hash()
    )
    assert config.config_hash() != TrialConfig.model_validate(_qm9_trial(qm9_file, tmp_path, seed=1)).config_hash()
    with pytest.raises(ValueError, match="max_epoch"):
        TrialConfig.model_validate({**_qm9_trial(qm9_file, tmp_path), "trainer": {"max_epoch": 3}})


def test_a_split_without_validation_samples_is_refused(qm9_file: Path, tmp_path: Path) -> None:
    split = {"method": "random", "test": 0.2, "val": 0.0}
    with pytest.raises(ValueError, match="no validation samples"):
        run_trial(_qm9_trial(qm9_file, tmp_path, split=split))


@pytest.mark.parametrize("flushed_before", [False, True])
def test_a_trial_leaves_the_callers_subnormal_setting_as_it_found_it(flushed_before: bool) -> None:
    torch.set_flush_denormal(flushed_before)
    try:
        with flushed_denormals():
            assert denormals_flushed()
            assert torch.tensor([1e-40], dtype=torch.float32).item() == 0.0
        assert denormals_flushed() is flushed_before
    finally:
        torch.set_flush_denormal(False)
