"""A real ``mlflow server`` on loopback (started by ``tierbench ui``); a suite logged to it over HTTP.

This is the cluster set-up: the head node serves the store and the artifacts, drivers and workers log
through the REST API, and ``tierbench compare`` reads the trials back the same way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.logged_suite import TIERS, LoggedSuite, log_suite
from tierbench.report import compare
from tierbench.tracking.tags import KIND_TRIAL, TAG_KIND, TAG_PARENT, TAG_SPLIT, TAG_TIERS

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 15
# The console script gains ``ui`` once tierbench.cli imports compare_commands; this form works either way.
TIERBENCH = [sys.executable, "-c", "import tierbench.cli.compare_commands; from tierbench.cli import app; app()"]


@dataclass(frozen=True)
class Server:
    """A running tracking server."""

    url: str
    port: int
    store: Path
    artifacts: Path
    log: Path


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (server, uvicorn workers), SIGKILL whatever outlives the grace period."""
    for number in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, number)
        except ProcessLookupError:
            return
        try:
            process.wait(STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"mlflow server not healthy after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tierbench ui`` on 127.0.0.1 with a fresh sqlite store and artifact folder; always stopped."""
    root = tmp_path_factory.mktemp("server")
    port = free_port()
    store, artifacts, log = root / "mlflow.db", root / "artifacts", root / "server.log"
    command = [*TIERBENCH, "ui", "--port", str(port), "--tracking-uri", f"sqlite:///{store}"]
    command += ["--artifacts-destination", str(artifacts)]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=root, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log)
        yield Server(url, port, store, artifacts, log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def http_suite(mlflow_server: Server, tmp_path_factory: pytest.TempPathFactory) -> LoggedSuite:
    """Two matbench folds of ``gap`` × three tier combinations, logged through the REST API."""
    workdir = tmp_path_factory.mktemp("predictions")
    return log_suite(mlflow_server.url, "tiers-over-http", workdir, labels=("gap",), folds=range(2), failed=None)


def test_server_listens_on_loopback_only(mlflow_server: Server) -> None:
    with socket.create_connection(("127.0.0.1", mlflow_server.port), timeout=2):
        pass
    psutil = pytest.importorskip("psutil")
    interfaces = psutil.net_if_addrs().values()
    outward = {a.address for addresses in interfaces for a in addresses if a.family == socket.AF_INET}
    outward = {address for address in outward if not address.startswith("127.")}
    if not outward:
        pytest.skip("this host has no non-loopback IPv4 address to probe")
    for address in outward:
        with pytest.raises(OSError), socket.create_connection((address, mlflow_server.port), timeout=2):
            pass


def test_runs_tags_and_artifacts_arrive_through_the_rest_api(mlflow_server: Server, http_suite: LoggedSuite) -> None:
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("tiers-over-http")
    assert experiment is not None and experiment.artifact_location.startswith("mlflow-artifacts:")
    runs = client.search_runs([experiment.experiment_id], f"tags.`{TAG_KIND}` = '{KIND_TRIAL}'")
    assert len(runs) == len(http_suite.trials) == 6
    by_id = {trial.run_id: trial for trial in http_suite.trials}
    for run in runs:
        trial = by_id[run.info.run_id]
        assert run.info.status == "FINISHED"
        assert run.data.tags[TAG_PARENT] == http_suite.suite_run_id
        assert run.data.tags[TAG_TIERS] == trial.tiers and run.data.tags[TAG_SPLIT] == trial.split_id
        assert run.data.params["tiers"] == trial.tiers
        assert run.data.metrics["test_mae"] == pytest.approx(trial.metrics["test_mae"], rel=1e-12)
        assert [item.path for item in client.list_artifacts(run.info.run_id)] == ["predictions.csv"]
    # every tier combination of a fold was tested on the same split
    splits = {(r.data.tags["fold"], r.data.tags[TAG_SPLIT]) for r in runs}
    assert len(splits) == 2 and {r.data.tags[TAG_TIERS] for r in runs} == set(TIERS)

    trial = http_suite.trials[0]
    downloaded = Path(client.download_artifacts(trial.run_id, "predictions.csv", str(mlflow_server.store.parent)))
    table = pd.read_csv(downloaded)
    assert list(table["id"]) == list(trial.test_ids)
    assert table["prediction"].to_numpy() == pytest.approx(trial.predictions, rel=1e-12)
    stored = list(mlflow_server.artifacts.rglob("predictions.csv"))
    assert len(stored) == 6  # the server wrote them under --artifacts-destination


def test_compare_over_http_logs_its_outputs_to_the_suite_run(
    mlflow_server: Server, http_suite: LoggedSuite, tmp_path: Path
) -> None:
    result = compare(tracking_uri=mlflow_server.url, experiment="tiers-over-http", output=tmp_path)
    assert result.logged_to == http_suite.suite_run_id
    assert {s.tiers: s.n for s in result.summaries} == dict.fromkeys(TIERS, 2)
    client = MlflowClient(mlflow_server.url)
    names = {Path(item.path).name for item in client.list_artifacts(http_suite.suite_run_id, "comparison/test_mae")}
    assert names == {"comparison.md", "comparison.csv", "comparison.png"}
    matbench = client.list_artifacts(http_suite.suite_run_id, "matbench/atom")
    assert [Path(item.path).name for item in matbench] == ["results.json.gz"]
