"""The root ``tierbench`` application and helpers shared by the command modules."""

from __future__ import annotations

from typing import Any

import typer
import yaml

app = typer.Typer(
    name="tierbench",
    help="Benchmark which tiers of structure information (atom, motif, orbital graphs) pay for themselves.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def parse_assignments(assignments: list[str] | None) -> dict[str, Any]:
    """Turn ``["key=value", …]`` into a dict, reading each value as YAML (numbers, booleans, lists).

    Raises:
        typer.BadParameter: An item has no ``=``.
    """
    parsed: dict[str, Any] = {}
    for item in assignments or []:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise typer.BadParameter(f"expected key=value, got {item!r}")
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)
