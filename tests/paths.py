"""Where the repository's folders are, for tests that read shipped files or start processes."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
DATA_DIR = TESTS_DIR / "data"
EXAMPLE_PLUGIN_DIR = REPO_ROOT / "tiers" / "examples" / "voronoi"
