"""The ``tierbench`` command line: tiers, validate, describe and cache."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.paths import REPO_ROOT
from tierbench.cli import app
from tierbench.testing import reference as reference_structures
from tierbench.tier.registry import available_tiers

runner = CliRunner()
EXAMPLE_PLUGIN = REPO_ROOT / "tiers" / "examples" / "voronoi"


def _write_rutile(tmp_path: Path) -> Path:
    path = tmp_path / "rutile.cif"
    reference_structures.rutile().to(filename=str(path))
    return path


def test_console_script_lists_the_registered_tiers() -> None:
    tierbench = shutil.which("tierbench", path=str(Path(sys.executable).parent))
    assert tierbench is not None
    result = subprocess.run([tierbench, "tiers", "--json"], capture_output=True, text=True, check=True)
    listed = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(listed) == set(available_tiers())
    for row in listed.values():
        assert row["source"] == "built-in" and row["node_dim"] >= 0


def test_validate_reports_each_file(tmp_path: Path) -> None:
    good = _write_rutile(tmp_path)
    bad = tmp_path / "overlap.xyz"
    bad.write_text("2\n\nH 0 0 0\nH 0 0 0.0004\n")
    result = runner.invoke(app, ["validate", str(good), str(bad), str(tmp_path / "missing.cif")])
    assert result.exit_code == 1
    assert f"OK   {good}: TiO2, 6 sites, crystal" in result.output
    assert f"FAIL {bad}: [overlapping_atoms]" in result.output
    assert "missing.cif: [missing_file]" in result.output


def test_describe_builds_a_plugin_graph_and_explains_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    path = _write_rutile(tmp_path)
    result = runner.invoke(
        app, ["describe", str(path), "--tier", "tierbench_voronoi:VoronoiTier", "-p", "min_weight=0.3", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["tier"] == "voronoi" and summary["nodes"] == 6 and summary["edges"] > 0
    assert summary["params"]["min_weight"] == 0.3 and summary["edge_dim"] == 3


def test_describe_refuses_an_invalid_structure(tmp_path: Path) -> None:
    path = tmp_path / "empty.cif"
    path.write_text("")
    result = runner.invoke(app, ["describe", str(path), "--tier", "tierbench_voronoi:VoronoiTier"])
    assert result.exit_code == 1 and "file is empty" in result.output


def test_cache_info_verify_and_clear(tmp_path: Path, monkeypatch) -> None:
    from tests.unit.featurization.test_cache import CountingDistanceTier
    from tierbench.featurization.cache import GraphCache

    cache_root = tmp_path / "cache"
    GraphCache(cache_root).build(CountingDistanceTier(), reference_structures.water())
    info = runner.invoke(app, ["cache", "info", "--cache", str(cache_root)])
    assert info.exit_code == 0 and "distances" in info.output
    assert "1 intact, 0 corrupt" in runner.invoke(app, ["cache", "verify", "--cache", str(cache_root)]).output
    assert "removed 1 entries" in runner.invoke(app, ["cache", "clear", "--cache", str(cache_root)]).output
    assert "empty" in runner.invoke(app, ["cache", "info", "--cache", str(cache_root)]).output


def test_featurize_fills_the_cache_and_writes_the_coverage_report(tmp_path: Path) -> None:
    spec = json.dumps({"name": "qm9", "size": 12, "seed": 4})
    arguments = ["featurize", "--dataset", spec, "--tiers", "atom", "--workers", "1", "--cache", str(tmp_path)]
    cold = runner.invoke(app, [*arguments, "--report", str(tmp_path / "coverage.json"), "--quiet"])
    assert cold.exit_code == 0, cold.output
    report = json.loads((tmp_path / "coverage.json").read_text())["qm9"]
    assert report["coverage"]["atom"]["ok"] == 12 and report["covered_by_every_tier"] == 12
    warm = runner.invoke(app, [*arguments, "--quiet"])
    assert warm.exit_code == 0, warm.output
    assert re.search(r"atom\s+12\s+0\s+12\s", warm.output), warm.output


def test_featurize_takes_the_tiers_of_a_suite_and_refuses_ambiguous_input(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: cli-featurize\n"
        "datasets:\n  - {label: small, dataset: {name: qm9, size: 8, seed: 2}, target: gap}\n"
        "tiers: {atom: {}}\n"
        f"cache: {tmp_path / 'cache'}\n"
    )
    result = runner.invoke(app, ["featurize", "--suite", str(suite), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert re.search(r"atom\s+8\s+0\s+0\s", result.output), result.output
    assert (tmp_path / "cache").is_dir()
    neither = runner.invoke(app, ["featurize"])
    assert neither.exit_code != 0 and "either --suite" in neither.output
