"""``tierbench bench``: run a benchmark suite."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierbench.cli.main import app, fail, parse_assignments


@app.command("bench")
def bench(
    suite_file: Annotated[Path, typer.Argument(help="Suite YAML, e.g. benchmarks/suites/default.yaml.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List every trial and its state; run nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Rerun trials that already finished.")] = False,
    address: Annotated[
        str | None, typer.Option("--address", help="Ray cluster (default: RAY_ADDRESS or local).")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="Override a suite key, e.g. --set trainer.max_epochs=5.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    allow_failures: Annotated[
        bool, typer.Option("--allow-failures", help="Exit 0 even when trials failed (they are still listed).")
    ] = False,
) -> None:
    """Run a suite: featurize on Ray through the cache, train every trial, record in MLflow, compare.

    Exits 1 when a trial of this run failed (unless ``--allow-failures``), and non-zero when stopped by
    SIGINT or SIGTERM.
    """
    from tierbench.config.suite import SuiteError, load_suite
    from tierbench.settings import store_exists, tracking_uri
    from tierbench.suite.outcome import TO_RUN, dry_run_table, suite_statuses

    try:
        suite = load_suite(suite_file, parse_assignments(overrides))
    except (SuiteError, FileNotFoundError) as error:
        raise fail(str(error)) from error
    if dry_run:
        store, experiment = suite.tracking.tracking_uri or tracking_uri(), suite.tracking.experiment or suite.name
        tracker = None
        if store_exists(store):  # a store or experiment that does not exist holds no finished trial
            from tierbench.tracking.store import Tracker, experiment_exists

            tracker = Tracker(experiment, store) if experiment_exists(experiment, store) else None
        typer.echo(dry_run_table(suite_statuses(suite, tracker, force)))
        return
    from tierbench.suite.run import run_suite
    from tierbench.trial.steps import configure_cpu

    configure_cpu()  # before torch starts its threads
    outcome = run_suite(suite, address=address, force=force, progress=not quiet, echo=typer.echo)
    ran = sum(status.state == TO_RUN for status in outcome.statuses)
    typer.echo(
        f"{ran} trials run ({len(outcome.finished)} finished, {len(outcome.failed)} failed); "
        f"{len(outcome.statuses) - ran} skipped or excluded"
    )
    for name, reason in outcome.failed.items():
        typer.echo(f"  failed: {name}: {reason}")
    typer.echo(
        f"MLflow: experiment '{outcome.experiment}' — run `make ui` and open http://127.0.0.1:5000, "
        "then group runs by the 'tiers' tag"
    )
    if outcome.failed and not allow_failures:
        raise fail(f"{len(outcome.failed)} trials failed (listed above); --allow-failures exits 0 all the same")
