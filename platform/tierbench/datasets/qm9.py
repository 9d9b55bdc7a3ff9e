"""QM9, embedded: 130,831 molecules read from the CSVs that the PyPI package ``qm9pack`` ships.

``qm9pack`` is located with :func:`importlib.util.find_spec` and never imported (its ``__init__``
imports ``pkg_resources``, which current setuptools no longer provides). The files
``qm9pack/data/qm9_part{1,2,3}.csv`` hold QM9 without the 3,054 molecules that failed the QM9 geometry
consistency check; parts are concatenated in order, and a sample's id is its QM9 index (``gdb_idx``).

Targets (B3LYP/6-31G(2df,p)) and their units here:

=========================  ===========  =======================================================
target                     unit         source column
=========================  ===========  =======================================================
A, B, C                    GHz          rotational constants
mu                         D            dipole moment
alpha                      a0^3         isotropic polarizability
homo, lumo, gap            eV           from Hartree (× 27.211386)
r2                         a0^2         electronic spatial extent
zpve                       eV           zero-point vibrational energy, from Hartree
U0, U, H, G                eV           total energies at 0 K / 298.15 K, from Hartree
Cv                         cal/mol/K    heat capacity at 298.15 K
U0_atom, U_atom,           eV           atomization energies: the total energy minus the sum of the
H_atom, G_atom                          free-atom energies in :data:`ATOM_REFERENCE_HARTREE`
=========================  ===========  =======================================================
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from tierbench.config.dataset import DatasetSpec
from tierbench.datasets import units
from tierbench.datasets.catalog import ATOMIZATION_SUFFIX, QM9_SOURCE_UNITS, QM9_UNITS
from tierbench.datasets.quarantine import QuarantineReport
from tierbench.datasets.source import SourceData
from tierbench.datasets.table import StructureTable, lookup_numbers
from tierbench.errors import InvalidStructureError, Reason

QM9_PARTS = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")

TARGET_COLUMNS = {
    "RotA_GHz": "A",
    "RotB_GHz": "B",
    "RotC_GHz": "C",
    "Dipole_debye": "mu",
    "Polarizability_bohr3": "alpha",
    "HOMO_au": "homo",
    "LUMO_au": "lumo",
    "HOMO_LUMO_gap_au": "gap",
    "R2_bohr2": "r2",
    "ZPVE_au": "zpve",
    "InternalEnergy_0K_au": "U0",
    "InternalEnergy_298K_au": "U",
    "Enthalphy_298K_au": "H",
    "GibbsFreeEnergy_298K_au": "G",
    "Heatcapacity_Cv_cal_mol_K": "Cv",
}
STRUCTURE_COLUMNS = ("Index", "SMILES", "N_atoms", "Elements", "XYZ_Ang")

ATOM_REFERENCE_HARTREE = {
    "U0": {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730},
    "U": {1: -0.498857, 6: -37.845355, 7: -54.582445, 8: -75.063163, 9: -99.717314},
    "H": {1: -0.497912, 6: -37.844411, 7: -54.581501, 8: -75.062219, 9: -99.716370},
    "G": {1: -0.510927, 6: -37.861317, 7: -54.598897, 8: -75.079532, 9: -99.733544},
}
"""Free-atom energies (Hartree) of H, C, N, O, F at B3LYP/6-31G(2df,p), keyed by atomic number.

From the QM9 paper's atomref table: Ramakrishnan, Dral, Rupp, von Lilienfeld, Sci. Data 1, 140022
(2014), figshare "Atomref: Reference thermochemical energies of H, C, N, O, F atoms"
(doi:10.6084/m9.figshare.1057643).
"""

_COORDINATE_DELIMITERS = str.maketrans("[],", "   ")
_ELEMENT_DELIMITERS = str.maketrans("", "", "[]' ")


def qm9_data_dir() -> Path:
    """The ``data`` folder of the installed ``qm9pack`` (found without importing it).

    Raises:
        FileNotFoundError: ``qm9pack`` is not installed.
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("QM9 is embedded through the PyPI package qm9pack: pip install 'qm9pack>=1.0.3'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _read_frame(folder: Path) -> pd.DataFrame:
    missing = [name for name in QM9_PARTS if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}")
    columns = [*STRUCTURE_COLUMNS, *TARGET_COLUMNS]
    frames = [pd.read_csv(folder / name, usecols=columns, dtype={"SMILES": str}) for name in QM9_PARTS]
    return pd.concat(frames, ignore_index=True)


def _count_items(texts: list[str]) -> np.ndarray:
    return np.array([text.count(",") + 1 for text in texts], dtype=np.int64)


def _parse_numbers(texts: list[str], counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All numbers of the coordinate lists, flat, and whether each row parsed.

    Rows that do not parse contribute ``counts[row]`` NaNs, so row boundaries stay ``cumsum(counts)``.
    """
    try:
        values = np.fromstring(" ".join(texts).translate(_COORDINATE_DELIMITERS), sep=" ")
        if values.size == counts.sum():
            return values, np.ones(len(texts), dtype=bool)
    except ValueError:
        pass
    pieces, parsed = [], np.ones(len(texts), dtype=bool)
    for row, text in enumerate(texts):  # only for damaged files: find the rows that do not parse
        try:
            piece = np.fromstring(text.translate(_COORDINATE_DELIMITERS), sep=" ")
        except ValueError:
            piece = np.empty(0)
        if piece.size != counts[row]:
            parsed[row] = False
            piece = np.full(counts[row], np.nan)
        pieces.append(piece)
    return np.concatenate(pieces), parsed


def _parse_sites(frame: pd.DataFrame, report: QuarantineReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that parse, with the atomic numbers and coordinates of their atoms; the rest go to ``report``."""
    element_texts = frame["Elements"].astype(str).tolist()
    coordinate_texts = frame["XYZ_Ang"].astype(str).tolist()
    element_counts = _count_items(element_texts)
    coordinate_counts = _count_items(coordinate_texts)
    numbers = lookup_numbers(",".join(element_texts).translate(_ELEMENT_DELIMITERS).split(","))
    coordinates, parsed = _parse_numbers(coordinate_texts, coordinate_counts)
    unknown = np.bincount(np.repeat(np.arange(len(frame)), element_counts)[numbers == 0], minlength=len(frame)) > 0
    declared = pd.to_numeric(frame["N_atoms"], errors="coerce").to_numpy()
    consistent = (element_counts == declared) & (coordinate_counts == 3 * element_counts)
    valid = parsed & consistent & ~unknown
    for row in np.flatnonzero(~valid):
        if not parsed[row]:
            problem, reason = "coordinates are not a list of numbers", Reason.UNPARSEABLE
        elif not consistent[row]:
            problem = (
                f"N_atoms is {declared[row]}, but there are {element_counts[row]} elements and "
                f"{coordinate_counts[row]} coordinates"
            )
            reason = Reason.UNPARSEABLE
        else:
            problem, reason = f"unknown element in {element_texts[row]}", Reason.UNKNOWN_ELEMENT
        sample_id = str(frame["Index"].iat[row])
        report.add(
            row, sample_id, InvalidStructureError(f"QM9 row {row} (index {sample_id}): {problem}", reason=reason)
        )
    kept_numbers = numbers[np.repeat(valid, element_counts)]
    kept_coordinates = coordinates[np.repeat(valid, coordinate_counts)].reshape(-1, 3)
    return np.flatnonzero(valid), kept_numbers, kept_coordinates


def atomization_energies(
    energies_hartree: np.ndarray, numbers: np.ndarray, owners: np.ndarray, kind: str
) -> np.ndarray:
    """Total energies minus free-atom references, in Hartree (NaN for elements without a reference).

    Args:
        energies_hartree: One total energy per molecule.
        numbers: Atomic numbers of all atoms.
        owners: Molecule of each atom.
        kind: ``U0``, ``U``, ``H`` or ``G``.
    """
    reference = np.full(int(numbers.max(initial=0)) + 1, np.nan)
    for number, energy in ATOM_REFERENCE_HARTREE[kind].items():
        if number < len(reference):
            reference[number] = energy
    return energies_hartree - np.bincount(owners, weights=reference[numbers], minlength=len(energies_hartree))


def read_qm9(path: Path | None, spec: DatasetSpec) -> SourceData:
    """Read QM9 from ``qm9pack`` (or from a folder with the same three CSVs).

    Args:
        path: Folder holding ``qm9_part{1,2,3}.csv``; ``None`` for the installed ``qm9pack``.
        spec: Unused beyond the common options; QM9 needs no id or unit settings.
    """
    folder = path if path is not None else qm9_data_dir()
    frame = _read_frame(folder)
    report = QuarantineReport()
    rows, numbers, coordinates = _parse_sites(frame, report)
    kept = frame.iloc[rows]
    counts = pd.to_numeric(kept["N_atoms"]).to_numpy(np.int64)
    owners = np.repeat(np.arange(len(rows)), counts)
    raw = {
        name: pd.to_numeric(kept[column], errors="coerce").to_numpy(float) for column, name in TARGET_COLUMNS.items()
    }
    targets: dict[str, np.ndarray] = {}
    for name, values in raw.items():
        targets[name] = units.convert(values, QM9_SOURCE_UNITS[name], QM9_UNITS[name])
    for kind in ATOM_REFERENCE_HARTREE:
        name = kind + ATOMIZATION_SUFFIX
        targets[name] = units.convert(
            atomization_energies(raw[kind], numbers, owners, kind), units.HARTREE, QM9_UNITS[name]
        )
    table = StructureTable(
        ids=kept["Index"].astype(str).to_numpy(dtype=object),
        numbers=numbers,
        positions=coordinates,
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        lattices=None,
        charges=np.zeros(len(rows)),
        targets=targets,
        meta={"smiles": kept["SMILES"].to_numpy(dtype=object)},
        source_index=rows,
    )
    return SourceData(table, report, dict(QM9_UNITS), {}, f"qm9pack CSVs in {folder}")
