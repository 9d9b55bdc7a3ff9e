"""Named datasets: where each lives, its format, and the spec defaults that make it load correctly.

A suite names a catalog entry (``{"name": "mp_mtcgcnn", "targets": ["band_gap"]}``) instead of
repeating its path, id field and units. Fields the suite sets override the entry's defaults (maps
such as ``units`` are merged key by key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierbench import settings
from tierbench.config.dataset import FORMATS, DatasetFormat, DatasetSpec
from tierbench.datasets import units
from tierbench.datasets.matbench_tasks import MATBENCH_STRUCTURE_TASKS

LOCAL_DATA_HOME = Path(".tierbench") / "datasets"
"""Where datasets live when ``$TIERBENCH_DATASETS`` is not set (``tierbench data fetch`` writes here)."""

QM9_TARGETS = ("A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv")
QM9_SOURCE_UNITS = {
    "A": units.GHZ,
    "B": units.GHZ,
    "C": units.GHZ,
    "mu": units.DEBYE,
    "alpha": units.BOHR3,
    "homo": units.HARTREE,
    "lumo": units.HARTREE,
    "gap": units.HARTREE,
    "r2": units.BOHR2,
    "zpve": units.HARTREE,
    "U0": units.HARTREE,
    "U": units.HARTREE,
    "H": units.HARTREE,
    "G": units.HARTREE,
    "Cv": units.CAL_PER_MOL_K,
}
"""Units of the QM9 properties as the QM9 files store them."""

QM9_ENERGIES = ("homo", "lumo", "gap", "zpve", "U0", "U", "H", "G")
QM9_ATOMIZED = ("U0", "U", "H", "G")
ATOMIZATION_SUFFIX = "_atom"
QM9_UNITS = {
    **{name: units.EV if name in QM9_ENERGIES else unit for name, unit in QM9_SOURCE_UNITS.items()},
    **{kind + ATOMIZATION_SUFFIX: units.EV for kind in QM9_ATOMIZED},
}
"""Units of the targets that the ``qm9`` dataset yields (energies converted to eV)."""


@dataclass(frozen=True)
class CatalogEntry:
    """A named dataset.

    Attributes:
        name: Catalog name.
        format: Adapter that reads it.
        path: Default location, relative to the data home (``None``: embedded).
        size: Samples in the source.
        description: One line.
        source: Provenance and citation.
        targets: Target → unit, as loaded by default.
        defaults: Spec fields this dataset needs (id field, units, conversions, derived targets).
    """

    name: str
    format: DatasetFormat
    path: str | None
    size: int
    description: str
    source: str
    targets: dict[str, str]
    defaults: dict[str, Any] = field(default_factory=dict)


def _matbench_entry(name: str) -> CatalogEntry:
    task = MATBENCH_STRUCTURE_TASKS[name]
    return CatalogEntry(
        name=name,
        format="matbench",
        path=f"matbench/{name}.json.gz",
        size=task.size,
        description=f"Matbench v0.1 {task.task_type} task: {task.target} [{task.unit}] from structure",
        source="Dunn et al., npj Comput. Mater. 6, 138 (2020); download with `tierbench data fetch " + name + "`",
        targets={task.target: task.unit},
    )


CATALOG: dict[str, CatalogEntry] = {
    "qm9": CatalogEntry(
        name="qm9",
        format="qm9",
        path=None,
        size=130831,
        description="QM9 small organic molecules (H, C, N, O, F), B3LYP/6-31G(2df,p); energies in eV",
        source="embedded via PyPI qm9pack; Ramakrishnan et al., Sci. Data 1, 140022 (2014), CC0",
        targets=QM9_UNITS,
    ),
    "mp_mtcgcnn": CatalogEntry(
        name="mp_mtcgcnn",
        format="mp_jsonl",
        path="mp_mtcgcnn/mp_mtcgcnn.jsonl.gz",
        size=33064,
        description="Materials Project crystals (PBE/PBE+U): band gap, formation energy, E_fermi, …",
        source="MT-CGCNN data (Sanyal et al., arXiv:1811.05660); Materials Project, CC BY 4.0",
        targets={
            name: units.MATERIALS_PROJECT_UNITS[name]
            for name in ("formation_energy_per_atom", "band_gap", "efermi", "volume", "total_magnetization")
        },
        defaults={"id_key": "mp_id"},
    ),
    "qm9_10k": CatalogEntry(
        name="qm9_10k",
        format="extxyz",
        path="qm9_10k/qm9_10k.extxyz.gz",
        size=10000,
        description="10,000 QM9 molecules (seeded subset of qm9); energies converted from Ha to eV",
        source="qm9pack 1.0.3 subset, default_rng(0); Ramakrishnan et al., Sci. Data 1, 140022 (2014)",
        targets={name: QM9_UNITS[name] for name in QM9_SOURCE_UNITS},
        defaults={
            "id_key": "gdb_idx",
            "units": QM9_SOURCE_UNITS,
            "convert_units": dict.fromkeys(QM9_ENERGIES, units.EV),
        },
    ),
    "qm7_pbe0": CatalogEntry(
        name="qm7_pbe0",
        format="extxyz",
        path="qm7_pbe0/qm7_pbe0.extxyz.gz",
        size=7101,
        description="QM7 molecules: PBE0 and DFTB3 atomization energies and their difference (Δ-learning)",
        source="qmlcode/tutorial (MIT); Rupp et al., PRL 108, 058301 (2012)",
        targets=dict.fromkeys(
            ("E_atomization_pbe0_kcalmol", "E_atomization_dftb3_kcalmol", "E_atomization_delta_kcalmol"),
            units.KCAL_PER_MOL,
        ),
        defaults={
            "id_key": "name",
            "units": {
                "E_atomization_pbe0_kcalmol": units.KCAL_PER_MOL,
                "E_atomization_dftb3_kcalmol": units.KCAL_PER_MOL,
            },
            "differences": {
                "E_atomization_delta_kcalmol": ("E_atomization_pbe0_kcalmol", "E_atomization_dftb3_kcalmol")
            },
        },
    ),
    **{name: _matbench_entry(name) for name in MATBENCH_STRUCTURE_TASKS},
}

MERGED_FIELDS = ("units", "convert_units", "differences", "at_most", "task_types")


def effective_spec(spec: DatasetSpec) -> tuple[DatasetSpec, CatalogEntry | None]:
    """The spec with its catalog entry's defaults filled in.

    Raises:
        ValueError: The name is neither a catalog entry nor a format, and no ``format`` is given.
    """
    entry = CATALOG.get(spec.name)
    if entry is None:
        if spec.format is None and spec.name not in FORMATS:
            raise ValueError(
                f"unknown dataset {spec.name!r}: use a catalog name ({', '.join(CATALOG)}), a format name "
                f"({', '.join(FORMATS)}) with a path, or set format"
            )
        return spec.model_copy(update={"format": spec.format or spec.name}), None
    values: dict[str, Any] = {"format": entry.format, "path": entry.path, **entry.defaults}
    for name in spec.model_fields_set:
        given = getattr(spec, name)
        values[name] = {**values.get(name, {}), **given} if name in MERGED_FIELDS else given
    return DatasetSpec.model_validate({**spec.model_dump(), **values}), entry


def data_home() -> Path:
    """``$TIERBENCH_DATASETS``, else ``.tierbench/datasets`` in the working directory."""
    return settings.datasets_dir() or LOCAL_DATA_HOME


def resolve_path(path: str) -> Path:
    """A dataset path: absolute as given; relative against the data home, then the working directory.

    Raises:
        FileNotFoundError: Neither location exists; the message names both and the setting.
    """
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        if not candidate.exists():
            raise FileNotFoundError(f"dataset path {candidate} does not exist")
        return candidate
    tried = [data_home() / candidate, candidate]
    for option in tried:
        if option.exists():
            return option
    raise FileNotFoundError(
        f"dataset path {path!r} not found (tried {', '.join(str(option) for option in tried)}); set "
        "TIERBENCH_DATASETS to the folder that holds it, or give an absolute path"
    )
