"""The ``tierbench`` command line.

Each command group lives in its own module and registers itself on :data:`app`.
"""

from __future__ import annotations

from tierbench.cli import (  # noqa: F401  (registration)
    bench_commands,
    cache_commands,
    cluster_commands,
    compare_commands,
    data_commands,
    featurize_commands,
    tier_commands,
)
from tierbench.cli.main import app

__all__ = ["app"]
