"""``tierbench data list|show|fetch`` on real files (and an unreachable server for fetch)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.paths import DATA_DIR
from tierbench.cli import app
from tierbench.datasets.fetch import FetchError, fetch_matbench

DATA = DATA_DIR / "datasets"
UNREACHABLE = "http://127.0.0.1:9/matbench_mp_gap.json.gz"  # the discard port: connection refused
runner = CliRunner()


def test_list_names_every_catalog_dataset_with_units(monkeypatch) -> None:
    monkeypatch.setenv("TIERBENCH_DATASETS", str(DATA))
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    assert "qm9  [qm9, 130,831 samples]" in result.output
    assert "gap [eV]" in result.output and "band_gap [eV]" in result.output
    rows = {row["name"]: row for row in json.loads(runner.invoke(app, ["data", "list", "--json"]).output)}
    assert rows["mp_mtcgcnn"]["size"] == 33064
    assert rows["qm7_pbe0"]["targets"]["E_atomization_delta_kcalmol"] == "kcal/mol"
    assert rows["matbench_mp_gap"]["location"] == "missing"
    assert rows["qm9"]["location"].endswith("data")


def test_show_prints_statistics_histograms_and_quarantine() -> None:
    path = str(DATA / "mp_bad_rows.jsonl")
    args = ["data", "show", "bad", "--format", "mp_jsonl", "--path", path, "-t", "band_gap", "-f", "max_atoms=40"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "quarantined: 10" in result.output
    assert "overlapping_atoms: 2" in result.output
    assert "band_gap [eV] regression" in result.output and "median" in result.output
    assert "elements (" in result.output and "sites per structure" in result.output
    summary = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert summary["targets"]["band_gap"]["count"] == summary["samples"]
    assert sum(summary["elements"].values()) >= summary["samples"]
    assert sum(count for _, _, count in summary["sites"]["histogram"]) == summary["samples"]
    assert "max_atoms=40" in [step["step"] for step in summary["selection"]]


def test_show_classification_counts_and_a_qm9_file_folder() -> None:
    metal = runner.invoke(
        app, ["data", "show", "m", "--format", "matbench", "--path", str(DATA / "matbench_mp_is_metal.json.gz")]
    )
    assert "is_metal [class label] classification" in metal.output and "classes {'0': 24, '1': 16}" in metal.output
    qm9 = json.loads(runner.invoke(app, ["data", "show", "qm9", "--path", str(DATA / "qm9_csv"), "--json"]).output)
    assert qm9["kind"] == "molecules" and qm9["targets"]["gap"]["unit"] == "eV"
    assert set(qm9["elements"]) <= {"H", "C", "N", "O", "F"} and qm9["quarantine"]["total"] == 3


def test_show_reports_bad_requests_without_a_traceback() -> None:
    unknown = runner.invoke(app, ["data", "show", "no_such_set"])
    assert unknown.exit_code == 1 and "unknown dataset 'no_such_set'" in unknown.output
    missing = runner.invoke(app, ["data", "show", "x", "--format", "extxyz", "--path", "does/not/exist.xyz"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_fetch_explains_an_unreachable_server(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "fetch", "matbench_mp_gap", "--dest", str(tmp_path), "--url", UNREACHABLE])
    assert result.exit_code == 1
    assert "offline" in result.output and str(tmp_path / "matbench_mp_gap.json.gz") in result.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FetchError, match="Connection refused"):
        fetch_matbench("matbench_mp_gap", tmp_path, UNREACHABLE, timeout=5)
    composition = runner.invoke(app, ["data", "fetch", "matbench_steels", "--dest", str(tmp_path)])
    assert composition.exit_code == 1 and "composition only" in composition.output
