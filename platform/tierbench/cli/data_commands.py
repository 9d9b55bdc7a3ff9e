"""``tierbench data list|show|fetch``: the dataset catalog, a dataset's statistics, matbench downloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tierbench.cli.main import app, fail, parse_assignments

data_app = typer.Typer(help="Datasets: the catalog, summary statistics, matbench downloads.", no_args_is_help=True)
app.add_typer(data_app, name="data")

BAR_WIDTH = 40
SHOWN_ELEMENTS = 30


def _availability(entry: Any) -> str:
    from tierbench.datasets import resolve_path
    from tierbench.datasets.qm9 import qm9_data_dir

    try:
        return str(resolve_path(entry.path) if entry.path else qm9_data_dir())
    except FileNotFoundError:
        return "missing"


@data_app.command("list")
def data_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Known datasets: name, format, size, targets with units, source and where the files are."""
    from tierbench.datasets import CATALOG, FORMATS

    rows: list[dict[str, Any]] = [
        {
            "name": entry.name,
            "format": entry.format,
            "size": entry.size,
            "targets": entry.targets,
            "description": entry.description,
            "source": entry.source,
            "location": _availability(entry),
        }
        for entry in CATALOG.values()
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(f"{row['name']}  [{row['format']}, {row['size']:,} samples]  {row['description']}")
        targets = ", ".join(f"{name} [{unit}]" for name, unit in row["targets"].items())
        typer.echo(f"    targets: {targets}")
        typer.echo(f"    source: {row['source']}")
        typer.echo(f"    location: {row['location']}")
    typer.echo(f"formats for your own files (give --path): {', '.join(FORMATS)}")


def _print_summary(summary: dict[str, Any]) -> None:
    typer.echo(
        f"{summary['name']} ({summary['format']}): {summary['samples']:,} {summary['kind']} of "
        f"{summary['source_rows']:,} source rows, loaded in {summary['load_seconds']:.2f} s"
    )
    typer.echo(f"source: {summary['source']}")
    typer.echo(f"fingerprint: {summary['fingerprint']}")
    quarantine = summary["quarantine"]
    typer.echo(f"quarantined: {quarantine['total']}")
    for reason, examples in quarantine["examples"].items():
        typer.echo(f"  {reason}: {quarantine['counts'][reason]}")
        for example in examples:
            typer.echo(f"    row {example['source_index']} ({example['id']}): {example['message']}")
    for step in summary["selection"][1:]:
        typer.echo(f"selection {step['step']}: -{step['excluded']:,} -> {step['remaining']:,}")
    typer.echo("targets:")
    for name, entry in summary["targets"].items():
        head = f"  {name} [{entry['unit']}] {entry['task']}: {entry['count']:,} values, {entry['missing']:,} missing"
        if "classes" in entry:
            typer.echo(f"{head}; classes {entry['classes']}")
        elif "mean" in entry:
            typer.echo(
                f"{head}; mean {entry['mean']:.6g} std {entry['std']:.6g} min {entry['min']:.6g} "
                f"p25 {entry['p25']:.6g} median {entry['p50']:.6g} p75 {entry['p75']:.6g} max {entry['max']:.6g}"
            )
        else:
            typer.echo(head)
    elements = summary["elements"]
    typer.echo(f"elements ({len(elements)}; samples containing each):")
    largest = max(elements.values(), default=1)
    for symbol, count in list(elements.items())[:SHOWN_ELEMENTS]:
        typer.echo(f"  {symbol:<3}{count:>9,} {'#' * max(1, round(BAR_WIDTH * count / largest))}")
    sites = summary["sites"]
    typer.echo(
        f"sites per structure: min {sites['min']}, median {sites['median']:g}, "
        f"mean {sites['mean']:.1f}, max {sites['max']}"
    )
    largest_bin = max((n for _, _, n in sites["histogram"]), default=1)
    for low, high, count in sites["histogram"]:
        typer.echo(f"  {low:>4}-{high - 1:<4}{count:>9,} {'#' * round(BAR_WIDTH * count / max(largest_bin, 1))}")


@data_app.command("show")
def data_show(
    name: Annotated[str, typer.Argument(help="Catalog name, or a format name / label with --path.")],
    *,
    path: Annotated[str | None, typer.Option("--path", help="File or folder (default: the catalog's).")] = None,
    dataset_format: Annotated[str | None, typer.Option("--format", help="Adapter for --path.")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="Only these targets.")] = None,
    size: Annotated[int | None, typer.Option("--size", help="Seeded subset size.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the subset.")] = 0,
    filters: Annotated[list[str] | None, typer.Option("--filter", "-f", help="Filter key=value (YAML).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Summary statistics of a dataset: targets, element histogram, size distribution, quarantine."""
    from pydantic import ValidationError

    from tierbench.datasets import load_dataset
    from tierbench.datasets.summary import summarize

    spec: dict[str, Any] = {"name": name, "seed": seed, "filters": parse_assignments(filters)}
    optional = {"path": path, "format": dataset_format, "targets": target or None, "size": size}
    spec.update({key: value for key, value in optional.items() if value is not None})
    try:
        dataset = load_dataset(spec)
    except (ValidationError, ValueError, FileNotFoundError) as error:
        raise fail(str(error)) from error
    summary = summarize(dataset)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    _print_summary(summary)


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="A matbench task, e.g. matbench_mp_gap.")],
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder (default: <data home>/matbench).")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Another address for the same file.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the server.")] = 15.0,
) -> None:
    """Download a matbench task file through matminer (needs internet access)."""
    from tierbench.datasets.fetch import FetchError, fetch_matbench

    try:
        target = fetch_matbench(name, dest, url, timeout)
    except (FetchError, ValueError) as error:
        raise fail(str(error)) from error
    typer.echo(f"{name}: {target}")
