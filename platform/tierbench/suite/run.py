"""Running a suite end to end: plan, skip what is finished, featurize, schedule trials, record, compare.

The driver (this module) owns everything that must happen exactly once: the MLflow store and
experiment, the suite's parent run, each trial's run, the featurization of each dataset (on Ray,
through the cache), and the final comparison. Trials run wherever the scheduler puts them and log
their learning curves into the run the driver created for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tierbench.config.suite import Suite
from tierbench.suite.outcome import TO_RUN, SuiteOutcome, suite_statuses
from tierbench.tracking.store import Tracker

logger = logging.getLogger(__name__)


def run_suite(
    suite: Suite,
    *,
    address: str | None = None,
    force: bool = False,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> SuiteOutcome:
    """Run every trial of the suite that has not finished before, then compare tier combinations.

    Args:
        suite: The validated suite.
        address: Ray cluster address (default ``RAY_ADDRESS`` or a local cluster on demand).
        force: Rerun trials that already have a FINISHED run.
        progress: Show progress bars.
        echo: Where to print the summary lines.
    """
    from tierbench.suite.execute import SuiteExecution

    tracker = Tracker(suite.tracking.experiment or suite.name, suite.tracking.tracking_uri)
    stale = tracker.sweep_stale_runs()
    if stale:
        echo(f"marked {len(stale)} runs of a stopped driver KILLED")
    statuses = suite_statuses(suite, tracker, force)
    outcome = SuiteOutcome(statuses, experiment=tracker.experiment)
    pending = [status.trial for status in statuses if status.state == TO_RUN]
    if pending:
        SuiteExecution(suite, tracker, outcome, address=address, progress=progress, echo=echo).run(pending)
    hashes = {status.trial.config_hash for status in statuses}
    outcome.table = comparison_table(tracker, outcome.suite_run_id, hashes, echo)
    return outcome


def comparison_table(
    tracker: Tracker, suite_run_id: str | None, config_hashes: set[str], echo: Callable[[str], None]
) -> str:
    """Compare the suite's finished trials (logging the table to the suite run when there is one).

    Only trials of the suite's current plan count, so an earlier version of the suite (say, fewer
    epochs) in the same experiment never mixes into the means.
    """
    from tierbench.report.compare import compare
    from tierbench.report.trials import ComparisonError

    try:
        comparison = compare(
            tracking_uri=tracker.tracking_uri,
            experiment=tracker.experiment,
            log_to_suite=suite_run_id is not None,
            config_hashes=config_hashes,
        )
    except ComparisonError as error:
        echo(f"no comparison: {error}")
        return ""
    echo(comparison.markdown)
    echo(f"tables and chart: {comparison.files[0].parent}")
    return comparison.markdown
