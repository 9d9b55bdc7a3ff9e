"""``tierbench cache info|verify|clear``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tierbench.cli.main import app

cache_app = typer.Typer(help="Inspect and manage the content-addressed graph cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

CacheOption = Annotated[
    Path | None, typer.Option("--cache", help="Cache directory (default: $TIERBENCH_CACHE or .tierbench/cache).")
]


@cache_app.command("info")
def cache_info(cache: CacheOption = None) -> None:
    """Entries and size per tier."""
    from tierbench.featurization.cache import open_cache

    graph_cache = open_cache(cache)
    summary = graph_cache.info()
    typer.echo(f"cache: {graph_cache.root.resolve()}")
    if not summary:
        typer.echo("empty")
        return
    typer.echo(f"{'tier':<14}{'graphs':>10}{'failures':>10}{'MiB':>10}")
    for tier_name, counts in sorted(summary.items()):
        typer.echo(f"{tier_name:<14}{counts['graphs']:>10}{counts['failures']:>10}{counts['bytes'] / 2**20:>10.2f}")


@cache_app.command("verify")
def cache_verify(cache: CacheOption = None) -> None:
    """Check every entry's checksum; remove corrupt entries so they are rebuilt."""
    from tierbench.featurization.cache import open_cache

    intact, corrupt = open_cache(cache).verify()
    typer.echo(f"{intact} intact, {corrupt} corrupt (removed)")


@cache_app.command("clear")
def cache_clear(
    cache: CacheOption = None,
    tier: Annotated[str | None, typer.Option("--tier", help="Clear only this tier's entries.")] = None,
) -> None:
    """Delete cached graphs (all, or one tier's)."""
    from tierbench.featurization.cache import open_cache

    removed = open_cache(cache).clear(tier)
    typer.echo(f"removed {removed} entries")
