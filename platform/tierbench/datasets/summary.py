"""Summary statistics of a dataset (targets, elements, structure sizes), computed from its arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymatgen.core import Element

from tierbench.datasets.dataset import Dataset

PERCENTILES = (5, 25, 50, 75, 95)
SIZE_BINS = 10


def target_statistics(dataset: Dataset) -> dict[str, dict[str, Any]]:
    """Per target: unit, task type, counts and either moments and percentiles or class counts."""
    statistics: dict[str, dict[str, Any]] = {}
    for name in dataset.target_names:
        values = dataset.target_values(name)
        present = values[np.isfinite(values)]
        entry: dict[str, Any] = {
            "unit": dataset.units[name],
            "task": dataset.task_types[name],
            "count": int(present.size),
            "missing": int(values.size - present.size),
        }
        if dataset.task_types[name] == "classification":
            classes, counts = np.unique(present, return_counts=True)
            entry["classes"] = {f"{value:g}": int(count) for value, count in zip(classes, counts, strict=True)}
        elif present.size:
            entry.update(mean=float(present.mean()), std=float(present.std()), min=float(present.min()))
            entry.update(
                {f"p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(present, PERCENTILES), strict=True)}
            )
            entry["max"] = float(present.max())
        statistics[name] = entry
    return statistics


def element_histogram(dataset: Dataset) -> dict[str, int]:
    """Element → number of samples that contain it, most common first."""
    table = dataset.table
    pairs = np.unique(table.owners().astype(np.int64) * 256 + table.numbers.astype(np.int64))
    numbers, counts = np.unique(pairs % 256, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {Element.from_Z(int(numbers[i])).symbol: int(counts[i]) for i in order}


def size_distribution(dataset: Dataset, bins: int = SIZE_BINS) -> dict[str, Any]:
    """Sites per structure: min, median, mean, max and a histogram of ``[low, high)`` bins of equal width."""
    counts = dataset.table.site_counts()
    if counts.size == 0:
        return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0, "histogram": []}
    low, high = int(counts.min()), int(counts.max()) + 1
    width = -(-(high - low) // bins)  # whole numbers of sites per bin
    edges = np.arange(low, high + width, width)
    frequencies, _ = np.histogram(counts, bins=edges)
    return {
        "min": low,
        "median": float(np.median(counts)),
        "mean": float(counts.mean()),
        "max": high - 1,
        "histogram": [[int(a), int(b), int(n)] for a, b, n in zip(edges[:-1], edges[1:], frequencies, strict=True)],
    }


def summarize(dataset: Dataset) -> dict[str, Any]:
    """Everything ``tierbench data show`` prints, as JSON-able data."""
    info = dataset.info
    return {
        "name": dataset.name,
        "format": info.spec.format,
        "source": info.source,
        "kind": "crystals" if dataset.periodic else "molecules",
        "samples": len(dataset),
        "source_rows": info.source_rows,
        "load_seconds": round(info.load_seconds, 3),
        "fingerprint": dataset.fingerprint,
        "quarantine": dataset.quarantine.to_dict(),
        "selection": [{"step": s.step, "excluded": s.excluded, "remaining": s.remaining} for s in info.selection],
        "targets": target_statistics(dataset),
        "elements": element_histogram(dataset),
        "sites": size_distribution(dataset),
    }
