"""Comparison of tier combinations from the MLflow record of a suite.

Finished trial runs are read back (:mod:`~tierbench.report.trials`), summarized per dataset target and
tier combination with paired tests against the atom-only baseline (:mod:`~tierbench.report.statistics`),
written as Markdown, CSV and a bar chart (:mod:`~tierbench.report.render`) and, for matbench folds, as
matbench ``results.json.gz`` files (:mod:`~tierbench.report.matbench_export`).
"""

from __future__ import annotations

from tierbench.report.compare import Comparison, compare
from tierbench.report.statistics import GroupSummary, PairedTest, paired_test, summarize
from tierbench.report.trials import ComparisonError, TrialRecord, collect_trials

__all__ = [
    "Comparison",
    "ComparisonError",
    "GroupSummary",
    "PairedTest",
    "TrialRecord",
    "collect_trials",
    "compare",
    "paired_test",
    "summarize",
]
