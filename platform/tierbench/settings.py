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
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


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
