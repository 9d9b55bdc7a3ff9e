"""``tierbench compare``: collect finished trials, summarize, write the table, chart and matbench files.

The outputs are also logged as artifacts of the suite run (``comparison/<metric>/`` and
``matbench/<tiers>/``), so the MLflow UI shows them next to the trials they summarize.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from tierbench.report.matbench_export import export_matbench
from tierbench.report.render import to_markdown, write_bar_chart, write_csv
from tierbench.report.statistics import BASELINE, GroupSummary, higher_is_better, summarize
from tierbench.report.trials import (
    ComparisonError,
    TrialRecord,
    collect_trials,
    latest_suite_run,
    resolve_experiment,
    suite_run,
)
from tierbench.settings import tracking_uri as default_tracking_uri

DEFAULT_OUTPUT = Path(".tierbench") / "compare"
MARKDOWN_FILE = "comparison.md"
CSV_FILE = "comparison.csv"
CHART_FILE = "comparison.png"


@dataclass(frozen=True)
class Comparison:
    """What ``compare`` found and wrote.

    Attributes:
        experiment: Experiment name.
        suite_run_id: The suite run compared, or ``None`` for every suite run of the experiment.
        logged_to: The suite run the outputs were logged to (``None`` when not logged).
        trials: The trials compared.
        summaries: One per (dataset, target, tiers).
        markdown: The Markdown table.
        files: Markdown, CSV and PNG paths, then any matbench ``results.json.gz``.
    """

    experiment: str
    suite_run_id: str | None
    logged_to: str | None
    trials: tuple[TrialRecord, ...]
    summaries: tuple[GroupSummary, ...]
    markdown: str
    files: tuple[Path, ...]


def _folder_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "experiment"


def compare(
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    suite_run_id: str | None = None,
    metric: str = "test_mae",
    output: Path | None = None,
    baseline: str = BASELINE,
    log_to_suite: bool = True,
    config_hashes: Collection[str] | None = None,
) -> Comparison:
    """Compare tier combinations over the finished trials of an experiment or one suite run.

    Args:
        tracking_uri: MLflow store (default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
        experiment: Experiment name (default: the suite run's, else the newest suite run's).
        suite_run_id: Compare only this suite execution's trials.
        metric: Ranking metric; targets that lack it (classification for ``test_mae``) use their task's
            default (``test_mae``, ``test_roc_auc``).
        output: Folder for the files (default ``.tierbench/compare/<experiment>``).
        baseline: Tier combination the paired tests compare against.
        log_to_suite: Log the files to the suite run (the given one, else the experiment's newest).
        config_hashes: Compare only trials with these config hashes (a suite's current plan).

    Raises:
        ComparisonError: Unknown experiment or run, or no finished trial.
        ValueError: A metric whose better direction is unknown.
    """
    higher_is_better(metric)
    client = MlflowClient(tracking_uri or default_tracking_uri())
    suite = suite_run(client, suite_run_id) if suite_run_id is not None else None
    found = resolve_experiment(client, experiment, suite)
    trials = collect_trials(client, found.experiment_id, suite_run_id, config_hashes)
    summaries = summarize(trials, metric, baseline)
    if not summaries:
        raise ComparisonError(f"none of the {len(trials)} finished trials logged {metric} (or its task's default)")
    scope = f"Experiment `{found.name}`, " + (f"suite run `{suite_run_id}`" if suite_run_id else "all suite runs")
    markdown = to_markdown(summaries, "Tier combinations compared", scope, baseline)
    folder = output or DEFAULT_OUTPUT / _folder_name(found.name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKDOWN_FILE).write_text(markdown, encoding="utf-8")
    tables = [folder / MARKDOWN_FILE, write_csv(summaries, folder / CSV_FILE)]
    tables.append(write_bar_chart(summaries, folder / CHART_FILE, baseline))
    matbench_files = export_matbench(client, trials, folder / "matbench", found.experiment_id)
    logged_to = (suite_run_id or latest_suite_run(client, found.experiment_id)) if log_to_suite else None
    if logged_to is not None:
        for path in tables:
            client.log_artifact(logged_to, str(path), f"comparison/{metric}")
        for path in matbench_files:
            client.log_artifact(logged_to, str(path), f"matbench/{path.parent.name}")
    return Comparison(
        experiment=found.name,
        suite_run_id=suite_run_id,
        logged_to=logged_to,
        trials=tuple(trials),
        summaries=tuple(summaries),
        markdown=markdown,
        files=(*tables, *matbench_files),
    )
