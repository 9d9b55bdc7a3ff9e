"""Connecting to Ray: a local cluster started on demand, or an existing one by address.

The local default binds every service to loopback (``dashboard_host=127.0.0.1``) and gives each task one
CPU with one thread: quantum-chemistry and neighbor-list codes scale far better as one single-threaded
worker per core than as threads (xTB gains only 1.1–1.2× from a second thread).
"""

from __future__ import annotations

import logging
import os
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
