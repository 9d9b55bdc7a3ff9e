"""Offline validation of a Ray cluster launcher file (``ray_cluster.yaml``).

Ray's JSON schema catches unknown keys and wrong types; Ray's own ``prepare_config`` and
``validate_config`` catch what the schema cannot (a ``head_node_type`` that names no node type,
``min_workers`` summing past ``max_workers``). tierbench adds its own rule: the head node offers no CPU,
so no trial lands beside the driver and the MLflow server.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import yaml

from tierbench.errors import TierbenchError


class ClusterConfigError(TierbenchError, ValueError):
    """The cluster file would not launch a working tierbench cluster."""


def _tierbench_rules(config: dict[str, Any]) -> None:
    head = config["available_node_types"][config["head_node_type"]]
    if head.get("resources", {}).get("CPU") != 0:
        raise ClusterConfigError(
            f"head node type {config['head_node_type']!r} must declare resources: {{CPU: 0}} so that trials run on "
            "workers, not beside the suite driver and the MLflow server"
        )


def validate_cluster_file(path: str | Path) -> dict[str, Any]:
    """Validate a cluster launcher file without contacting any cloud.

    Args:
        path: The YAML file.

    Returns:
        The configuration as Ray would use it (defaults filled in).

    Raises:
        ClusterConfigError: With the schema or rule that failed.
    """
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    try:
        config = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise ClusterConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(config, dict):
        raise ClusterConfigError(f"{path}: expected a mapping at the top level")
    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)
    try:
        prepared = prepare_config(copy.deepcopy(config))
        validate_config(prepared)
    except jsonschema.ValidationError as error:
        location = "/".join(str(part) for part in error.absolute_path) or "top level"
        raise ClusterConfigError(f"{path}: {location}: {error.message}") from error
    except (ValueError, KeyError, RuntimeError) as error:
        raise ClusterConfigError(f"{path}: {error}") from error
    _tierbench_rules(prepared)
    return prepared
