"""Locations that users can change through environment variables.

``TIERBENCH_CACHE``: graph cache directory (default ``.tierbench/cache`` in the working directory).
``TIERBENCH_DATASETS``: folder holding external datasets (e.g. ``mp_mtcgcnn/``), used to resolve
relative dataset paths in suites.
``MLFLOW_TRACKING_URI``: MLflow store (default ``sqlite:///mlflow.db`` in the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_DIR = Path(".tierbench") / "cache"
DEFAULT_STORAGE = Path(".tierbench") / "runs"
"""Checkpoints of trials, unless a suite names its ``storage``."""
SQLITE_PREFIX = "sqlite:///"
DEFAULT_TRACKING_URI = f"{SQLITE_PREFIX}mlflow.db"


def cache_dir() -> Path:
    """Directory of the content-addressed graph cache."""
    return Path(os.environ.get("TIERBENCH_CACHE", DEFAULT_CACHE_DIR)).expanduser()


def datasets_dir() -> Path | None:
    """Folder of external datasets, or ``None`` when ``TIERBENCH_DATASETS`` is not set."""
    value = os.environ.get("TIERBENCH_DATASETS")
    return Path(value).expanduser() if value else None


def tracking_uri() -> str:
    """MLflow tracking URI."""
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI)


def sqlite_path(tracking_uri: str) -> Path | None:
    """The file of a ``sqlite:///`` tracking URI (``None`` for other stores and in-memory sqlite)."""
    if not tracking_uri.startswith(SQLITE_PREFIX):
        return None
    location = tracking_uri.removeprefix(SQLITE_PREFIX).partition("?")[0]
    return Path(location).expanduser() if location and location != ":memory:" else None


def store_exists(tracking_uri: str) -> bool:
    """Whether the store may hold runs: ``False`` only for a sqlite file that does not exist yet."""
    path = sqlite_path(tracking_uri)
    return path is None or path.exists()
