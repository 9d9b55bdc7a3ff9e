"""Connecting to Ray: a local cluster started on demand, or an existing one by address.

The local default binds every service to loopback (``dashboard_host=127.0.0.1``) and gives each task one
CPU with one thread: quantum-chemistry and neighbor-list codes scale far better as one single-threaded
worker per core than as threads (xTB gains only 1.1–1.2× from a second thread).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def resolve_address(address: str | None) -> str | None:
    """The Ray address to join: the argument, else ``RAY_ADDRESS``, else ``None`` (start locally)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def connect_ray(address: str | None = None, num_cpus: int | None = None) -> dict[str, Any]:
    """Make sure this process is connected to Ray.

    Args:
        address: Cluster address (``"ray://…"``, ``"host:port"`` or ``"auto"``); ``None`` uses
            ``RAY_ADDRESS`` or starts a local cluster on this machine.
        num_cpus: CPUs of a locally started cluster (default: all).

    Returns:
        The cluster's total resources.
    """
    import ray

    if not ray.is_initialized():
        target = resolve_address(address)
        options: dict[str, Any] = {
            "runtime_env": {"env_vars": SINGLE_THREAD_ENV},
            "log_to_driver": False,
            "configure_logging": False,
        }
        if target is None:
            options.update(num_cpus=num_cpus, include_dashboard=False, dashboard_host="127.0.0.1")
        ray.init(address=target, **options)
        logger.info("connected to Ray at %s", target or "a new local cluster")
    return dict(ray.cluster_resources())


def cluster_cpus() -> int:
    """Number of CPUs in the connected cluster."""
    import ray

    return int(ray.cluster_resources().get("CPU", 1))


def trials_that_fit(per_trial: Mapping[str, float]) -> int:
    """How many trials needing ``per_trial`` resources (``{"CPU": 2, "GPU": 1}``) the cluster holds at once.

    Counts the cluster's current total resources, so an autoscaling cluster that has not grown yet
    gives a small number; at least 1.
    """
    import ray

    total = ray.cluster_resources()
    counts = [math.floor(total.get(name, 0.0) / amount + 1e-9) for name, amount in per_trial.items() if amount > 0]
    return max(1, min(counts, default=1))


@dataclass(frozen=True)
class NodeInfo:
    """Where a process runs in the Ray cluster.

    Attributes:
        node_id: Ray's node id (distinct for every node, also for several nodes on one host).
        node_ip: The node's IP address.
        pid: The process id.
    """

    node_id: str
    node_ip: str
    pid: int


def current_node() -> NodeInfo:
    """The node of the calling process (a Ray worker or a connected driver)."""
    import ray

    return NodeInfo(ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), os.getpid())
