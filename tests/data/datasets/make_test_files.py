"""Write the small dataset files the dataset tests read, in each format's exact layout.

Run from the repository root with the shared datasets available:
``TIERBENCH_DATASETS=../shared/datasets .venv/bin/python tests/data/datasets/make_test_files.py``.
Good rows are real structures and labels (Materials Project crystals of ``mp_mtcgcnn``, QM7 molecules,
QM9 rows of ``qm9pack``); bad rows are real rows damaged in one specific way each.
"""

from __future__ import annotations

import copy
import gzip
import importlib.util
import io
import json
import os
from pathlib import Path

import pandas as pd
from ase.io import read, write
from matminer.utils.io import store_dataframe_as_json
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ["TIERBENCH_DATASETS"])


def mp_records(count: int) -> list[dict]:
    with gzip.open(SHARED / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle, strict=False)]


def structure(record: dict) -> Structure:
    payload = record["structure"]
    return Structure(payload["lattice"], payload["species"], payload["frac_coords"])


def damaged(record: dict, new_id: str, **structure_changes: object) -> dict:
    row = copy.deepcopy(record)
    row["mp_id"] = new_id
    row["structure"].update(structure_changes)
    return row


def write_mp_bad_rows(records: list[dict]) -> None:
    good = records[:6]
    base = records[6]
    lattice = base["structure"]["lattice"]
    lines = [json.dumps(row) for row in good]
    missing_efermi = copy.deepcopy(records[7])
    missing_efermi["efermi"] = None
    lines.append(json.dumps(missing_efermi))
    first_site = base["structure"]["frac_coords"][0]
    lines += [
        json.dumps(
            damaged(
                base,
                "bad-overlap",
                species=[*base["structure"]["species"], base["structure"]["species"][0]],
                frac_coords=[*base["structure"]["frac_coords"], [first_site[0] + 0.01, *first_site[1:]]],
            )
        ),
        json.dumps(
            damaged(
                base,
                "bad-self-image",
                lattice=[[0.4, 0, 0], [0, 5, 0], [0, 0, 5]],
                species=["Cu"],
                frac_coords=[[0, 0, 0]],
            )
        ),
        json.dumps(damaged(base, "bad-degenerate", lattice=[lattice[0], lattice[0], lattice[2]])),
        json.dumps(damaged(base, "bad-inverted", lattice=[lattice[1], lattice[0], lattice[2]])),
        json.dumps(damaged(base, "bad-element", species=["Xx", *base["structure"]["species"][1:]])),
        json.dumps(damaged(base, "bad-empty", species=[], frac_coords=[])),
        json.dumps(damaged(base, "bad-nan", frac_coords=[[float("nan"), 0, 0], *base["structure"]["frac_coords"][1:]])),
        json.dumps({key: value for key, value in base.items() if key != "structure"} | {"mp_id": "bad-nostructure"}),
        '{"mp_id": "bad-json", "structure": ',
        json.dumps(good[0]),  # the same mp_id again
    ]
    (HERE / "mp_bad_rows.jsonl").write_text("\n".join(lines) + "\n")


def write_matbench(records: list[dict]) -> None:
    gap = pd.DataFrame(
        {"structure": [structure(r) for r in records[:30]], "gap pbe": [r["band_gap"] for r in records[:30]]}
    )
    store_dataframe_as_json(gap, str(HERE / "matbench_mp_gap.json.gz"), pbar=False)
    metals = [r for r in records if r["band_gap"] == 0][:16]
    insulators = [r for r in records if r["band_gap"] > 0][:24]
    chosen = sorted(metals + insulators, key=lambda r: r["id"])
    is_metal = pd.DataFrame(
        {"structure": [structure(r) for r in chosen], "is_metal": [r["band_gap"] == 0 for r in chosen]}
    )
    store_dataframe_as_json(is_metal, str(HERE / "matbench_mp_is_metal.json.gz"), pbar=False)


def write_cif_folder(records: list[dict]) -> None:
    folder = HERE / "cif_folder"
    folder.mkdir(exist_ok=True)
    rows = []
    for record in records[:5]:
        CifWriter(structure(record)).write_file(folder / f"{record['mp_id']}.cif")
        rows.append(f"{record['mp_id']},{record['formation_energy_per_atom']},{record['band_gap']}")
    disordered = Structure(Lattice.cubic(3.6), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])
    CifWriter(disordered).write_file(folder / "disordered-FeNi.cif")
    (folder / "garbage.cif").write_text("data_garbage\nthis is not a crystal\n")
    rows += ["disordered-FeNi,-0.05,0.0", "garbage,0.0,0.0", "not-there,0.1,0.2"]
    (folder / "id_prop.csv").write_text("\n".join(rows) + "\n")


def write_molecules() -> None:
    with gzip.open(SHARED / "qm7_pbe0" / "qm7_pbe0.extxyz.gz", "rt") as handle:
        text = handle.read()
    molecules = read(io.StringIO(text), index=":5", format="extxyz")
    overlapping = molecules[1].copy()
    overlapping.positions[1] = overlapping.positions[0] + [0.1, 0.0, 0.0]
    overlapping.info["name"] = "overlap.xyz"
    charged = molecules[2].copy()
    charged.info["name"] = "charge.xyz"
    charged.info["charge"] = 40
    buffer = io.StringIO()
    write(buffer, [*molecules, overlapping, charged], format="extxyz")
    unknown = '2\nname=unknown.xyz charge=0 pbc="F F F"\nXx 0 0 0\nH 0 0 1\n'
    cut_off = '3\nname=cut.xyz charge=0 pbc="F F F"\nO 0 0 0\n'
    (HERE / "molecules.extxyz").write_text(buffer.getvalue() + unknown + cut_off)


def write_qm9_csv() -> None:
    spec = importlib.util.find_spec("qm9pack")
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "data"
    folder = HERE / "qm9_csv"
    folder.mkdir(exist_ok=True)
    for part in (1, 2, 3):
        frame = pd.read_csv(source / f"qm9_part{part}.csv", nrows=4, dtype=str, keep_default_na=False)
        if part == 3:
            frame.loc[1, "N_atoms"] = str(int(frame.loc[1, "N_atoms"]) + 1)
            frame.loc[2, "Elements"] = frame.loc[2, "Elements"].replace("'C'", "'Xx'", 1)
            frame.loc[3, "XYZ_Ang"] = frame.loc[3, "XYZ_Ang"].replace("[[", "[[abc,", 1).replace(",", "", 1)
        frame.to_csv(folder / f"qm9_part{part}.csv", index=False, quoting=1)


if __name__ == "__main__":
    mp = mp_records(200)
    write_mp_bad_rows(mp)
    write_matbench(mp)
    write_cif_folder(mp)
    write_molecules()
    write_qm9_csv()
