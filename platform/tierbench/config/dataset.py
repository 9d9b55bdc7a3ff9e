"""What a suite (or a caller) asks for: one dataset, its targets, a seeded subset and filters.

The same keys work in a suite YAML entry and in a dict passed to :func:`tierbench.load_dataset`::

    {"name": "qm9", "size": 3000, "targets": ["gap"]}
    {"name": "mp_mtcgcnn", "targets": ["band_gap"], "filters": {"elements_all": ["O"], "any_metal": true}}
    {"name": "mine", "format": "cif_folder", "path": "my_cifs", "units": {"target": "eV"}}
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from tierbench.config.base import StrictModel, TaskType

DatasetFormat = Literal["qm9", "mp_jsonl", "matbench", "cif_folder", "extxyz", "ase_db"]
FORMATS: tuple[str, ...] = ("qm9", "mp_jsonl", "matbench", "cif_folder", "extxyz", "ase_db")


def _check_elements(symbols: tuple[str, ...]) -> tuple[str, ...]:
    from pymatgen.core import Element

    unknown = [symbol for symbol in symbols if not Element.is_valid_symbol(symbol)]
    if unknown:
        raise ValueError(f"not element symbols: {', '.join(unknown)}")
    return symbols


class FilterSpec(StrictModel):
    """Which samples to keep. Every filter is optional; filters combine with AND.

    Attributes:
        elements_all: Keep structures that contain every one of these elements.
        elements_any: Keep structures that contain at least one of these elements.
        elements_none: Drop structures that contain any of these elements.
        elements_only: Keep structures made only of these elements.
        any_metal: ``True``: keep structures with at least one metal (pymatgen ``Element.is_metal``);
            ``False``: keep metal-free ones. With ``elements_all: [O]`` this is the AMDNet metal-oxide set.
        min_atoms: Keep structures with at least this many sites.
        max_atoms: Keep structures with at most this many sites.
        periodic: ``True``: crystals only; ``False``: molecules only.
        targets_present: Keep only samples that have a value for every target the spec names in
            ``targets``. With ``False`` (or when the spec names no targets), samples missing a target are
            kept and their ``Sample.targets`` lacks that key.
        target_range: Target name → ``[low, high]`` (inclusive; ``null`` for open), e.g.
            ``{"band_gap": [0.001, null]}`` for non-metals.
    """

    elements_all: tuple[str, ...] = ()
    elements_any: tuple[str, ...] = ()
    elements_none: tuple[str, ...] = ()
    elements_only: tuple[str, ...] | None = None
    any_metal: bool | None = None
    min_atoms: PositiveInt | None = None
    max_atoms: PositiveInt | None = None
    periodic: bool | None = None
    targets_present: bool = True
    target_range: dict[str, tuple[float | None, float | None]] = Field(default_factory=dict)

    @field_validator("elements_all", "elements_any", "elements_none")
    @classmethod
    def _known_elements(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        return _check_elements(symbols)

    @field_validator("elements_only")
    @classmethod
    def _known_elements_only(cls, symbols: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if symbols is None else _check_elements(symbols)

    @model_validator(mode="after")
    def _consistent_bounds(self) -> FilterSpec:
        if self.min_atoms is not None and self.max_atoms is not None and self.min_atoms > self.max_atoms:
            raise ValueError(f"min_atoms ({self.min_atoms}) is larger than max_atoms ({self.max_atoms})")
        for name, (low, high) in self.target_range.items():
            if low is not None and high is not None and low > high:
                raise ValueError(f"target_range for {name!r}: low {low} is above high {high}")
        return self


class DatasetSpec(StrictModel):
    """One dataset entry of a suite.

    Attributes:
        name: A catalog name (``qm9``, ``mp_mtcgcnn``, ``qm9_10k``, ``qm7_pbe0``, ``matbench_mp_gap`` …),
            a format name used directly (then ``path`` is needed), or any label when ``format`` is given.
        format: Adapter that reads the source; defaults to the catalog entry's or to ``name``.
        path: File or folder. Relative paths resolve against ``$TIERBENCH_DATASETS`` (or
            ``.tierbench/datasets`` when unset), then against the working directory.
        targets: Targets to load (default: every target the source has).
        size: Seeded subset size, drawn from the samples that pass validation and filters as
            ``numpy.random.default_rng(seed).choice(n_eligible, size, replace=False)``, kept in source order.
        seed: Seed of that draw.
        filters: See :class:`FilterSpec`.
        id_key: Field that holds the sample id (JSON-lines key, extxyz/ASE-db info key).
        columns: Names of the value columns of a CGCNN ``id_prop.csv`` without a header.
        units: Target → unit of the source values, for targets the format does not document.
        convert_units: Target → unit to convert to (energies, see :mod:`tierbench.datasets.units`).
        differences: New target → ``[a, b]``: the derived target ``a - b`` (same unit), e.g. a
            Δ-learning target such as PBE0 minus DFTB3 atomization energy.
        at_most: New target → ``[source, threshold]``: the class label 1 where ``source ≤ threshold``,
            else 0 — e.g. ``{is_metal: [band_gap, 0.0]}`` for metal vs non-metal. Its task type is
            classification.
        task_types: Target → ``regression`` or ``classification``, overriding the format's hint.
    """

    name: str = Field(min_length=1)
    format: DatasetFormat | None = None
    path: str | None = None
    targets: tuple[str, ...] | None = None
    size: PositiveInt | None = None
    seed: int = 0
    filters: FilterSpec = Field(default_factory=FilterSpec)
    id_key: str | None = None
    columns: tuple[str, ...] | None = None
    units: dict[str, str] = Field(default_factory=dict)
    convert_units: dict[str, str] = Field(default_factory=dict)
    differences: dict[str, tuple[str, str]] = Field(default_factory=dict)
    at_most: dict[str, tuple[str, float]] = Field(default_factory=dict)
    task_types: dict[str, TaskType] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _distinct_targets(cls, targets: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if targets is not None:
            if not targets:
                raise ValueError("targets is empty: name at least one target or leave it out for all")
            repeated = sorted({name for name in targets if targets.count(name) > 1})
            if repeated:
                raise ValueError(f"targets repeated: {', '.join(repeated)}")
        return targets
