"""Names of the tags, run kinds, run states and artifacts that tierbench writes to MLflow, defined once.

Users filter on these in the MLflow UI (``tags.tiers = 'atom+motif'``) and the comparison reads them back.
"""

from __future__ import annotations

TAG_KIND = "tierbench.kind"
TAG_SUITE = "tierbench.suite"
TAG_DRIVER = "tierbench.driver"
TAG_TIERS = "tiers"
TAG_DATASET = "dataset"
TAG_TARGET = "target"
TAG_UNIT = "unit"
TAG_TASK = "task"
TAG_SPLIT = "split_id"
TAG_SEED = "seed"
TAG_FOLD = "fold"
TAG_CONFIG_HASH = "config_hash"
TAG_FAILURE = "failure_reason"
TAG_PARENT = "mlflow.parentRunId"
KIND_SUITE = "suite"
KIND_TRIAL = "trial"
PREDICTIONS_ARTIFACT = "predictions.csv"
"""Test predictions of a trial at its artifact root: columns ``id,target,prediction`` (probability of
class 1 for classification)."""

FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
RUNNING = "RUNNING"
"""MLflow run states."""

TAG_NODE_IPS = "ray.node_ips"
"""Comma-separated IP addresses of the nodes a trial's training processes ran on (rank order)."""
TAG_NODE_IDS = "ray.node_ids"
"""Comma-separated Ray node ids of those processes."""
