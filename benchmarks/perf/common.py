"""Shared pieces of the performance benchmarks: data, timing statistics, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def datasets_dir() -> Path | None:
    """``$TIERBENCH_DATASETS``, else ``../shared/datasets`` beside the checkout, else ``None``."""
    configured = os.environ.get("TIERBENCH_DATASETS")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets"
    return root if (root / "mp_mtcgcnn").is_dir() else None


def require_datasets() -> Path:
    """The datasets folder, exported as ``TIERBENCH_DATASETS``; exits with the reason when absent."""
    root = datasets_dir()
    if root is None:
        raise SystemExit("datasets not found: set TIERBENCH_DATASETS to the folder holding mp_mtcgcnn/ and qm9_10k/")
    os.environ["TIERBENCH_DATASETS"] = str(root)
    return root


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "repeats": len(values)}


def machine() -> dict[str, Any]:
    """CPU count and processor of this machine, and the GPU when torch sees one."""
    import torch

    found: dict[str, Any] = {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name(0)
    return found


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """Write a benchmark's result when a path was given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str))
