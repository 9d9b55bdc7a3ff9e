"""Dataset adapters on real files: counts, units, quarantine, filters, subsets and fingerprints."""

from __future__ import annotations

import gzip
import json
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from matminer.utils.io import load_dataframe_from_json, store_dataframe_as_json
from pydantic import ValidationError
from pymatgen.core import Composition, Structure

import tierbench
from tests.paths import DATA_DIR
from tierbench.config.dataset import FilterSpec
from tierbench.datasets import Dataset, load_dataset
from tierbench.datasets.filters import apply_filters
from tierbench.datasets.quarantine import QuarantineReport, screen_table
from tierbench.datasets.table import SiteArrays, TableBuilder
from tierbench.datasets.units import HARTREE_TO_EV, KCAL_PER_MOL_TO_EV, conversion_factor
from tierbench.structures.validation import validate_structure
from tierbench.tier import InvalidStructureError

DATA = DATA_DIR / "datasets"
WATER_GAP_HARTREE = 0.3615  # QM9 index 3 (H2O), HOMO_LUMO_gap_au in qm9pack
WATER_U0_HARTREE = -76.404702
ATOMREF_U0 = {"H": -0.500273, "O": -75.064579}  # QM9 atomref table, Hartree


@pytest.fixture(scope="module")
def qm9() -> Dataset:
    return load_dataset({"name": "qm9"})


@pytest.fixture(scope="module")
def mp_set(datasets_dir: Path) -> Dataset:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIERBENCH_DATASETS", str(datasets_dir))  # the catalog's relative path resolves here
        return load_dataset({"name": "mp_mtcgcnn"})


def _mp_bad_rows(**spec: object) -> Dataset:
    return load_dataset(
        {"name": "bad", "format": "mp_jsonl", "path": str(DATA / "mp_bad_rows.jsonl"), "id_key": "mp_id", **spec}
    )


def test_full_qm9_is_embedded_with_energies_in_ev(qm9: Dataset) -> None:
    assert len(qm9) == 130831
    assert len(qm9.quarantine) == 0
    water = qm9[qm9.index_of("3")]
    assert water.structure.composition == Composition("H2O")
    assert not water.is_periodic
    assert water.units["gap"] == "eV" and water.units["mu"] == "D" and water.units["Cv"] == "cal/mol/K"
    assert water.targets["gap"] == pytest.approx(WATER_GAP_HARTREE * 27.211386, abs=1e-9)
    assert water.targets["gap"] == pytest.approx(9.8369, abs=1e-4)
    atomization = WATER_U0_HARTREE - 2 * ATOMREF_U0["H"] - ATOMREF_U0["O"]
    assert water.targets["U0_atom"] == pytest.approx(atomization * HARTREE_TO_EV, abs=1e-9)
    assert water.meta["smiles"] == "O"
    assert qm9.table.site_counts().min() == 3 and qm9.table.site_counts().max() == 29


def test_public_loader_is_the_package_function() -> None:
    assert tierbench.load_dataset is load_dataset


def test_qm9_order_and_subset_rule_reproduce_qm9_10k(qm9: Dataset, datasets_dir: Path) -> None:
    # qm9_10k was drawn as sort(default_rng(0).choice(130831, 10000)): the rule `size` follows.
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        text = handle.read()
    chosen = np.sort(np.random.default_rng(0).choice(len(qm9), 10000, replace=False))
    assert [qm9.ids[i] for i in chosen] == re.findall(r"gdb_idx=(\d+)", text)
    gaps_hartree = np.array([float(value) for value in re.findall(r" gap=(\S+)", text)])
    np.testing.assert_allclose(qm9.target_values("gap")[chosen], gaps_hartree * HARTREE_TO_EV, atol=1e-9)


@pytest.mark.slow
def test_qm9_seeded_subset_loads_the_qm9_10k_molecules(qm9: Dataset, datasets_dir: Path) -> None:
    subset = load_dataset({"name": "qm9", "size": 10000, "seed": 0, "targets": ["gap"]})
    assert subset.units == {"gap": "eV"} and len(subset.info.selection) == 3
    np.testing.assert_array_equal(subset.target_values("gap"), qm9.target_values("gap")[qm9.positions_of(subset.ids)])
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        assert list(subset.ids) == re.findall(r"gdb_idx=(\d+)", handle.read())


@pytest.mark.slow
def test_qm9_10k_extxyz_matches_embedded_qm9_in_ev(qm9: Dataset, datasets_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIERBENCH_DATASETS", str(datasets_dir))
    subset = load_dataset({"name": "qm9_10k"})
    assert len(subset) == 10000 and subset.units["gap"] == "eV" and subset.units["mu"] == "D"
    positions = qm9.positions_of(subset.ids)
    for name in ("gap", "homo", "U0", "mu", "Cv"):
        np.testing.assert_allclose(subset.target_values(name), qm9.target_values(name)[positions], atol=1e-6)


def test_mp_set_has_all_crystals_with_units(mp_set: Dataset) -> None:
    assert len(mp_set) == 33064
    assert len(mp_set.quarantine) == 0
    assert mp_set.units == {
        "formation_energy_per_atom": "eV/atom",
        "band_gap": "eV",
        "efermi": "eV",
        "volume": "Å^3",
        "total_magnetization": "μB",
    }
    first = mp_set[0]
    assert first.id == "mp-1000" and first.structure.composition.reduced_formula == "BaTe"
    assert first.targets["band_gap"] == 1.593
    assert first.targets["formation_energy_per_atom"] == pytest.approx(-1.79233721)
    assert int(np.isnan(mp_set.target_values("efermi")).sum()) == 2
    without_efermi = mp_set[int(np.flatnonzero(np.isnan(mp_set.target_values("efermi")))[0])]
    assert "efermi" not in without_efermi.targets and "band_gap" in without_efermi.targets


def test_metal_oxide_filter_gives_the_amdnet_set(mp_set: Dataset) -> None:
    filters = FilterSpec(elements_all=("O",), any_metal=True)
    rows, steps = apply_filters(mp_set.table, np.arange(len(mp_set)), filters, [])
    assert len(rows) == 14704  # README: metal oxides (O and at least one metal)
    assert [step.remaining for step in steps] == [15328, 14704]
    for row in rows[:: len(rows) // 50]:
        elements = {element.symbol for element in mp_set.structure(int(row)).composition}
        assert "O" in elements and len(elements) > 1


def test_metal_class_label_from_the_band_gap(datasets_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIERBENCH_DATASETS", str(datasets_dir))
    spec = {"name": "mp_mtcgcnn", "targets": ["is_metal"], "at_most": {"is_metal": ["band_gap", 0.0]}}
    metals = load_dataset(spec)
    assert metals.task_types == {"is_metal": "classification"} and metals.units == {"is_metal": "class label"}
    labels = metals.target_values("is_metal")
    assert set(np.unique(labels)) == {0.0, 1.0}
    assert int(labels.sum()) == 33064 - 19039  # README: 19,039 crystals have a gap above zero


def test_relative_paths_resolve_against_the_datasets_setting(monkeypatch) -> None:
    monkeypatch.setenv("TIERBENCH_DATASETS", str(DATA))
    mb = load_dataset({"name": "gap", "format": "matbench", "path": "matbench_mp_gap.json.gz"})
    assert len(mb) == 30
    monkeypatch.delenv("TIERBENCH_DATASETS")
    with pytest.raises(FileNotFoundError, match="TIERBENCH_DATASETS"):
        load_dataset({"name": "mp_mtcgcnn"})


def test_qm7_delta_learning_targets(datasets_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIERBENCH_DATASETS", str(datasets_dir))
    qm7 = load_dataset({"name": "qm7_pbe0"})
    assert len(qm7) == 7101 and len(qm7.quarantine) == 0
    methane = qm7[0]
    assert methane.id == "0001.xyz" and methane.structure.composition == Composition("CH4")
    assert methane.targets["E_atomization_pbe0_kcalmol"] == pytest.approx(-417.031)
    assert methane.targets["E_atomization_dftb3_kcalmol"] == pytest.approx(-431.787271961)
    assert methane.targets["E_atomization_delta_kcalmol"] == pytest.approx(-417.031 + 431.787271961)
    assert set(qm7.units.values()) == {"kcal/mol"}
    np.testing.assert_allclose(
        qm7.target_values("E_atomization_delta_kcalmol"),
        qm7.target_values("E_atomization_pbe0_kcalmol") - qm7.target_values("E_atomization_dftb3_kcalmol"),
    )
    elements = {symbol for i in range(0, len(qm7), 97) for symbol in qm7[i].structure.symbol_set}
    assert elements <= {"H", "C", "N", "O", "S"}


def test_mp_bad_rows_are_quarantined_with_reasons_and_never_dropped_silently() -> None:
    dataset = _mp_bad_rows()
    assert len(dataset) == 7
    assert dataset.quarantine.counts() == {
        "unparseable": 2,
        "overlapping_atoms": 2,
        "unknown_element": 1,
        "degenerate_cell": 1,
        "inverted_cell": 1,
        "empty": 1,
        "non_finite_coordinates": 1,
        "duplicate_id": 1,
    }
    assert dataset.info.source_rows == len(dataset) + len(dataset.quarantine) == 17
    by_id = {row.sample_id: row for row in dataset.quarantine.rows}
    assert by_id["bad-self-image"].reason == "overlapping_atoms"
    assert "0.4000 Å" in by_id["bad-self-image"].message
    assert "Xx" in by_id["bad-element"].message
    assert by_id["mp-1000"].reason == "duplicate_id" and by_id["mp-1000"].source_index == 16
    summary = dataset.quarantine.to_dict(examples=1)
    assert summary["total"] == 10 and len(summary["examples"]["unparseable"]) == 1
    needs_efermi = _mp_bad_rows(targets=["efermi"])
    assert len(needs_efermi) == 6
    assert needs_efermi.info.selection[-1].step == "targets_present=efermi"
    assert needs_efermi.info.selection[-1].excluded == 1
    keeps_all = _mp_bad_rows(targets=["efermi"], filters={"targets_present": False})
    assert len(keeps_all) == 7 and sum("efermi" not in sample.targets for sample in keeps_all) == 1


def test_screen_agrees_with_validate_structure_across_periodic_boundaries(mp_set: Dataset) -> None:
    rng = np.random.default_rng(7)
    builder = TableBuilder(periodic=True)
    verdicts = {}
    for row in range(0, 4000, 50):
        structure = mp_set.structure(row).copy()
        direction = rng.normal(size=3)
        distance = rng.choice([0.3, 0.45, 0.55, 0.9])
        # sites at the origin sit on a face, so a negative displacement crosses the cell boundary
        structure.append("H", structure[0].coords - distance * np.abs(direction) / np.linalg.norm(direction), True)
        try:
            validate_structure(structure)
            verdicts[str(row)] = None
        except InvalidStructureError as error:
            verdicts[str(row)] = error.reason
        sites = SiteArrays(
            np.array([site.specie.Z for site in structure], np.int16), structure.frac_coords, structure.lattice.matrix
        )
        builder.add(row, str(row), sites, {})
    table, _ = builder.build()
    report = QuarantineReport()
    kept = screen_table(table, report)
    assert {row.sample_id: row.reason for row in report.rows} == {k: v for k, v in verdicts.items() if v}
    assert len(kept) == sum(v is None for v in verdicts.values())
    assert 10 < len(report) < len(verdicts)  # both outcomes occur


def test_matbench_file_reads_like_matminer() -> None:
    path = DATA / "matbench_mp_gap.json.gz"
    dataset = load_dataset({"name": "matbench_mp_gap", "path": str(path)})
    reference = load_dataframe_from_json(str(path), pbar=False)
    assert len(dataset) == len(reference) == 30
    assert dataset.ids[:2] == ("mb-mp-gap-01", "mb-mp-gap-02")
    assert dataset.units == {"gap pbe": "eV"} and dataset.task_types == {"gap pbe": "regression"}
    np.testing.assert_array_equal(dataset.target_values("gap pbe"), reference["gap pbe"].to_numpy())
    for position in (0, 17, 29):
        ours, theirs = dataset[position].structure, reference["structure"].iloc[position]
        assert isinstance(theirs, Structure)
        assert ours.species == theirs.species
        np.testing.assert_allclose(ours.lattice.matrix, theirs.lattice.matrix)
        np.testing.assert_allclose(ours.frac_coords, theirs.frac_coords)


def test_matbench_classification_and_composition_tasks(tmp_path: Path) -> None:
    is_metal = load_dataset({"name": "matbench_mp_is_metal", "path": str(DATA / "matbench_mp_is_metal.json.gz")})
    assert is_metal.task_types == {"is_metal": "classification"}
    assert set(np.unique(is_metal.target_values("is_metal"))) == {0.0, 1.0}
    assert is_metal.ids[-1] == "mb-mp-is-metal-40"
    frame = load_dataframe_from_json(str(DATA / "matbench_mp_gap.json.gz"), pbar=False)
    frame = frame.assign(composition=[s.composition.reduced_formula for s in frame["structure"]])
    store_dataframe_as_json(frame[["composition", "gap pbe"]], str(tmp_path / "matbench_expt_gap.json.gz"), pbar=False)
    with pytest.raises(ValueError, match="composition-only"):
        load_dataset({"name": "x", "format": "matbench", "path": str(tmp_path / "matbench_expt_gap.json.gz")})


def test_cif_folder_in_cgcnn_layout(tmp_path: Path) -> None:
    spec = {"name": "cifs", "format": "cif_folder", "path": str(DATA / "cif_folder")}
    dataset = load_dataset({**spec, "columns": ["e_form", "gap"], "units": {"e_form": "eV/atom", "gap": "eV"}})
    assert dataset.ids == ("mp-1000", "mp-10000", "mp-10003", "mp-10004", "mp-1001")
    assert dataset.units == {"e_form": "eV/atom", "gap": "eV"}
    first = dataset[0]
    assert first.structure.composition.reduced_formula == "BaTe" and first.meta["file"] == "mp-1000.cif"
    assert first.targets == {"e_form": pytest.approx(-1.79233721), "gap": 1.593}
    assert dataset.quarantine.counts() == {"partial_occupancy": 1, "unparseable": 1, "missing_file": 1}
    assert load_dataset(spec).target_names == ("target_0", "target_1")
    assert load_dataset(spec).units["target_0"] == "unspecified"
    folder = tmp_path / "with_header"
    shutil.copytree(DATA / "cif_folder", folder)
    rows = (folder / "id_prop.csv").read_text()
    (folder / "id_prop.csv").write_text("material,e_form,gap\n" + rows)
    assert load_dataset({**spec, "path": str(folder)}).target_names == ("e_form", "gap")


def test_extxyz_and_ase_db_read_the_same_molecules(tmp_path: Path) -> None:
    import ase.db

    spec = {"name": "mols", "format": "extxyz", "path": str(DATA / "molecules.extxyz")}
    molecules = load_dataset({**spec, "units": {"E_atomization_pbe0_kcalmol": "kcal/mol"}})
    assert molecules.ids == ("0001.xyz", "0002.xyz", "0003.xyz", "0004.xyz", "0005.xyz")
    assert molecules.quarantine.counts() == {
        "unknown_element": 1,
        "unparseable": 1,
        "overlapping_atoms": 1,
        "impossible_charge": 1,
    }
    assert molecules.units["E_atomization_pbe0_kcalmol"] == "kcal/mol"
    in_ev = load_dataset(
        {
            **spec,
            "units": {"E_atomization_pbe0_kcalmol": "kcal/mol"},
            "convert_units": {"E_atomization_pbe0_kcalmol": "eV"},
        }
    )
    np.testing.assert_allclose(
        in_ev.target_values("E_atomization_pbe0_kcalmol"),
        molecules.target_values("E_atomization_pbe0_kcalmol") * KCAL_PER_MOL_TO_EV,
    )
    database = tmp_path / "molecules.db"
    with ase.db.connect(str(database)) as connection:
        for atoms in read(str(DATA / "molecules.extxyz"), index=":5", format="extxyz"):
            info = {key: value for key, value in atoms.info.items() if key != "charge"}
            connection.write(atoms, key_value_pairs=info)
    from_db = load_dataset({"name": "db", "format": "ase_db", "path": str(database)})
    assert from_db.ids == molecules.ids
    for name in molecules.target_names:
        np.testing.assert_allclose(from_db.target_values(name), molecules.target_values(name))
    np.testing.assert_allclose(from_db[2].structure.cart_coords, molecules[2].structure.cart_coords)


def test_qm9_format_rows_are_checked(tmp_path: Path) -> None:
    dataset = load_dataset({"name": "qm9", "path": str(DATA / "qm9_csv")})
    assert len(dataset) == 9
    assert dataset.quarantine.counts() == {"unparseable": 2, "unknown_element": 1}
    assert dataset[dataset.index_of("3")].targets["gap"] == pytest.approx(WATER_GAP_HARTREE * HARTREE_TO_EV)
    with pytest.raises(FileNotFoundError, match=r"qm9_part1\.csv"):
        load_dataset({"name": "qm9", "path": str(tmp_path)})


def test_spec_errors_are_specific() -> None:
    with pytest.raises(ValidationError, match="extra"):
        load_dataset({"name": "qm9", "sise": 10})
    with pytest.raises(ValidationError, match="Qx"):
        load_dataset({"name": "qm9", "filters": {"elements_all": ["Qx"]}})
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_dataset({"name": "nope"})
    with pytest.raises(ValueError, match="no target 'nonsense'"):
        _mp_bad_rows(targets=["band_gap", "nonsense"])
    with pytest.raises(ValueError, match="size=8 but only 7"):
        _mp_bad_rows(size=8)
    with pytest.raises(ValueError, match="cannot convert"):
        _mp_bad_rows(convert_units={"volume": "eV"})


def test_filters_and_seeded_subsets() -> None:
    path = str(DATA / "matbench_mp_is_metal.json.gz")
    full = load_dataset({"name": "m", "format": "matbench", "path": path})
    draw = load_dataset({"name": "m", "format": "matbench", "path": path, "size": 10, "seed": 4})
    expected = np.sort(np.random.default_rng(4).choice(40, 10, replace=False))
    assert draw.ids == tuple(full.ids[i] for i in expected)
    assert load_dataset({"name": "m", "format": "matbench", "path": path, "size": 10, "seed": 5}).ids != draw.ids
    small = load_dataset({"name": "m", "format": "matbench", "path": path, "filters": {"max_atoms": 8}})
    assert len(small) and all(len(sample.structure) <= 8 for sample in small)
    oxygen_free = load_dataset({"name": "m", "format": "matbench", "path": path, "filters": {"elements_none": ["O"]}})
    assert all("O" not in sample.structure.symbol_set for sample in oxygen_free)
    assert (
        len(oxygen_free)
        + len(load_dataset({"name": "m", "format": "matbench", "path": path, "filters": {"elements_all": ["O"]}}))
        == 40
    )
    molecules_only = load_dataset({"name": "m", "format": "matbench", "path": path, "filters": {"periodic": False}})
    assert len(molecules_only) == 0
    gapped = _mp_bad_rows(filters={"target_range": {"band_gap": [0.001, None]}})
    assert all(sample.targets["band_gap"] > 0 for sample in gapped) and len(gapped) < 7


def test_dataset_is_a_picklable_sequence_with_a_content_fingerprint() -> None:
    dataset = _mp_bad_rows(targets=["band_gap"])
    assert dataset[-1].id == dataset.ids[-1]
    assert tuple(sample.id for sample in dataset[1:3]) == dataset.ids[1:3]
    with pytest.raises(IndexError):
        dataset[len(dataset)]
    assert pickle.loads(pickle.dumps(dataset)).fingerprint == dataset.fingerprint
    assert _mp_bad_rows(targets=["band_gap"]).fingerprint == dataset.fingerprint
    assert dataset.subset([0, 1, 2]).fingerprint != dataset.fingerprint
    assert _mp_bad_rows(targets=["volume"]).fingerprint != dataset.fingerprint
    assert dataset.subset([0, 2]).ids == (dataset.ids[0], dataset.ids[2])


def test_units() -> None:
    assert conversion_factor("Ha", "eV") == HARTREE_TO_EV == 27.211386
    assert conversion_factor("kcal/mol", "eV") == pytest.approx(0.0433641, rel=1e-6)
    assert conversion_factor("eV/atom", "meV/atom") == pytest.approx(1000.0)
    assert conversion_factor("D", "D") == 1.0
    with pytest.raises(ValueError, match="cannot convert"):
        conversion_factor("eV", "eV/atom")


def test_mp_jsonl_accepts_pymatgen_structure_dicts(tmp_path: Path, mp_set: Dataset) -> None:
    path = tmp_path / "dicts.jsonl"
    records = [
        {
            "id": mp_set.ids[i],
            "band_gap": float(mp_set.target_values("band_gap")[i]),
            "structure": mp_set.structure(i).as_dict(),
        }
        for i in range(5)
    ]
    path.write_text("\n".join(json.dumps(record) for record in records))
    dataset = load_dataset({"name": "dicts", "format": "mp_jsonl", "path": str(path)})
    assert dataset.ids == mp_set.ids[:5] and dataset.units == {"band_gap": "eV"}
    np.testing.assert_allclose(dataset.structure(3).frac_coords, mp_set.structure(3).frac_coords)
