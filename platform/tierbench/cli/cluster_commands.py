"""``tierbench cluster-validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierbench.cli.main import app, fail


@app.command("cluster-validate")
def cluster_validate(
    path: Annotated[Path, typer.Argument(help="Ray cluster launcher file.")] = Path("ray_cluster.yaml"),
) -> None:
    """Validate a Ray cluster launcher file offline (Ray's schema and rules, plus tierbench's)."""
    from tierbench.cluster.launcher_config import ClusterConfigError, validate_cluster_file

    try:
        config = validate_cluster_file(path)
    except ClusterConfigError as error:
        raise fail(str(error)) from error
    node_types = ", ".join(
        f"{name} ({spec.get('min_workers', 0)}–{spec.get('max_workers', 0)})"
        for name, spec in config["available_node_types"].items()
    )
    typer.echo(f"{path}: valid; head {config['head_node_type']}; node types {node_types}")
