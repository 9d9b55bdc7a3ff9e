"""`tierbench bench` end to end: a tiny real suite on local Ray with MLflow, reruns, dry runs, plug-ins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from tests.paths import EXAMPLE_PLUGIN_DIR, REPO_ROOT
from tierbench.cli import app
from tierbench.config.suite import load_suite
from tierbench.suite.outcome import DONE, TO_RUN, suite_statuses
from tierbench.suite.run import run_suite
from tierbench.tracking.store import Tracker
from tierbench.tracking.tags import TAG_KIND

TINY = """\
name: tiny-{name}
datasets:
  - label: {label}
    dataset: {dataset}
    target: {target}
split: {{method: random, test: 0.2, val: 0.2}}
tiers:
{tiers}
combinations: {combinations}
seeds: [0, 1]
model: {{hidden_dim: 16, mlp_dim: 16, default_encoder: {{blocks: 1, rbf: {{num_gaussians: 10}}}}}}
trainer: {{max_epochs: 2, batch_size: 8, early_stopping_patience: null}}
resources: {{max_concurrent_trials: 2, featurize_workers: 2}}
tracking: {{experiment: tiny-{name}, tracking_uri: "sqlite:///{root}/mlflow.db"}}
cache: {root}/cache
storage: {root}/runs
"""


def _suite_file(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(TINY.format(root=tmp_path, **values))
    return path


@pytest.fixture
def qm9_suite(tmp_path: Path) -> Path:
    return _suite_file(
        tmp_path,
        name="qm9",
        label="qm9-gap",
        dataset="{name: qm9, size: 40, seed: 3}",
        target="gap",
        tiers="  atom: {}\n  motif: {}",
        combinations="[[atom], [atom, motif]]",
    )


def test_tiny_suite_runs_records_compares_and_reruns_as_a_no_op(ray_local, qm9_suite: Path) -> None:
    suite = load_suite(qm9_suite)
    lines: list[str] = []
    outcome = run_suite(suite, progress=False, echo=lines.append)
    assert sorted(outcome.finished) == [
        "qm9-gap|atom+motif|seed0",
        "qm9-gap|atom+motif|seed1",
        "qm9-gap|atom|seed0",
        "qm9-gap|atom|seed1",
    ]
    assert not outcome.failed
    assert "| atom+motif |" in outcome.table and "gap" in outcome.table
    client = MlflowClient(suite.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("tiny-qm9")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{TAG_KIND}` = 'trial'")
    assert len(runs) == 4 and {run.info.status for run in runs} == {"FINISHED"}
    run = next(r for r in runs if r.info.run_name == "qm9-gap|atom+motif|seed1")
    assert run.data.tags["tiers"] == "atom+motif" and run.data.tags["unit"] == "eV"
    assert run.data.params["trainer.max_epochs"] == "2"
    assert {"test_mae", "featurize_cpu_seconds_motif", "train_seconds"} <= set(run.data.metrics)
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "predictions.csv", "parity.png", "learning_curves.png"} <= artifacts
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 2
    splits = {r.data.tags["split_id"] for r in runs if r.data.tags["seed"] == "1"}
    assert len(splits) == 1, "every combination of a seed shares its split"

    again = run_suite(suite, progress=False, echo=lines.append)
    assert again.suite_run_id is None and not again.finished
    assert {status.state for status in again.statuses} == {DONE}
    assert again.table == outcome.table


def test_a_resumed_suite_keeps_every_combination_on_the_same_structures(ray_local, tmp_path: Path) -> None:
    # "strict" joins atoms only within 1.5 Å and refuses molecules with an isolated atom (2 of these 40)
    path = _suite_file(
        tmp_path,
        name="paired",
        label="qm9-gap",
        dataset="{name: qm9, size: 40, seed: 3}",
        target="gap",
        tiers="  atom: {}\n  strict: {tier: atom, params: {cutoff: 1.5, isolated: error}}",
        combinations="[[atom], [atom, strict]]",
    )
    suite = load_suite(path)
    first = run_suite(suite, progress=False, echo=lambda line: None)
    assert len(first.finished) == 4, first.failed
    client = MlflowClient(suite.tracking.tracking_uri)
    experiment = client.get_experiment_by_name("tiny-paired").experiment_id
    runs = {run.info.run_name: run for run in client.search_runs([experiment], f"tags.`{TAG_KIND}` = 'trial'")}
    client.delete_run(runs["qm9-gap|atom|seed0"].info.run_id)  # as if the driver had died before this trial

    resumed = run_suite(suite, progress=False, echo=lambda line: None)
    assert resumed.finished == ["qm9-gap|atom|seed0"]
    assert resumed.coverage["qm9-gap"]["covered_by_every_tier"] == 38
    runs = {run.info.run_name: run for run in client.search_runs([experiment], f"tags.`{TAG_KIND}` = 'trial'")}
    rerun, partner = runs["qm9-gap|atom|seed0"], runs["qm9-gap|atom+strict|seed0"]
    assert rerun.data.tags["split_id"] == partner.data.tags["split_id"]
    assert rerun.data.metrics["n_test"] == partner.data.metrics["n_test"]


def test_crystal_suite_with_an_installed_plugin_tier(ray_local, datasets_dir: Path, tmp_path: Path) -> None:
    path = _suite_file(
        tmp_path,
        name="mp",
        label="mp-gap",
        dataset=f"{{name: mp_mtcgcnn, path: {datasets_dir}/mp_mtcgcnn/mp_mtcgcnn.jsonl.gz, size: 40, "
        "filters: {max_atoms: 12}}",
        target="band_gap",
        tiers="  atom: {}\n  voronoi: {tier: 'tierbench_voronoi:VoronoiTier', params: {min_weight: 0.2}}",
        combinations="[[atom], [atom, voronoi]]",
    )
    sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))
    outcome = run_suite(load_suite(path), progress=False, echo=lambda line: None)
    assert len(outcome.finished) == 4, outcome.failed
    assert "atom+voronoi" in outcome.table


def test_dry_run_lists_states_and_force_reruns(qm9_suite: Path) -> None:
    suite = load_suite(qm9_suite)
    tracker = Tracker(suite.tracking.experiment or suite.name, suite.tracking.tracking_uri)
    assert {status.state for status in suite_statuses(suite, tracker)} == {TO_RUN}
    result = CliRunner().invoke(app, ["bench", str(qm9_suite), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "qm9-gap|atom+motif|seed1" in result.output and "0 done, 4 to run, 0 excluded" in result.output


def test_dry_run_writes_nothing(qm9_suite: Path, tmp_path: Path) -> None:
    store = tmp_path / "elsewhere.db"
    options = ["--set", f"tracking.tracking_uri=sqlite:///{store}"]
    result = CliRunner().invoke(app, ["bench", str(qm9_suite), "--dry-run", *options])
    assert result.exit_code == 0, result.output
    assert not store.exists(), "a dry run created the MLflow store"
    Tracker("another-suite", f"sqlite:///{store}")
    result = CliRunner().invoke(app, ["bench", str(qm9_suite), "--dry-run", *options])
    assert result.exit_code == 0 and "0 done, 4 to run" in result.output, result.output
    experiments = MlflowClient(f"sqlite:///{store}").search_experiments()
    assert sorted(experiment.name for experiment in experiments) == ["Default", "another-suite"]


@pytest.mark.parametrize(
    "suite_file", sorted((REPO_ROOT / "benchmarks" / "suites").glob("*.yaml")), ids=lambda p: p.stem
)
def test_every_shipped_suite_validates_in_a_dry_run(suite_file: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    result = CliRunner().invoke(app, ["bench", str(suite_file), "--dry-run", "--set", "tracking.tracking_uri=null"])
    assert result.exit_code == 0, result.output
    assert " to run" in result.output
