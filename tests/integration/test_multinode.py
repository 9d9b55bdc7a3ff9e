"""A real two-node Ray cluster on loopback: trials land on both nodes, and one DDP trial spans them.

A head node and a worker node (one CPU each) run as separate ``ray start --block`` processes in their own
process groups, with their own temp folder, ports and authentication token, so the session's local
cluster is never touched. (On Linux Ray replaces a loopback node address by the host's own address, so
the nodes listen there.) A separate driver process (this file run as a script) joins the cluster by
address, like ``tierbench bench --address``, and runs the trials. Both nodes are stopped afterwards,
whatever happened: SIGTERM to each ``ray start`` process, then SIGKILL to what is left of its process
group.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RAY = Path(sys.executable).with_name("ray")
QM9_60 = {"name": "qm9", "size": 60, "targets": ["gap"], "seed": 0}
SINGLE_WORKER_TRIALS = 4


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node_ports() -> list[str]:
    """Ports that would clash between two nodes on one host if left at their defaults."""
    options = [
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    ]
    return [item for option in options for item in (option, str(_free_port()))]


def _start_node(arguments: list[str], log: Path, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(RAY), "start", "--block", "--num-cpus", "1", *arguments]
    with log.open("wb") as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the head node exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the head node did not open port {port} within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the node (Ray shuts its processes down), then SIGKILL whatever is left in its process group."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def two_node_cluster(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``(address, environment)`` of a head node and a worker node started as separate processes."""
    environment = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    environment.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    environment["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"  # nothing to drain: stop at once
    port = _free_port()
    # Ray's socket paths live under the temp folder and must stay below 108 bytes: keep it short
    temp_dir = tempfile.mkdtemp(prefix="tb-ray-")
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        head_options = ["--head", "--port", str(port), "--temp-dir", temp_dir, "--include-dashboard", "false"]
        head_options += ["--dashboard-host", "127.0.0.1", "--ray-client-server-port", str(_free_port())]
        nodes.append(_start_node([*head_options, *_node_ports()], tmp_path / "head.log", environment))
        _wait_for_port(port, nodes[0])
        worker_options = ["--address", f"127.0.0.1:{port}", "--temp-dir", temp_dir]
        nodes.append(_start_node([*worker_options, *_node_ports()], tmp_path / "worker.log", environment))
        yield f"127.0.0.1:{port}", environment
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_trials_run_on_both_nodes_and_ddp_spans_them(two_node_cluster, tmp_path: Path) -> None:
    address, environment = two_node_cluster
    driver = subprocess.run(
        [sys.executable, __file__, address, str(tmp_path)],
        env={**environment, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert driver.returncode == 0, driver.stdout[-4000:] + driver.stderr[-4000:]
    report = json.loads((tmp_path / "results.json").read_text())
    assert len(report["nodes"]) == 2
    single = [row for row in report["results"] if row["name"] != "ddp"]
    assert len(single) == SINGLE_WORKER_TRIALS
    assert all(row["status"] == "ok" for row in report["results"]), report["results"]
    assert {node for row in single for node in row["node_ids"]} == set(report["nodes"])
    [ddp] = [row for row in report["results"] if row["name"] == "ddp"]
    assert sorted(ddp["node_ids"]) == sorted(report["nodes"])
    print(json.dumps(report["results"], indent=1))


def _wait_for_nodes(count: int, timeout: float = 120.0) -> list[str]:
    import ray

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        if len(alive) >= count:
            return alive
        time.sleep(0.5)
    raise TimeoutError(f"fewer than {count} Ray nodes alive after {timeout} s")


def drive(address: str, folder: Path) -> None:
    """The driver process: four single-worker trials and one two-worker DDP trial on the cluster."""
    import tierbench
    from tierbench.cluster.jobs import ClusterTrialResult, TrialJob
    from tierbench.cluster.scheduler import run_trials
    from tierbench.config.suite import Resources
    from tierbench.config.trial import TrialConfig
    from tierbench.ray_connection import connect_ray

    connect_ray(address)
    nodes = _wait_for_nodes(2)
    dataset = tierbench.load_dataset(QM9_60)
    config = TrialConfig.model_validate(
        {
            "dataset": QM9_60,
            "target": "gap",
            "tiers": ["atom"],
            "trainer": {"max_epochs": 2, "batch_size": 16},
            "model": {"hidden_dim": 16},
            "cache": str(folder / "cache"),
        }
    )
    storage = str(folder / "runs")
    rows: list[dict[str, object]] = []

    def record(job: TrialJob, result: ClusterTrialResult) -> None:
        rows.append(
            {
                "name": job.name,
                "status": result.status,
                "failure": result.failure_message,
                "node_ids": result.node_ids,
                "node_ips": result.node_ips,
                "test_mae": result.metrics.get("test_mae"),
                "trial_seconds": result.timings.get("total"),
                "wall_seconds": result.wall_seconds,
            }
        )

    seeds = [config.model_copy(update={"seed": seed}) for seed in range(SINGLE_WORKER_TRIALS)]
    jobs = [TrialJob(f"seed{trial.seed}", trial, storage) for trial in seeds]
    run_trials(jobs, Resources(max_concurrent_trials=2), dataset=dataset, address=address, on_result=record)
    ddp = [TrialJob("ddp", config, storage)]
    run_trials(ddp, Resources(workers_per_trial=2, max_failures=0), dataset=dataset, address=address, on_result=record)
    (folder / "results.json").write_text(json.dumps({"nodes": nodes, "results": rows}))


if __name__ == "__main__":
    drive(sys.argv[1], Path(sys.argv[2]))
