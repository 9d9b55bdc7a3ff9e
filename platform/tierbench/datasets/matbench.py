"""Matbench task files as matminer downloads them (``matbench_*.json.gz``).

The file is a pandas DataFrame in ``split`` orient — ``{"index": [...], "columns": [...], "data":
[[...], ...]}`` — whose ``structure`` column holds pymatgen ``Structure.as_dict()`` payloads and whose
other column is the target. Sample ids follow matbench (``matbench.data_ops.load``): the prefix
``mb-<task>`` and the 1-based row index zero-padded to the digits of the row count, e.g.
``mb-mp-gap-000001``. The source index of a sample is its row in the file, which is what matbench's
folds (:func:`tierbench.datasets.splits.matbench_folds`) refer to.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tierbench.config.base import TaskType
from tierbench.config.dataset import DatasetSpec
from tierbench.datasets.matbench_tasks import MATBENCH_COMPOSITION_TASKS, MATBENCH_STRUCTURE_TASKS
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.source import SourceData, read_text
from tierbench.datasets.table import SiteArrays, TableBuilder
from tierbench.errors import InvalidStructureError, Reason

SPLIT_ORIENT_KEYS = {"index", "columns", "data"}
STRUCTURE_COLUMN = "structure"


def task_name(path: Path) -> str:
    """``matbench_mp_gap`` for ``.../matbench_mp_gap.json.gz``."""
    return path.name.split(".")[0]


def matbench_ids(name: str, index: list[Any]) -> list[str]:
    """Matbench's sample ids for a file's index (``matbench.data_ops.load``)."""
    prefix = name.replace("matbench", "mb").replace("_", "-")
    digits = math.floor(math.log10(len(index))) + 1 if index else 1
    return [f"{prefix}-{value + 1:0{digits}d}" if isinstance(value, int) else str(value) for value in index]


def _load_frame(path: Path) -> dict[str, Any]:
    payload = json.loads(read_text(path))
    if not isinstance(payload, dict) or set(payload) != SPLIT_ORIENT_KEYS:
        found = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path.name} is not a pandas 'split'-orient table (keys {found}); is it a matbench file?")
    name = task_name(path)
    if STRUCTURE_COLUMN not in payload["columns"]:
        detail = " (a composition-only matbench task)" if name in MATBENCH_COMPOSITION_TASKS else ""
        raise ValueError(f"{path.name} has no '{STRUCTURE_COLUMN}' column{detail}; tiers need structures")
    return payload


def read_matbench(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read a matbench task file.

    Args:
        path: ``matbench_<task>.json.gz`` (or ``.json``/``.json.bz2``).
        spec: Units for targets of files that are not Matbench v0.1 tasks come from ``spec.units``.
    """
    if path is None:
        raise ValueError("matbench needs a path")
    frame = _load_frame(path)
    columns: list[str] = frame["columns"]
    structure_column = columns.index(STRUCTURE_COLUMN)
    builder = TableBuilder(periodic=True)
    report = QuarantineReport()
    for position, (sample_id, row) in enumerate(
        zip(matbench_ids(task_name(path), frame["index"]), frame["data"], strict=True)
    ):
        try:
            sites = SiteArrays.from_pymatgen_dict(row[structure_column])
        except InvalidStructureError as error:
            report.add(position, sample_id, error)
            continue
        except (KeyError, TypeError, ValueError, IndexError) as error:
            report.add(
                position, sample_id, InvalidStructureError(f"structure dict: {error}", reason=Reason.UNPARSEABLE)
            )
            continue
        targets = {name: value for name, value in zip(columns, row, strict=True) if name != STRUCTURE_COLUMN}
        builder.add(position, sample_id, sites, targets)
    table, hints = builder.build()
    task = MATBENCH_STRUCTURE_TASKS.get(task_name(path))
    known_units = {task.target: task.unit} if task is not None else {}
    task_types: dict[str, TaskType] = {**hints, **({task.target: task.task_type} if task is not None else {})}
    return SourceData(table, report, known_units, task_types, str(path))
