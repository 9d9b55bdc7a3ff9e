"""``tierbench tiers``, ``validate`` and ``describe``: what the tiers are and what they see."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tierbench.cli.main import app, fail, parse_assignments
from tierbench.errors import Reason


@app.command("tiers")
def list_tiers(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the registered tiers: name, version, feature dims and where each comes from."""
    from tierbench.tier.registry import available_tiers, loadable_tiers

    specs = available_tiers()
    rows: list[dict[str, Any]] = []
    for name, tier_class in loadable_tiers().items():
        dims = tier_class().dims
        rows.append(
            {
                "name": name,
                "version": tier_class.version,
                "kinds": "+".join(tier_class.kinds),
                "node_dim": dims.node_dim,
                "edge_dim": dims.edge_dim,
                "node_types": dims.num_node_types,
                "global_dim": dims.global_dim,
                "source": specs[name].source,
                "target": specs[name].target,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'tier':<12}{'version':<9}{'kinds':<18}{'node':>6}{'edge':>6}{'types':>7}{'global':>8}  source")
    for row in rows:
        typer.echo(
            f"{row['name']:<12}{row['version']:<9}{row['kinds']:<18}{row['node_dim']:>6}{row['edge_dim']:>6}"
            f"{row['node_types']:>7}{row['global_dim']:>8}  {row['source']}"
        )


@app.command("validate")
def validate_files(
    files: Annotated[list[Path], typer.Argument(help="Structure files (CIF, POSCAR, xyz/extxyz, pymatgen JSON).")],
) -> None:
    """Check structure files; print OK or the specific reason each one is rejected."""
    from tierbench.errors import InvalidStructureError
    from tierbench.structures.readers import load_valid_structure

    failures = 0
    for path in files:
        try:
            structure = load_valid_structure(path)
        except (InvalidStructureError, FileNotFoundError) as error:
            failures += 1
            reason = getattr(error, "reason", Reason.MISSING_FILE)
            typer.echo(f"FAIL {path}: [{reason}] {error}")
            continue
        kind = "crystal" if hasattr(structure, "lattice") else "molecule"
        typer.echo(f"OK   {path}: {structure.composition.reduced_formula}, {len(structure)} sites, {kind}")
    if failures:
        raise typer.Exit(1)


@app.command("describe")
def describe(
    file: Annotated[Path, typer.Argument(help="One structure file.")],
    tier_name: Annotated[str, typer.Option("--tier", "-t", help="Tier name or 'package.module:Class'.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Tier param key=value.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Build one tier's graph for one structure and show what the tier sees."""
    from tierbench.errors import InvalidStructureError, TierError
    from tierbench.structures.readers import load_valid_structure
    from tierbench.tier.registry import get_tier

    try:
        structure = load_valid_structure(file)
    except (InvalidStructureError, FileNotFoundError) as error:
        raise fail(f"{file}: {error}") from error
    tier = get_tier(tier_name, **parse_assignments(param))
    start = time.perf_counter()
    try:
        graph = tier.build(structure)
    except TierError as error:
        raise fail(f"tier {tier.name!r} cannot build {file}: [{error.reason}] {error}") from error
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {
        "file": str(file),
        "tier": tier.name,
        "version": tier.version,
        "params": dict(tier.params()),
        "nodes": int(graph.num_nodes),
        "edges": int(graph.edge_index.shape[1]),
        "node_dim": int(graph.x.shape[1]),
        "edge_dim": int(graph.edge_attr.shape[1]),
        "build_seconds": round(seconds, 6),
    }
    explain = getattr(tier, "describe", None)
    if callable(explain):
        summary["description"] = explain(structure)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    for key in ("file", "tier", "version", "nodes", "edges", "node_dim", "edge_dim", "build_seconds"):
        typer.echo(f"{key:>14}: {summary[key]}")
    typer.echo(f"{'params':>14}: {json.dumps(summary['params'], default=str)}")
    if "description" in summary:
        typer.echo(json.dumps(summary["description"], indent=2, default=str))
