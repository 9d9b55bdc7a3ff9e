"""``tierbench compare``: trials read back from a real MLflow store, tables, paired tests, chart, matbench files.

The suite (:mod:`logged_suite`) is logged the way the runner logs it, into a fresh sqlite store; each
expectation below is recomputed independently from what was logged.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error, roc_auc_score
from typer.testing import CliRunner

import tierbench.cli.compare_commands  # noqa: F401  (registers compare and ui on the app)
from tests.logged_suite import DATASETS, FAILED_TRIAL, TIERS, LoggedSuite, log_suite
from tierbench.cli.main import app
from tierbench.report import Comparison, ComparisonError, GroupSummary, compare, paired_test
from tierbench.report.matbench_export import results_hash
from tierbench.tracking.store import RunLogger, Tracker
from tierbench.tracking.tags import TAG_DATASET, TAG_SPLIT, TAG_TARGET, TAG_TASK, TAG_TIERS, TAG_UNIT

MEMORY_FOLDER = Path("/dev/shm")


@pytest.fixture(scope="module")
def store_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for a sqlite store: in memory (tmpfs) where available.

    Creating an MLflow sqlite store runs its schema migrations, each committed with an fsync: about 5 s on
    disk and 1 s in memory, and every logged run costs a few more commits.
    """
    if not (MEMORY_FOLDER.is_dir() and os.access(MEMORY_FOLDER, os.W_OK)):
        yield tmp_path_factory.mktemp("store")
        return
    folder = Path(tempfile.mkdtemp(prefix="tierbench-report-", dir=MEMORY_FOLDER))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def suite(store_folder: Path) -> Iterator[LoggedSuite]:
    """The demo suite in a fresh sqlite store; the working directory is the store's folder (./mlruns)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(store_folder)
        yield log_suite(f"sqlite:///{store_folder / 'mlflow.db'}", "tiers-demo", store_folder / "predictions")


@pytest.fixture(scope="module")
def comparison(suite: LoggedSuite, tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    output = tmp_path_factory.mktemp("compare")
    return compare(tracking_uri=suite.tracking_uri, experiment=suite.experiment, output=output)


def _summary(comparison: Comparison, label: str, tiers: str) -> GroupSummary:
    return next(s for s in comparison.summaries if s.dataset == label and s.tiers == tiers)


def test_table_numbers_are_mean_and_sample_std_over_finished_trials(suite: LoggedSuite, comparison: Comparison) -> None:
    assert len(comparison.trials) == sum(t.finished for t in suite.trials) == 23
    for label, metric in (("gap", "test_mae"), ("metal", "test_roc_auc")):
        for tiers in TIERS:
            values = [t.metrics[metric] for t in suite.finished(label, tiers)]
            summary = _summary(comparison, label, tiers)
            assert summary.metric == metric  # classification falls back from test_mae to test_roc_auc
            assert summary.n == len(values) == (3 if (label, tiers) == FAILED_TRIAL[:2] else 4)
            assert summary.mean == pytest.approx(np.mean(values), rel=1e-12)
            assert summary.std == pytest.approx(np.std(values, ddof=1), rel=1e-12)
            assert summary.featurize_cpu_seconds > 0 and summary.train_seconds > 0


def test_only_the_given_config_hashes_are_compared(suite: LoggedSuite, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(suite.tracking_uri)
    kept = {client.get_run(t.run_id).data.tags["config_hash"] for t in suite.finished("gap", "atom")}
    only = compare(
        tracking_uri=suite.tracking_uri,
        experiment=suite.experiment,
        output=tmp_path,
        log_to_suite=False,
        config_hashes=kept,
    )
    assert {trial.tiers for trial in only.trials} == {"atom"} and len(only.trials) == len(kept)


def test_best_combination_is_lowest_error_or_highest_auc(suite: LoggedSuite, comparison: Comparison) -> None:
    for label, metric, pick in (("gap", "test_mae", min), ("metal", "test_roc_auc", max)):
        means = {tiers: np.mean([t.metrics[metric] for t in suite.finished(label, tiers)]) for tiers in TIERS}
        best = [s.tiers for s in comparison.summaries if s.dataset == label and s.best]
        assert best == [pick(means, key=means.__getitem__)]


def test_paired_test_pairs_trials_by_split(suite: LoggedSuite, comparison: Comparison) -> None:
    baseline = {t.split_id: t.metrics["test_mae"] for t in suite.finished("gap", "atom")}
    for tiers in ("atom+motif", "atom+orbital"):
        mine = {t.split_id: t.metrics["test_mae"] for t in suite.finished("gap", tiers)}
        shared = sorted(set(mine) & set(baseline))
        x, y = [mine[s] for s in shared], [baseline[s] for s in shared]
        paired = _summary(comparison, "gap", tiers).paired
        assert paired.baseline == "atom" and paired.n_pairs == len(shared) == 3  # fold 3 of atom failed
        assert paired.mean_difference == pytest.approx(np.mean(np.subtract(x, y)), rel=1e-12)
        assert paired.t_pvalue == pytest.approx(stats.ttest_rel(x, y).pvalue, rel=1e-9)
        assert paired.wilcoxon_pvalue == pytest.approx(stats.wilcoxon(x, y).pvalue, rel=1e-9)
    assert _summary(comparison, "gap", "atom").paired is None


def test_paired_test_needs_two_pairs_and_spread() -> None:
    single = paired_test([0.1], "atom")
    assert single.n_pairs == 1 and math.isnan(single.t_pvalue) and math.isnan(single.wilcoxon_pvalue)
    constant = paired_test([0.2, 0.2, 0.2], "atom")
    assert math.isnan(constant.t_pvalue) and constant.mean_difference == pytest.approx(0.2)
    spread = paired_test([-0.1, -0.3, -0.2, -0.25], "atom")
    assert spread.t_pvalue == pytest.approx(stats.ttest_1samp([-0.1, -0.3, -0.2, -0.25], 0).pvalue)
    assert spread.wilcoxon_pvalue == pytest.approx(0.125)  # all four negative: exact two-sided 2/2⁴


def test_numbers_are_rounded_to_the_spread() -> None:
    from tierbench.report.render import format_mean_std

    assert format_mean_std(0.1235, 0.0067) == "0.1235 ± 0.0067"
    assert format_mean_std(0.5132, 0.2501) == "0.513 ± 0.250"  # one more digit for the mean
    assert format_mean_std(123.4, 12.3) == "123 ± 12"
    assert format_mean_std(0.42, float("nan")) == "0.42" and format_mean_std(0.5, 0.0) == "0.5 ± 0"


def test_markdown_csv_and_chart_are_written(suite: LoggedSuite, comparison: Comparison) -> None:
    markdown_path, csv_path, chart_path = comparison.files[:3]
    markdown = markdown_path.read_text()
    assert markdown == comparison.markdown
    best_gap = next(s for s in comparison.summaries if s.dataset == "gap" and s.best)
    assert "| tiers | gap · gap pbe [eV] test_mae ↓ | metal · is_metal [class label] test_roc_auc ↑ |" in markdown
    assert f"| **{best_gap.tiers}** | {best_gap.n} |" in markdown
    assert "## gap · gap pbe [eV]: test_mae (lower is better)" in markdown
    assert "| atom | 3 |" in markdown and "(baseline)" in markdown

    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    for row in rows:
        summary = _summary(comparison, row["dataset"], row["tiers"])
        assert float(row["mean"]) == summary.mean and int(row["n"]) == summary.n
        assert row["best"] == str(summary.best) and row["metric"] == summary.metric
        assert [float(v) for v in row["values"].split(";")] == list(summary.values)
        if summary.paired is not None:
            assert int(row["n_pairs"]) == summary.paired.n_pairs
            assert float(row["t_pvalue"]) == summary.paired.t_pvalue

    from matplotlib.image import imread

    image = imread(chart_path)
    assert chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10  # drawn, not blank


def test_outputs_are_logged_to_the_suite_run(suite: LoggedSuite, comparison: Comparison) -> None:
    assert comparison.logged_to == suite.suite_run_id
    client = MlflowClient(suite.tracking_uri)
    logged = {Path(f.path).name for f in client.list_artifacts(suite.suite_run_id, "comparison/test_mae")}
    assert logged == {"comparison.md", "comparison.csv", "comparison.png"}
    assert {f.path for f in client.list_artifacts(suite.suite_run_id, "matbench")} == {
        f"matbench/{tiers}" for tiers in TIERS
    }


def test_matbench_results_hold_fold_predictions_and_scores(suite: LoggedSuite, comparison: Comparison) -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score, max_error

    files = {path.parent.name: path for path in comparison.files[3:]}
    assert set(files) == set(TIERS)
    masked_somewhere = False
    for tiers, path in files.items():
        with gzip.open(path, "rt") as handle:
            document = json.load(handle)
        assert set(document) == {
            "@module",
            "@class",
            "version",
            "tasks",
            "user_metadata",
            "benchmark_name",
            "datestamp",
            "hash",
        }
        unhashed = {key: value for key, value in document.items() if key != "hash"}
        assert document["hash"] == results_hash(unhashed)
        assert document["benchmark_name"] == "matbench_v0.1" and document["user_metadata"]["tiers"] == tiers
        assert set(document["tasks"]) == {"matbench_mp_gap", "matbench_mp_is_metal"}
        for label, (task_name, _, _) in DATASETS.items():
            task = document["tasks"][task_name]
            assert task["dataset_name"] == task_name and task["benchmark_name"] == "matbench_v0.1"
            trials = suite.finished(label, tiers)
            assert sorted(task["results"]) == [f"fold_{t.fold}" for t in trials]
            for trial in trials:
                fold = task["results"][f"fold_{trial.fold}"]
                assert set(fold) == {"data", "parameters", "scores"}
                assert list(fold["data"]) == list(trial.test_ids)
                np.testing.assert_allclose(list(fold["data"].values()), trial.predictions, rtol=1e-12)
                assert fold["parameters"]["mlflow_run_id"] == trial.run_id
                truth, predicted = trial.truth, trial.predictions
                if trial.task == "regression":
                    expected = {"mae": mean_absolute_error(truth, predicted), "max_error": max_error(truth, predicted)}
                    expected["rmse"] = math.sqrt(mean_squared_error(truth, predicted))
                    kept = np.abs(truth) > 1e-5  # matbench leaves out near-zero targets (metals' gap)
                    masked_somewhere |= not kept.all()
                    expected["mape"] = float(np.mean(np.abs((truth[kept] - predicted[kept]) / truth[kept])))
                else:
                    labels = truth.astype(bool)
                    expected = {
                        "rocauc": roc_auc_score(truth, predicted),
                        "accuracy": np.mean(labels == (predicted > 0.5)),
                    }
                    expected["balanced_accuracy"] = balanced_accuracy_score(labels, predicted > 0.5)
                    expected["f1"] = f1_score(labels, predicted > 0.5)
                assert fold["scores"] == pytest.approx(expected, rel=1e-9)
    assert masked_somewhere  # the MAPE mask was exercised


def test_cli_compares_one_suite_run_without_logging(suite: LoggedSuite, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            *("compare", "--tracking-uri", suite.tracking_uri, "--suite-run", suite.suite_run_id),
            *("--metric", "test_rmse", "--output", str(tmp_path), "--no-log"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "test_rmse ↓" in result.output and "test_roc_auc ↑" in result.output
    assert f"wrote {tmp_path / 'comparison.csv'}" in result.output and "logged to" not in result.output
    client = MlflowClient(suite.tracking_uri)
    assert not client.list_artifacts(suite.suite_run_id, "comparison/test_rmse")


def test_cli_explains_what_cannot_be_compared(suite: LoggedSuite) -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["compare", "--tracking-uri", suite.tracking_uri, "--experiment", "nope"])
    assert unknown.exit_code == 1 and "no MLflow experiment named 'nope' (experiments: " in unknown.output
    trial = suite.trials[0].run_id
    not_suite = runner.invoke(app, ["compare", "--tracking-uri", suite.tracking_uri, "--suite-run", trial])
    assert not_suite.exit_code == 1 and f"run {trial} is a trial run, not a suite run" in not_suite.output
    metric = runner.invoke(app, ["compare", "--tracking-uri", suite.tracking_uri, "--metric", "test_speed"])
    assert metric.exit_code == 1 and "cannot rank tier combinations by 'test_speed'" in metric.output


def test_ui_serves_the_store_on_loopback_and_refuses_a_server_uri(tmp_path: Path) -> None:
    from tierbench.cli.compare_commands import server_url, ui_command_line

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = ui_command_line(store, host="127.0.0.1", port=5123)
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1] == store
    assert command[command.index("--host") + 1] == "127.0.0.1" and "--allowed-hosts" not in command
    assert server_url("::1", 5000) == "http://[::1]:5000"
    refused = CliRunner().invoke(app, ["ui", "--tracking-uri", "http://127.0.0.1:5000"])
    assert refused.exit_code == 1 and "is a server already: open it in a browser" in refused.output


def _handmade_trial(tracker: Tracker, parent: str, tiers: str, split: str, mae: float | None) -> str:
    tags = {TAG_TIERS: tiers, TAG_DATASET: "toy", TAG_TARGET: "y", TAG_UNIT: "eV", TAG_TASK: "regression"}
    run_id = tracker.create_trial_run(parent, f"toy|{tiers}|{split}", {"tiers": tiers}, {**tags, TAG_SPLIT: split})
    if mae is not None:  # None: the trial is still RUNNING
        RunLogger(tracker.tracking_uri, run_id).log_metrics({"test_mae": mae})
        tracker.finish(run_id)
    time.sleep(0.002)  # distinct start times: the newest re-run wins
    return run_id


def test_reruns_replace_older_trials_and_suite_runs_scope_the_table(suite: LoggedSuite, tmp_path: Path) -> None:
    tracker = Tracker("reruns", suite.tracking_uri)
    first = tracker.start_suite("toy", {}, {})
    for tiers, split, mae in (
        ("atom", "s1", 0.5),
        ("atom", "s2", 0.7),
        ("atom+motif", "s1", 0.4),
        ("atom+motif", "s2", 0.6),
    ):
        _handmade_trial(tracker, first, tiers, split, mae)
    second = tracker.start_suite("toy", {}, {})
    _handmade_trial(tracker, second, "atom+motif", "s1", 0.2)  # a --force re-run with another configuration
    _handmade_trial(tracker, second, "atom+motif", "s3", None)  # still RUNNING: not compared

    everything = compare(tracking_uri=suite.tracking_uri, experiment="reruns", output=tmp_path / "all")
    combined = _summary(everything, "toy", "atom+motif")
    assert combined.values == (0.2, 0.6) and combined.paired.mean_difference == pytest.approx(-0.2)
    assert math.isnan(combined.featurize_cpu_seconds)  # not logged: n/a, not zero
    assert everything.logged_to == second  # the newest suite run

    earlier = compare(
        tracking_uri=suite.tracking_uri, suite_run_id=first, output=tmp_path / "first", log_to_suite=False
    )
    assert _summary(earlier, "toy", "atom+motif").values == (0.4, 0.6) and earlier.logged_to is None
    later = compare(tracking_uri=suite.tracking_uri, suite_run_id=second, output=tmp_path / "second")
    assert [s.tiers for s in later.summaries] == ["atom+motif"] and later.summaries[0].paired is None
    assert "No finished atom trial for this target, so no paired test." in later.markdown
    with pytest.raises(ComparisonError, match="is not in experiment 'tiers-demo'"):
        compare(tracking_uri=suite.tracking_uri, experiment="tiers-demo", suite_run_id=second, output=tmp_path)
