"""Security defaults: servers on loopback, no code run from data, plug-ins only where the user points.

* ``tierbench ui`` (the MLflow server) and the Ray dashboard of a local cluster listen on 127.0.0.1;
* suite files and ``--set`` values are read with ``yaml.safe_load``: a ``!!python/object`` tag is refused;
* data never runs code: a cached graph is read only through its checksum and
  ``torch.load(weights_only=True)`` — a valid-checksum entry carrying a code-running pickle is refused,
  reported and rebuilt; pymatgen-dict structures in datasets are read without their site properties,
  which pymatgen would otherwise decode by importing the module a ``@module`` key names;
* a tier name resolves only through the registry (built-ins, installed ``tierbench.tiers`` plug-ins) or
  an explicit ``package.module:Class`` path: a bare name is never imported;
* no ``eval``/``exec``, no ``pickle``/``marshal`` loads and no unsafe YAML or ``torch.load`` in the code.

Every attack leaves a marker file when it succeeds; the tests check that none appears.
"""

from __future__ import annotations

import ast
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from typer.testing import CliRunner

from tests.paths import REPO_ROOT
from tierbench.cli import app
from tierbench.config.suite import SuiteError, load_suite
from tierbench.featurization.cache import GraphCache, _frame, cache_key
from tierbench.featurization.engine import featurize
from tierbench.plugins import UnknownTierError
from tierbench.structures.readers import read_structure
from tierbench.structures.sample import Sample
from tierbench.testing import reference as reference_structures
from tierbench.tier.registry import available_tiers, get_tier

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
SERVER_START_S = 90
SOURCE_FOLDERS = (REPO_ROOT / "platform", REPO_ROOT / "tiers")


class RunsCodeWhenUnpickled:
    """An object whose pickle calls ``exec`` with a statement that writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"open({str(self.marker)!r}, 'w').write('code ran')",))


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> set[str]:
    """Addresses that a socket listens on at ``port`` (any process)."""
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
    }


@pytest.mark.slow
def test_tierbench_ui_listens_on_loopback_by_default(tmp_path: Path) -> None:
    port = free_port()
    tierbench = str(Path(sys.executable).with_name("tierbench"))
    ui = [tierbench, "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"]
    with (tmp_path / "ui.log").open("wb") as log:
        server = subprocess.Popen(ui, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not listening(port):
            assert server.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the MLflow server did not start"
            time.sleep(0.2)
        assert listening(port) <= LOOPBACK, f"listening on {listening(port)}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


def test_local_ray_cluster_keeps_its_dashboard_on_loopback(ray_local: object) -> None:
    dashboards = [
        process
        for process in psutil.Process().children(recursive=True)
        if any(part.endswith("dashboard/dashboard.py") for part in process.cmdline())
    ]
    assert dashboards, "the local cluster has a dashboard process"
    for dashboard in dashboards:
        options = dict(part.removeprefix("--").split("=", 1) for part in dashboard.cmdline() if "=" in part)
        assert options["host"] == "127.0.0.1"
        sockets = [c for c in dashboard.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        web = [connection.laddr.ip for connection in sockets if connection.laddr.port == int(options["port"])]
        assert set(web) <= LOOPBACK, f"the dashboard listens on {web}"


SUITE = """\
name: tagged
datasets:
  - dataset: {{name: qm9, size: 10}}
    target: {target}
tiers: {{atom: {{}}}}
tracking: {{tracking_uri: "sqlite:///{store}/mlflow.db"}}
"""


def test_a_python_tag_in_a_suite_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f'!!python/object/apply:os.system ["touch {marker}"]'
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.format(target=code, store=tmp_path))
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(suite)
    assert CliRunner().invoke(app, ["bench", str(suite), "--dry-run"]).exit_code != 0
    suite.write_text(SUITE.format(target="gap", store=tmp_path))
    result = CliRunner().invoke(app, ["bench", str(suite), "--dry-run", "--set", f"datasets.0.target={code}"])
    assert result.exit_code != 0 and isinstance(result.exception, yaml.YAMLError)
    assert not marker.exists()


def test_a_cached_graph_carrying_a_code_pickle_is_refused_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "pwned"
    water, atom = reference_structures.water(), get_tier("atom")
    cache = GraphCache(tmp_path / "cache")
    honest = cache.build(atom, water)
    key = cache_key(atom, water)
    entry = next((tmp_path / "cache").rglob(f"{key}.graph"))
    payload = io.BytesIO()
    torch.save(RunsCodeWhenUnpickled(marker), payload)
    entry.write_bytes(_frame(payload.getvalue()))  # a valid checksum: only the loader stands in the way
    again = featurize([Sample("water", water)], {"atom": atom}, cache=cache, workers=1, progress=False)
    graph = again.graph(0, "atom")
    assert not marker.exists(), "the cached payload ran code"
    assert torch.equal(graph.edge_attr, honest.edge_attr) and again.rebuilt == [(0, "atom")]
    assert "undecodable payload" in caplog.text


def test_dataset_structures_cannot_make_pymatgen_import_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    imported, called = tmp_path / "imported", tmp_path / "called"
    (tmp_path / "tierbench_bait.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(imported)!r}).write_text('imported')\n"
        "class Bait:\n"
        "    @classmethod\n"
        "    def from_dict(cls, data):\n"
        f"        Path({str(called)!r}).write_text('called')\n"
    )
    structure = reference_structures.rock_salt().as_dict()
    structure["sites"][0]["species"] = [{"element": "Na", "occu": 0.5}, {"element": "K", "occu": 0.5}]
    structure["sites"][0]["properties"] = {"magmom": {"@module": "tierbench_bait", "@class": "Bait"}}
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": "bait", "band_gap": 1.0, "structure": structure}) + "\n")
    from tierbench.datasets import load_dataset

    dataset = load_dataset({"name": "bait", "format": "mp_jsonl", "path": str(tmp_path / "rows.jsonl")})
    assert dataset.quarantine.counts() == {"partial_occupancy": 1}
    (tmp_path / "bait.json").write_text(json.dumps(structure))
    read_structure(tmp_path / "bait.json")
    assert not imported.exists() and not called.exists()


CANARY = """\
from pathlib import Path

Path({marker!r}).write_text("imported")


class CanaryTier:
    name = "canary"
"""


@pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available")
def test_tier_names_resolve_only_through_the_registry_or_an_explicit_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "tierbench_canary.py").write_text(CANARY.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: canary\ndatasets: [{dataset: {name: qm9, size: 10}, target: gap}]\n"
        "tiers: {atom: {}, extra: {tier: tierbench_canary}}\n"
        f"tracking: {{tracking_uri: 'sqlite:///{tmp_path}/mlflow.db'}}\n"
    )
    result = CliRunner().invoke(app, ["bench", str(suite), "--dry-run"])
    assert isinstance(result.exception, UnknownTierError) and "tierbench_canary" in str(result.exception)
    with pytest.raises(UnknownTierError, match="available tiers"):
        get_tier("tierbench_canary")
    assert not marker.exists() and "tierbench_canary" not in sys.modules, "a bare name was imported"
    with pytest.raises(TypeError, match="does not implement the Tier protocol"):
        get_tier("tierbench_canary:CanaryTier")
    assert marker.exists(), "an explicit import path is the user's choice and is imported"
    sys.modules.pop("tierbench_canary", None)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _name(call: ast.Call) -> str:
    function = call.func
    parts = []
    while isinstance(function, ast.Attribute):
        parts.append(function.attr)
        function = function.value
    if isinstance(function, ast.Name):
        parts.append(function.id)
    return ".".join(reversed(parts))


UNSAFE_CALLS = {"eval", "exec", "pickle.load", "pickle.loads", "marshal.loads", "yaml.load", "yaml.unsafe_load"}
UNSAFE_CALLS |= {"yaml.full_load", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads"}
SAFE_USES = {("platform/tierbench/testing/checks.py", "pickle.loads")}
"""The tier contract's pickling check unpickles only the bytes it pickled a line before, in-process."""


def test_the_code_has_no_eval_no_pickle_loads_no_unsafe_yaml_and_no_unrestricted_torch_load() -> None:
    found = []
    for folder in SOURCE_FOLDERS:
        for path in sorted(folder.rglob("*.py")):
            for call in _calls(ast.parse(path.read_text(), str(path))):
                name = _name(call)
                where = f"{path.relative_to(REPO_ROOT)}:{call.lineno} {name}"
                if name in UNSAFE_CALLS and (str(path.relative_to(REPO_ROOT)), name) not in SAFE_USES:
                    found.append(where)
                restricted = any(
                    keyword.arg == "weights_only"
                    and isinstance(keyword.value, ast.Constant)
                    and keyword.value.value is True
                    for keyword in call.keywords
                )
                if name == "torch.load" and not restricted:
                    found.append(where)
    assert not found, found
