"""Configuration: validated, JSON-able, strict about typos, and free of torch, Ray and MLflow.

Reading a suite file and planning its trials therefore costs no heavy import.
"""

from __future__ import annotations

from tierbench.config.base import StrictModel, TaskType
from tierbench.config.dataset import FORMATS, DatasetSpec, FilterSpec
from tierbench.config.model import EncoderConfig, ModelConfig, OptimizerConfig, RBFConfig
from tierbench.config.split import SplitSpec
from tierbench.config.suite import Resources, Suite, SuiteDataset, SuiteError, TierEntry, Tracking, load_suite
from tierbench.config.trial import PlannedTrial, TrainerConfig, TrialConfig, TrialTier

__all__ = [
    "FORMATS",
    "DatasetSpec",
    "EncoderConfig",
    "FilterSpec",
    "ModelConfig",
    "OptimizerConfig",
    "PlannedTrial",
    "RBFConfig",
    "Resources",
    "SplitSpec",
    "StrictModel",
    "Suite",
    "SuiteDataset",
    "SuiteError",
    "TaskType",
    "TierEntry",
    "Tracking",
    "TrainerConfig",
    "TrialConfig",
    "TrialTier",
    "load_suite",
]
