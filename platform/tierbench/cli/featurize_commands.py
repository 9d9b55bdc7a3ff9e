"""``tierbench featurize``: build tier graphs into the cache ahead of a suite, with a coverage report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tierbench.cli.main import app, fail, parse_assignments

if TYPE_CHECKING:
    from tierbench.tier import Tier


def _suite_work(suite_file: Path, overrides: list[str] | None) -> tuple[list[tuple[str, Any, dict[str, Tier]]], Any]:
    """Per dataset entry of a suite: its label, its dataset spec and the tiers its trials use."""
    from tierbench.config.suite import SuiteError, load_suite
    from tierbench.suite.plan import plan_suite
    from tierbench.tier.registry import get_tier

    try:
        suite = load_suite(suite_file, parse_assignments(overrides))
    except (SuiteError, FileNotFoundError) as error:
        raise fail(str(error)) from error
    work = []
    trials = [trial for trial in plan_suite(suite) if trial.excluded is None]
    for entry in suite.datasets:
        own = [trial for trial in trials if trial.dataset == entry.name]
        labels = list(dict.fromkeys(label for trial in own for label in trial.tiers))
        tiers = {label: get_tier(suite.tiers[label].tier or label, **suite.tiers[label].params) for label in labels}
        if own:
            work.append((entry.name, own[0].config.dataset, tiers))
    return work, suite


@app.command("featurize")
def featurize_command(
    suite_file: Annotated[
        Path | None, typer.Option("--suite", help="Featurize every dataset of this suite with its tiers.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="A catalog name, or a dataset spec as JSON (see README, Data)."),
    ] = None,
    tiers: Annotated[str | None, typer.Option("--tiers", help="With --dataset: tier names, e.g. atom,motif.")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Graph cache (default: the suite's).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Parallel builds; 1 builds without Ray.")] = None,
    address: Annotated[str | None, typer.Option("--address", help="Ray cluster (default: RAY_ADDRESS, local).")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the coverage report here as JSON.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Override a suite key (with --suite).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Build tier graphs into the cache (a warm cache makes a suite's featurization instant)."""
    from tierbench.datasets import load_dataset
    from tierbench.featurization.engine import featurize
    from tierbench.featurization.results import coverage_report
    from tierbench.tier.registry import get_tier

    if (suite_file is None) == (dataset is None):
        raise fail("give either --suite SUITE or --dataset SPEC --tiers TIERS")
    if suite_file is not None:
        work, suite = _suite_work(suite_file, overrides)
        cache = cache or (Path(suite.cache) if suite.cache else None)
        workers = workers or suite.resources.featurize_workers
    elif dataset is not None:
        if not tiers:
            raise fail("--dataset needs --tiers, e.g. --tiers atom,motif,orbital")
        spec: dict[str, Any] = json.loads(dataset) if dataset.lstrip().startswith("{") else {"name": dataset}
        work = [(str(spec.get("name", "dataset")), spec, {name: get_tier(name) for name in tiers.split(",")})]
    reports = {}
    for label, spec, instances in work:
        samples = load_dataset(spec)
        typer.echo(f"{label}: {len(samples)} samples ({samples.quarantine.summary()})")
        result = featurize(samples, instances, cache=cache, ray_address=address, workers=workers, progress=not quiet)
        typer.echo(result.table())
        reports[label] = coverage_report(result, samples, list(instances))
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(reports, indent=1, default=str))
        typer.echo(f"coverage report: {report}")
