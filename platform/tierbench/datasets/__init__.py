"""Datasets behind one function, :func:`load_dataset`.

Adapters read QM9 (embedded), Materials Project JSON-lines, matbench files, CIF folders, extxyz files and
ASE databases. Every dataset is a sized, indexable sequence of :class:`tierbench.structures.Sample` with targets in
stated units, a content fingerprint (which keys its splits) and a quarantine report of the rows that
were rejected and why.
"""

from __future__ import annotations

from tierbench.config.dataset import FORMATS, DatasetSpec, FilterSpec
from tierbench.datasets.catalog import CATALOG, CatalogEntry, data_home, resolve_path
from tierbench.datasets.dataset import Dataset, DatasetInfo
from tierbench.datasets.filters import SelectionStep
from tierbench.datasets.loader import READERS, load_dataset
from tierbench.datasets.quarantine import QuarantinedRow, QuarantineReport

__all__ = [
    "CATALOG",
    "FORMATS",
    "READERS",
    "CatalogEntry",
    "Dataset",
    "DatasetInfo",
    "DatasetSpec",
    "FilterSpec",
    "QuarantineReport",
    "QuarantinedRow",
    "SelectionStep",
    "data_home",
    "load_dataset",
    "resolve_path",
]
