"""Shared pieces of the performance benchmarks: data, clocks, timing statistics, measurements, result files.

Every benchmark returns (and with ``--json`` writes) a result holding ``measurements``: rows built by
:func:`measurement`, each with tierbench's figure, the anchor's figure from the same run on the same
inputs, their ratio and the target, which ``run_all.py`` turns into ``REPORT.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tierbench.datasets import Dataset

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPARISONS = {"<=": "≤", ">=": "≥"}
PROFILE_ENV = "TIERBENCH_PERF_PROFILE"
"""When set, :func:`profiled` writes a cProfile dump of the measured part of a benchmark to this file."""
_PROFILE_TARGET = os.environ.pop(PROFILE_ENV, None)  # read once: processes a benchmark starts do not inherit it


def argument_parser(description: str, quick_help: str) -> argparse.ArgumentParser:
    """A benchmark's command line: ``--quick`` and ``--json PATH``; the script adds its own options."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--json", type=Path, help="write the result here")
    return parser


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


def load(spec: Mapping[str, Any]) -> Dataset:
    """A dataset of the catalog (``qm9``, ``qm9_10k``, ``mp_mtcgcnn`` …) through :func:`tierbench.load_dataset`."""
    require_datasets()
    from tierbench.datasets.loader import load_dataset

    return load_dataset(spec)


@contextmanager
def profiled() -> Iterator[None]:
    """Profile the block (a benchmark's measurements, without data loading) when ``$TIERBENCH_PERF_PROFILE`` is set.

    ``run_all.py`` sets it on the rerun of a benchmark that missed a target; the block runs once per process.
    """
    if not _PROFILE_TARGET:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(_PROFILE_TARGET)


def cpu_seconds(function: Callable[[], object]) -> float:
    """CPU seconds of this process spent in one call (load from other processes barely counts)."""
    start = time.process_time()
    function()
    return time.process_time() - start


def seconds_per_call(
    function: Callable[[], object], calls: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Mean seconds of ``calls`` back-to-back calls, on ``clock``."""
    start = clock()
    for _ in range(calls):
        function()
    return (clock() - start) / calls


def spread(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """Median, minimum and maximum of repeated measurements (times ``scale``, e.g. 1e3 for ms)."""
    return {
        "median": statistics.median(values) * scale,
        "min": min(values) * scale,
        "max": max(values) * scale,
        "repeats": len(values),
    }


def measurement(
    name: str,
    *,
    unit: str,
    tierbench: Sequence[float] | float,
    anchor: Sequence[float] | float | None = None,
    anchor_name: str | None = None,
    ratio: float | None = None,
    ratio_meaning: str = "tierbench / anchor",
    target: tuple[str, str, float] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row of the report.

    Args:
        name: What is measured, e.g. ``"20-atom cells, build time"``.
        unit: Unit of ``tierbench`` and ``anchor``.
        tierbench: tierbench's figure, or its repeats.
        anchor: The anchor's figure (or repeats) from the same run on the same inputs.
        anchor_name: What the anchor is.
        ratio: The ratio compared with the target; default: median tierbench / median anchor.
        ratio_meaning: How ``ratio`` is formed.
        target: ``(quantity, comparison, bound)`` with quantity ``"ratio"`` or ``"tierbench"`` and
            comparison ``"<="`` or ``">="``, e.g. ``("ratio", "<=", 1.5)``.
        note: Anything a reader needs to read the row right.
    """
    row: dict[str, Any] = {"name": name, "unit": unit, "tierbench": _figures(tierbench), "note": note}
    if anchor is not None:
        row["anchor"] = _figures(anchor)
        row["anchor_name"] = anchor_name
        if ratio is None:
            ratio = row["tierbench"]["median"] / row["anchor"]["median"]
    if ratio is not None:
        row["ratio"] = ratio
        row["ratio_meaning"] = ratio_meaning
    if target is not None:
        quantity, comparison, bound = target
        value = ratio if quantity == "ratio" else row["tierbench"]["median"]
        label = "ratio" if quantity == "ratio" else unit
        met = value is not None and (value <= bound if comparison == "<=" else value >= bound)
        row["target"] = {"of": quantity, "comparison": comparison, "bound": bound, "met": met}
        row["target_text"] = f"{COMPARISONS[comparison]} {bound:g}" + ("×" if label == "ratio" else f" {unit}")
    return row


def _figures(values: Sequence[float] | float) -> dict[str, float]:
    return spread([float(values)]) if isinstance(values, int | float) else spread(values)


def load_average() -> float:
    """One-minute load average of the machine."""
    return os.getloadavg()[0]


def machine() -> dict[str, Any]:
    """CPU count and processor of this machine, and the GPU when torch sees one."""
    import torch

    found: dict[str, Any] = {"cpus": os.cpu_count(), "processor": _processor()}
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name(0)
    return found


def _processor() -> str:
    """The CPU model (Linux ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def write_json(path: Path | None, result: dict[str, Any]) -> None:
    """Write a benchmark's result when a path was given."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str))
