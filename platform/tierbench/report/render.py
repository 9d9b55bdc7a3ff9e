"""The comparison as Markdown (printed and saved), CSV (one row per combination and target) and a PNG."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from tierbench.report.statistics import BASELINE, GroupSummary, higher_is_better

UNIT_METRICS = frozenset({"mae", "rmse"})
"""Metrics expressed in the target's unit; the others (R², ROC-AUC, accuracy, BCE) have none."""
MISSING = "n/a"
CSV_COLUMNS = (
    "dataset",
    "target",
    "unit",
    "task",
    "metric",
    "higher_is_better",
    "tiers",
    "n",
    "mean",
    "std",
    "best",
    "baseline",
    "n_pairs",
    "mean_difference",
    "t_pvalue",
    "wilcoxon_pvalue",
    "featurize_cpu_seconds",
    "train_seconds",
    "values",
)


def metric_unit(metric: str, unit: str) -> str:
    """The unit of ``metric`` for a target in ``unit`` (empty for dimensionless metrics)."""
    return unit if metric.rsplit("_", 1)[-1] in UNIT_METRICS else ""


def format_mean_std(mean: float, std: float) -> str:
    """``0.1235 ± 0.0067``: the standard deviation to two significant digits, the mean to match.

    Up to one more decimal is kept when the mean would otherwise show fewer than three significant
    digits, so that close combinations stay distinguishable. A single trial has no standard deviation:
    only its value is shown.
    """
    if math.isnan(std):
        return f"{mean:.4g}"
    if std == 0:
        return f"{mean:.4g} ± 0"
    decimals = 1 - math.floor(math.log10(std))
    if mean != 0:
        decimals = max(decimals, min(decimals + 1, 2 - math.floor(math.log10(abs(mean)))))
    decimals = min(8, max(0, decimals))
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def format_number(value: float, spec: str = ".3g") -> str:
    """``value`` with ``spec``, or ``n/a`` for NaN."""
    return MISSING if math.isnan(value) else format(value, spec)


def _target_title(summary: GroupSummary) -> str:
    unit = f" [{summary.unit}]" if summary.unit else ""
    return f"{summary.dataset} · {summary.target}{unit}"


def _targets(summaries: Sequence[GroupSummary]) -> dict[tuple[str, str], list[GroupSummary]]:
    grouped: dict[tuple[str, str], list[GroupSummary]] = {}
    for summary in summaries:
        grouped.setdefault((summary.dataset, summary.target), []).append(summary)
    return grouped


def _cell(summary: GroupSummary) -> str:
    text = f"{format_mean_std(summary.mean, summary.std)} (n={summary.n})"
    return f"**{text}**" if summary.best else text


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _overview(summaries: Sequence[GroupSummary]) -> list[str]:
    targets = _targets(summaries)
    tiers = list(dict.fromkeys(s.tiers for s in summaries))
    header = ["tiers"]
    for group in targets.values():
        arrow = "↑" if higher_is_better(group[0].metric) else "↓"
        header.append(f"{_target_title(group[0])} {group[0].metric} {arrow}")
    lines = [_row(header), _row(["---"] * len(header))]
    for label in tiers:
        cells = [label]
        for group in targets.values():
            found = next((s for s in group if s.tiers == label), None)
            cells.append(_cell(found) if found else "–")
        lines.append(_row(cells))
    return lines


def _detail(group: list[GroupSummary], baseline: str) -> list[str]:
    first = group[0]
    direction = "higher" if higher_is_better(first.metric) else "lower"
    unit = metric_unit(first.metric, first.unit)
    has_baseline = any(s.tiers == baseline for s in group)
    lines = [f"## {_target_title(first)}: {first.metric} ({direction} is better)", ""]
    header = ["tiers", "n", f"mean ± std{f' [{unit}]' if unit else ''}", f"Δ vs {baseline}"]
    header += ["pairs", "t-test p", "Wilcoxon p", "featurize CPU-s", "train s"]
    lines += [_row(header), _row(["---"] * len(header))]
    for summary in group:
        paired = summary.paired
        cells = [f"**{summary.tiers}**" if summary.best else summary.tiers, str(summary.n)]
        cells.append(format_mean_std(summary.mean, summary.std))
        if paired is None:
            cells += ["(baseline)" if summary.tiers == baseline else MISSING, "", "", ""]
        else:
            cells += [format_number(paired.mean_difference, "+.3g"), str(paired.n_pairs)]
            cells += [format_number(paired.t_pvalue), format_number(paired.wilcoxon_pvalue)]
        cells += [format_number(summary.featurize_cpu_seconds), format_number(summary.train_seconds)]
        lines.append(_row(cells))
    best = next(s for s in group if s.best)
    lines += ["", f"Best: **{best.tiers}** ({format_mean_std(best.mean, best.std)}{f' {unit}' if unit else ''})."]
    if not has_baseline:
        lines.append(f"No finished {baseline} trial for this target, so no paired test.")
    return lines


def to_markdown(summaries: Sequence[GroupSummary], title: str, scope: str, baseline: str = BASELINE) -> str:
    """The comparison as Markdown: an overview (combination × target), then one table per target.

    Args:
        summaries: From :func:`tierbench.report.statistics.summarize`.
        title: First heading.
        scope: Where the trials come from (experiment, suite run).
        baseline: The combination the paired tests compare against.
    """
    trials = sum(s.n for s in summaries)
    lines = [f"# {title}", "", f"{scope}; {trials} finished trials.", ""]
    lines += [
        "Cells: mean ± sample standard deviation over seeds/folds (n trials); **bold**: best combination.",
        "Δ: mean paired difference (combination − baseline) over the splits both were run on; "
        "p: two-sided paired t-test and Wilcoxon signed-rank test (n/a below 2 pairs).",
        "",
    ]
    lines += _overview(summaries)
    for group in _targets(summaries).values():
        lines += ["", *_detail(group, baseline)]
    return "\n".join(lines) + "\n"


def write_csv(summaries: Sequence[GroupSummary], path: Path) -> Path:
    """One row per (dataset, target, tiers): numbers unformatted, per-trial values joined by ``;``."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for s in summaries:
            paired = s.paired
            writer.writerow(
                [s.dataset, s.target, s.unit, s.task, s.metric, higher_is_better(s.metric), s.tiers, s.n]
                + [repr(s.mean), repr(s.std), s.best, paired.baseline if paired else ""]
                + ([paired.n_pairs, repr(paired.mean_difference)] if paired else ["", ""])
                + ([repr(paired.t_pvalue), repr(paired.wilcoxon_pvalue)] if paired else ["", ""])
                + [repr(s.featurize_cpu_seconds), repr(s.train_seconds), ";".join(repr(v) for v in s.values)]
            )
    return path


def write_bar_chart(summaries: Sequence[GroupSummary], path: Path, baseline: str = BASELINE) -> Path:
    """Bar chart PNG: one panel per target, one bar per combination, error bars = standard deviation.

    The best combination is orange, the baseline grey, the others blue.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    targets = list(_targets(summaries).values())
    columns = min(3, len(targets))
    rows = math.ceil(len(targets) / columns)
    widest = max(len(group) for group in targets)
    figure = Figure(figsize=(columns * max(3.5, 0.7 * widest + 1.5), rows * 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    for index, group in enumerate(targets):
        axes = figure.add_subplot(rows, columns, index + 1)
        positions = range(len(group))
        errors = [0.0 if math.isnan(s.std) else s.std for s in group]
        colors = ["tab:orange" if s.best else "tab:gray" if s.tiers == baseline else "tab:blue" for s in group]
        axes.bar(positions, [s.mean for s in group], yerr=errors, capsize=4, color=colors)
        for position, summary in zip(positions, group, strict=True):
            axes.annotate(
                f"n={summary.n}", (position, 0), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7
            )
        axes.set_xticks(list(positions), [s.tiers for s in group], rotation=30, ha="right", fontsize=8)
        unit = metric_unit(group[0].metric, group[0].unit)
        axes.set_ylabel(f"{group[0].metric}{f' [{unit}]' if unit else ''}")
        arrow = "higher" if higher_is_better(group[0].metric) else "lower"
        axes.set_title(f"{group[0].dataset} · {group[0].target} ({arrow} is better)", fontsize=9)
    figure.savefig(path, dpi=120)
    return path
