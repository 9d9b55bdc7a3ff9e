"""The ``tierbench`` command line.

Each command group lives in its own module and registers itself on :data:`app`.
"""

from __future__ import annotations

from tierbench.cli import cache_commands, cluster_commands, tier_commands  # noqa: F401  (registration)
from tierbench.cli.main import app

__all__ = ["app"]
