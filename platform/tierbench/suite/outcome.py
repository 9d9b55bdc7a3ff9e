"""What a suite execution does with each planned trial, and what it did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierbench.config.suite import Suite
from tierbench.config.trial import PlannedTrial
from tierbench.suite.plan import plan_suite

if TYPE_CHECKING:
    from tierbench.tracking.store import Tracker

DONE = "done"
TO_RUN = "to run"
EXCLUDED = "excluded"


@dataclass
class TrialStatus:
    """A planned trial and what the suite does with it."""

    trial: PlannedTrial
    state: str
    reason: str = ""


@dataclass
class SuiteOutcome:
    """What a suite execution did.

    Attributes:
        statuses: Every planned trial with its state before the run.
        finished: Names of trials that finished in this execution.
        failed: Trial name → failure reason, for trials that failed in this execution.
        suite_run_id: The parent run (``None`` when there was nothing to run).
        experiment: The MLflow experiment.
        table: The comparison table (Markdown), when one could be made.
        coverage: Dataset label → coverage report of its featurization.
    """

    statuses: list[TrialStatus]
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    suite_run_id: str | None = None
    experiment: str = ""
    table: str = ""
    coverage: dict[str, dict[str, Any]] = field(default_factory=dict)


def suite_statuses(suite: Suite, tracker: Tracker | None, force: bool = False) -> list[TrialStatus]:
    """Every trial of the suite as done, to run or excluded (with the reason)."""
    statuses = []
    for trial in plan_suite(suite):
        if trial.excluded:
            statuses.append(TrialStatus(trial, EXCLUDED, trial.excluded))
        elif not force and tracker is not None and tracker.finished_trial(trial.config_hash) is not None:
            statuses.append(TrialStatus(trial, DONE, "a FINISHED run has this config hash"))
        else:
            statuses.append(TrialStatus(trial, TO_RUN))
    return statuses


def dry_run_table(statuses: Sequence[TrialStatus]) -> str:
    """Every trial with its hash and state, one per line."""
    lines = [f"{'trial':<48}{'hash':<14}state"]
    for status in statuses:
        note = f" ({status.reason})" if status.state == EXCLUDED else ""
        lines.append(f"{status.trial.name:<48}{status.trial.config_hash[:12]:<14}{status.state}{note}")
    counts = Counter(status.state for status in statuses)
    lines.append(", ".join(f"{counts[state]} {state}" for state in (DONE, TO_RUN, EXCLUDED)))
    return "\n".join(lines)
