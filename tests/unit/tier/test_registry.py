"""Tier discovery: built-ins, installed plug-in distributions, import paths, and broken plug-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.plugin_install import install_plugin_on_path, run_python
from tierbench.plugins import BUILTIN_TIERS, TIER_GROUP, UnknownTierError
from tierbench.tier.registry import available_tiers, get_tier, resolve_tier

EXAMPLE_PLUGIN = REPO_ROOT / "tiers" / "examples" / "voronoi"


def test_unknown_tier_lists_the_available_ones() -> None:
    with pytest.raises(UnknownTierError) as raised:
        get_tier("no-such-tier")
    for name in available_tiers():
        assert name in str(raised.value)


def test_import_path_resolves_a_tier_that_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    tier = get_tier("tierbench_voronoi:VoronoiTier", min_weight=0.2)
    assert tier.name == "voronoi" and tier.params()["min_weight"] == 0.2
    assert resolve_tier("tierbench_voronoi:VoronoiTier").source == "import path"


def test_bad_import_path_and_bad_params_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    with pytest.raises(UnknownTierError, match="no attribute 'Missing'"):
        get_tier("tierbench_voronoi:Missing")
    with pytest.raises(TypeError, match="invalid params for tier"):
        get_tier("tierbench_voronoi:VoronoiTier", radius=3)


def test_builtins_are_listed_as_such() -> None:
    for name, spec in available_tiers().items():
        if name in BUILTIN_TIERS:
            assert spec.source == "built-in" and spec.target == BUILTIN_TIERS[name]


def test_installed_plugin_distribution_is_discovered(tmp_path: Path) -> None:
    install_plugin_on_path(
        tmp_path,
        name="tierbench-voronoi",
        group=TIER_GROUP,
        entry_points="voronoi = tierbench_voronoi:VoronoiTier",
        package=EXAMPLE_PLUGIN / "tierbench_voronoi",
    )
    code = (
        "import json; from pymatgen.core import Lattice, Structure\n"
        "from tierbench.tier.registry import available_tiers, get_tier\n"
        "spec = available_tiers()['voronoi']\n"
        "graph = get_tier('voronoi').build(Structure(Lattice.cubic(4.2), ['Mg', 'O'], [[0, 0, 0], [.5, .5, .5]]))\n"
        "print(json.dumps({'source': spec.source, 'nodes': graph.num_nodes, 'edges': graph.edge_index.shape[1]}))"
    )
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == {"source": "plug-in tierbench-voronoi", "nodes": 2, "edges": found["edges"]}
    assert found["edges"] > 0


def test_broken_plugin_is_a_warning_naming_it_not_an_error(tmp_path: Path) -> None:
    install_plugin_on_path(
        tmp_path, name="broken-tier", group=TIER_GROUP, entry_points="broken = not_a_module:Tier", package=None
    )
    code = "from tierbench.tier.registry import loadable_tiers\nloaded = loadable_tiers()\nprint(sorted(loaded))"
    result = run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "broken" not in result.stdout
    assert "tier 'broken' (plug-in broken-tier, not_a_module:Tier) failed to load" in result.stderr


def test_plugin_cannot_shadow_a_builtin(tmp_path: Path) -> None:
    install_plugin_on_path(
        tmp_path, name="impostor", group=TIER_GROUP, entry_points="atom = impostor:Tier", package=None
    )
    result = run_python(
        "from tierbench.tier.registry import available_tiers; print(available_tiers()['atom'].source)", tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("built-in")
    assert "tier plug-in 'atom' from impostor is ignored" in result.stderr
