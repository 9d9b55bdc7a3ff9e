"""Mean ± std per tier combination, the best combination per dataset, paired tests against a baseline.

Trials of two combinations that share a ``split_id`` were trained and tested on the same samples, so
their metric difference removes the split-to-split variation that dominates small benchmarks. The
paired t-test assumes roughly normal differences; the Wilcoxon signed-rank test does not, but with n
pairs its smallest possible two-sided p-value is 2/2ⁿ (0.25 for 3 pairs, 0.0625 for 5).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tierbench.report.trials import TrialRecord

LOWER_IS_BETTER = frozenset({"mae", "rmse", "bce", "loss", "seconds"})
HIGHER_IS_BETTER = frozenset({"r2", "roc_auc", "accuracy"})
DEFAULT_METRICS = {"regression": "test_mae", "classification": "test_roc_auc"}
COST_PREFIX = "featurize_cpu_seconds_"
TRAIN_SECONDS = "train_seconds"
BASELINE = "atom"


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` (e.g. ``test_r2``, ``val_roc_auc``) are better.

    Raises:
        ValueError: The metric's direction is unknown.
    """
    stem = metric.split("_", 1)[1] if metric.startswith(("test_", "val_", "train_")) else metric
    if stem in HIGHER_IS_BETTER:
        return True
    if stem in LOWER_IS_BETTER or stem.endswith("seconds"):
        return False
    known = ", ".join(sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER))
    raise ValueError(f"cannot rank tier combinations by {metric!r}: use test_<name> with name one of {known}")


@dataclass(frozen=True)
class PairedTest:
    """A tier combination against the baseline on the splits both were run on.

    Attributes:
        baseline: Baseline tiers label.
        n_pairs: Splits with a finished trial of both.
        mean_difference: Mean of (combination − baseline) over the pairs, in the metric's unit.
        t_pvalue: Two-sided paired t-test p-value (NaN when undefined: < 2 pairs or constant differences).
        wilcoxon_pvalue: Two-sided Wilcoxon signed-rank p-value (NaN with < 2 pairs).
    """

    baseline: str
    n_pairs: int
    mean_difference: float
    t_pvalue: float
    wilcoxon_pvalue: float


@dataclass(frozen=True)
class GroupSummary:
    """One tier combination on one dataset target.

    Attributes:
        dataset: Dataset label.
        target: Target.
        unit: Target unit.
        task: ``regression`` or ``classification``.
        tiers: Tier combination label.
        metric: Metric summarized.
        values: Metric value of each trial, in trial order (fold, seed).
        mean: Mean over trials.
        std: Sample standard deviation (NaN for a single trial).
        featurize_cpu_seconds: Mean featurization CPU-seconds per trial, summed over its tiers.
        train_seconds: Mean training wall-clock seconds per trial.
        best: Whether this is the best combination for the dataset target.
        paired: Test against the baseline (``None`` for the baseline itself).
    """

    dataset: str
    target: str
    unit: str
    task: str
    tiers: str
    metric: str
    values: tuple[float, ...]
    mean: float
    std: float
    featurize_cpu_seconds: float
    train_seconds: float
    best: bool = False
    paired: PairedTest | None = None

    @property
    def n(self) -> int:
        """Number of trials."""
        return len(self.values)


def _mean_or_nan(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def paired_test(differences: Sequence[float], baseline: str) -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of differences against zero."""
    diffs = np.asarray(differences, dtype=float)
    n = len(diffs)
    if n < 2:
        return PairedTest(baseline, n, _mean_or_nan(list(diffs)), math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        constant = bool(np.allclose(diffs, diffs[0], rtol=1e-9, atol=1e-12))
        t_pvalue = math.nan if constant else float(stats.ttest_1samp(diffs, 0.0).pvalue)
        wilcoxon_pvalue = float(stats.wilcoxon(diffs).pvalue)
    return PairedTest(baseline, n, float(diffs.mean()), t_pvalue, wilcoxon_pvalue)


def metric_for(trials: Iterable[TrialRecord], requested: str) -> str:
    """``requested`` when any of the trials logged it, else their task's default (``test_mae``/``test_roc_auc``).

    A suite may mix regression and classification targets; each is ranked by a metric it has.
    """
    trials = list(trials)
    if any(requested in trial.metrics for trial in trials):
        return requested
    return DEFAULT_METRICS.get(trials[0].task, requested)


def _featurization_cost(trials: Iterable[TrialRecord]) -> float:
    """Mean over trials of the featurization CPU-seconds summed over each trial's tiers (NaN if unlogged)."""
    costs = [
        sum(value for name, value in trial.metrics.items() if name.startswith(COST_PREFIX))
        for trial in trials
        if any(name.startswith(COST_PREFIX) for name in trial.metrics)
    ]
    return _mean_or_nan(costs)


def summarize(trials: Sequence[TrialRecord], metric: str, baseline: str = BASELINE) -> list[GroupSummary]:
    """Summaries of every (dataset, target, tiers) group, with the best marked and paired tests.

    Trials without the metric (a failed test step) are left out of their group. The best combination
    has the lowest mean for error metrics and the highest for R², ROC-AUC and accuracy (on a tie, the
    one with fewer tiers). Within a target the baseline comes first, then combinations by size.
    """
    by_target: dict[tuple[str, str], list[TrialRecord]] = defaultdict(list)
    for trial in trials:
        by_target[(trial.dataset, trial.target)].append(trial)
    summaries: list[GroupSummary] = []
    for (dataset, target), target_trials in sorted(by_target.items()):
        summaries += _summarize_target(dataset, target, target_trials, metric_for(target_trials, metric), baseline)
    return summaries


def _summarize_target(
    dataset: str, target: str, trials: list[TrialRecord], metric: str, baseline: str
) -> list[GroupSummary]:
    by_tiers: dict[str, dict[str, float]] = defaultdict(dict)
    members: dict[str, list[TrialRecord]] = defaultdict(list)
    for trial in trials:
        if metric in trial.metrics:
            by_tiers[trial.tiers][trial.split_id] = trial.metrics[metric]
            members[trial.tiers].append(trial)
    if not by_tiers:
        return []
    direction = 1.0 if higher_is_better(metric) else -1.0
    means = {tiers: float(np.mean(list(values.values()))) for tiers, values in by_tiers.items()}
    best = max(means, key=lambda tiers: (direction * means[tiers], -tiers.count("+")))
    base_values = by_tiers.get(baseline)
    first = trials[0]
    summaries = []
    for tiers in sorted(by_tiers, key=lambda label: (label != baseline, label.count("+"), label)):
        values = by_tiers[tiers]
        paired = None
        if base_values is not None and tiers != baseline:
            shared = [split for split in values if split in base_values]
            paired = paired_test([values[s] - base_values[s] for s in shared], baseline)
        ordered = [trial.metrics[metric] for trial in members[tiers]]
        summaries.append(
            GroupSummary(
                dataset=dataset,
                target=target,
                unit=first.unit,
                task=first.task,
                tiers=tiers,
                metric=metric,
                values=tuple(ordered),
                mean=means[tiers],
                std=float(np.std(ordered, ddof=1)) if len(ordered) > 1 else math.nan,
                featurize_cpu_seconds=_featurization_cost(members[tiers]),
                train_seconds=_mean_or_nan(
                    [t.metrics[TRAIN_SECONDS] for t in members[tiers] if TRAIN_SECONDS in t.metrics]
                ),
                best=tiers == best,
                paired=paired,
            )
        )
    return summaries
