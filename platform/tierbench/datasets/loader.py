"""``load_dataset``: spec → adapter → derived targets → quarantine → filters → seeded subset."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tierbench.config.base import TaskType
from tierbench.config.dataset import DatasetSpec
from tierbench.datasets import units
from tierbench.datasets.catalog import effective_spec, resolve_path
from tierbench.datasets.dataset import Dataset, DatasetInfo
from tierbench.datasets.filters import SelectionStep, apply_filters
from tierbench.datasets.quarantine import screen_table, screen_targets
from tierbench.datasets.source import SourceData

READERS = {
    "qm9": "tierbench.datasets.qm9:read_qm9",
    "mp_jsonl": "tierbench.datasets.mp_jsonl:read_mp_jsonl",
    "matbench": "tierbench.datasets.matbench:read_matbench",
    "cif_folder": "tierbench.datasets.cif_folder:read_cif_folder",
    "extxyz": "tierbench.datasets.extxyz:read_extxyz",
    "ase_db": "tierbench.datasets.extxyz:read_ase_db",
}
"""Format → ``module:function`` reading it (imported on first use)."""

Reader = Callable[[Path | None, DatasetSpec], SourceData]


def _reader(dataset_format: str) -> Reader:
    module_name, _, function = READERS[dataset_format].partition(":")
    reader: Reader = getattr(importlib.import_module(module_name), function)
    return reader


def _derive(source: SourceData, spec: DatasetSpec) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Targets after ``differences`` and ``convert_units``, with their units."""
    targets = dict(source.table.targets)
    target_units = dict.fromkeys(targets, units.UNSPECIFIED) | source.units | spec.units
    for name, (first, second) in spec.differences.items():
        for operand in (first, second):
            if operand not in targets:
                raise ValueError(f"difference {name!r} needs target {operand!r}; the source has {', '.join(targets)}")
        if target_units[first] != target_units[second]:
            raise ValueError(
                f"difference {name!r}: {first} is in {target_units[first]} but {second} in {target_units[second]}"
            )
        targets[name] = targets[first] - targets[second]
        target_units[name] = target_units[first]
    for name, (source_target, threshold) in spec.at_most.items():
        if source_target not in targets:
            raise ValueError(f"at_most {name!r} needs target {source_target!r}; the source has {', '.join(targets)}")
        values = targets[source_target]
        targets[name] = np.where(np.isnan(values), np.nan, (values <= threshold).astype(float))
        target_units[name] = units.LABEL
    for name, unit in spec.convert_units.items():
        if name not in targets:
            raise ValueError(f"convert_units names {name!r}, which is not a target ({', '.join(targets)})")
        targets[name] = units.convert(targets[name], target_units[name], unit)
        target_units[name] = unit
    return targets, {name: target_units[name] for name in targets}


def _requested_targets(spec: DatasetSpec, available: dict[str, np.ndarray]) -> list[str]:
    requested = list(spec.targets) if spec.targets is not None else list(available)
    unknown = [name for name in [*requested, *spec.filters.target_range] if name not in available]
    if unknown:
        raise ValueError(f"{spec.name} has no target {', '.join(map(repr, unknown))}; it has {', '.join(available)}")
    return requested


def load_dataset(spec: DatasetSpec | Mapping[str, Any]) -> Dataset:
    """Load a dataset described by a spec (a suite's dataset entry, a dict or a :class:`DatasetSpec`).

    Steps: read the source with its format's adapter; derive targets (differences, unit conversions);
    quarantine rows that fail validation; apply filters; draw the seeded subset.

    Args:
        spec: E.g. ``{"name": "qm9", "size": 3000, "targets": ["gap"]}``.

    Returns:
        The dataset, with units, task types, quarantine report and selection steps in ``info``.

    Raises:
        pydantic.ValidationError: The spec has unknown or ill-typed keys.
        ValueError: Unknown dataset, format or target; a subset larger than what remains.
        FileNotFoundError: The source file or folder does not exist.
    """
    start = time.perf_counter()
    requested = spec if isinstance(spec, DatasetSpec) else DatasetSpec.model_validate(spec)
    effective, _ = effective_spec(requested)
    if effective.format is None:
        raise ValueError(f"{effective.name}: no format")
    if effective.path is None and effective.format != "qm9":
        raise ValueError(f"{effective.name}: format {effective.format!r} needs a path")
    path = resolve_path(effective.path) if effective.path is not None else None
    source = _reader(effective.format)(path, effective)
    targets, target_units = _derive(source, effective)
    names = _requested_targets(effective, targets)
    table = source.table.with_targets(targets)
    report = source.quarantine
    source_rows = len(table) + len(report)
    required = list(effective.targets or ())  # only the targets a spec names must be present
    rows = screen_targets(table, screen_table(table, report), required, report)
    steps = [SelectionStep("quarantine", len(report), len(rows))]
    rows, filter_steps = apply_filters(table, rows, effective.filters, required)
    steps.extend(filter_steps)
    if effective.size is not None:
        if effective.size > len(rows):
            raise ValueError(
                f"{effective.name}: size={effective.size} but only {len(rows)} samples remain "
                f"({report.summary()}; filters: {', '.join(f'{s.step} -{s.excluded}' for s in filter_steps) or 'none'})"
            )
        chosen = np.sort(np.random.default_rng(effective.seed).choice(len(rows), effective.size, replace=False))
        steps.append(
            SelectionStep(f"size={effective.size} (seed {effective.seed})", len(rows) - len(chosen), len(chosen))
        )
        rows = rows[chosen]
    selected = table.take(rows)
    selected = selected.with_targets({name: selected.targets[name] for name in names})
    task_types: dict[str, TaskType] = {
        name: effective.task_types.get(name)
        or ("classification" if name in effective.at_most else source.task_types.get(name, "regression"))
        for name in names
    }
    info = DatasetInfo(
        name=effective.name,
        spec=effective,
        source=source.source,
        source_rows=source_rows,
        units={name: target_units[name] for name in names},
        task_types=task_types,
        quarantine=report,
        selection=tuple(steps),
        load_seconds=time.perf_counter() - start,
    )
    return Dataset(selected, info)
