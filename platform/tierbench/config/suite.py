"""Benchmark suites: the YAML schema, loading with errors that point at the line, and overrides.

A suite crosses datasets × tier combinations × seeds (or folds). Unknown keys are errors (a typo must
never silently fall back to a default), and combinations may only use declared tiers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations as subsets
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from tierbench.config.base import StrictModel, TaskType
from tierbench.config.dataset import DatasetSpec
from tierbench.config.model import ModelConfig, OptimizerConfig
from tierbench.config.split import SplitSpec
from tierbench.config.trial import TrainerConfig
from tierbench.errors import TierbenchError

TIER_ORDER = ("atom", "motif", "orbital")
"""Built-in tiers first, in this order, in every tiers label (``atom+motif+orbital``)."""


class TierEntry(StrictModel):
    """A tier of the suite.

    Attributes:
        tier: Registry name or ``package.module:Class`` (default: the entry's label).
        params: Constructor params of the tier.
    """

    tier: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class SuiteDataset(StrictModel):
    """A dataset entry: the data, the target to predict and the task.

    Attributes:
        label: Short name in run names and tables (default: the dataset's name and target).
        dataset: The dataset spec (see :class:`tierbench.datasets.DatasetSpec`).
        target: The target to predict.
        task: ``regression`` or ``classification`` (default: the dataset's task type for the target).
    """

    label: str | None = None
    dataset: DatasetSpec
    target: str
    task: TaskType | None = None

    @property
    def name(self) -> str:
        """The label, or ``<dataset>-<target>``."""
        return self.label or f"{self.dataset.name}-{self.target}"


class Resources(StrictModel):
    """Cluster resources of the suite.

    Attributes:
        workers_per_trial: Training processes per trial (more than 1, or GPUs, runs Ray Train DDP).
        cpus_per_worker: CPUs reserved per training process.
        gpus_per_worker: GPUs per training process (0: CPU training).
        max_concurrent_trials: Trials running at once (default: as many as the resources allow).
        featurize_workers: Parallel tier builds (default: every CPU of the cluster; 1: no Ray).
        max_failures: Restarts of a trial whose process or node died: Ray Train resumes a multi-worker or
            GPU trial from its last checkpoint; a single-worker trial is rerun from the start.
    """

    workers_per_trial: int = Field(1, ge=1)
    cpus_per_worker: float = Field(1.0, gt=0)
    gpus_per_worker: float = Field(0.0, ge=0)
    max_concurrent_trials: int | None = Field(None, ge=1)
    featurize_workers: int | None = Field(None, ge=1)
    max_failures: int = Field(2, ge=0)


class Tracking(StrictModel):
    """Where trials are recorded.

    Attributes:
        experiment: MLflow experiment (default: the suite's name).
        tracking_uri: MLflow tracking URI (default: ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``).
    """

    experiment: str | None = None
    tracking_uri: str | None = None


class Suite(StrictModel):
    """A benchmark suite.

    Attributes:
        name: Suite name.
        description: What the suite measures.
        datasets: Dataset entries.
        split: How each dataset is split; with ``random`` every seed draws its own split (seed added to
            the split seed), shared by all tier combinations of that seed.
        tiers: Tier label → tier entry.
        combinations: ``powerset`` (every non-empty subset of the tiers) or explicit lists of labels.
        must_include: Labels every combination must contain (applies to ``powerset``).
        seeds: Seeds; each gives one trial per dataset, combination and fold.
        model: Fusion model.
        optimizer: Optimizer and schedule.
        trainer: Epochs, batch size, early stopping.
        resources: Cluster resources.
        tracking: MLflow settings.
        cache: Graph cache directory (default: ``TIERBENCH_CACHE`` or ``.tierbench/cache``).
        storage: Checkpoint directory (shared storage on a cluster; default ``.tierbench/runs``).
    """

    name: str = Field(min_length=1)
    description: str = ""
    datasets: list[SuiteDataset] = Field(min_length=1)
    split: SplitSpec = SplitSpec()
    tiers: dict[str, TierEntry] = Field(min_length=1)
    combinations: Literal["powerset"] | list[list[str]] = "powerset"
    must_include: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    model: ModelConfig = ModelConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    trainer: TrainerConfig = TrainerConfig()
    resources: Resources = Resources()
    tracking: Tracking = Tracking()
    cache: str | None = None
    storage: str | None = None

    @model_validator(mode="after")
    def _combinations_use_declared_tiers(self) -> Suite:
        declared = set(self.tiers)
        used = {label for combination in self.tier_combinations() for label in combination}
        for label in [*used, *self.must_include]:
            if label not in declared:
                raise ValueError(f"combination uses tier {label!r}, which the suite does not declare in 'tiers'")
        if not self.tier_combinations():
            raise ValueError("no tier combination left (check 'combinations' and 'must_include')")
        labels = [entry.name for entry in self.datasets]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"dataset labels repeated: {', '.join(repeated)} (set 'label' to tell them apart)")
        return self

    def tier_combinations(self) -> list[tuple[str, ...]]:
        """Every combination, each in canonical tier order, without duplicates."""
        if self.combinations == "powerset":
            labels = list(self.tiers)
            found = [c for size in range(1, len(labels) + 1) for c in subsets(labels, size)]
            found = [c for c in found if set(self.must_include) <= set(c)]
        else:
            found = [tuple(c) for c in self.combinations]
        unique = {ordered_tiers(c): None for c in found if c}
        return list(unique)


def ordered_tiers(labels: Sequence[str]) -> tuple[str, ...]:
    """Built-in tiers first in atom, motif, orbital order, then the others alphabetically."""
    rank = {name: position for position, name in enumerate(TIER_ORDER)}
    return tuple(sorted(set(labels), key=lambda label: (rank.get(label, len(rank)), label)))


def tiers_label(labels: Sequence[str]) -> str:
    """``atom+motif`` style label of a combination."""
    return "+".join(ordered_tiers(labels))


class SuiteError(TierbenchError, ValueError):
    """A suite file that cannot be used; the message names the file, line and key."""


def _key_lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update(_key_lines(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_key_lines(item, (*path, index)))
    return lines


def _line_of(lines: dict[tuple[Any, ...], int], location: tuple[Any, ...]) -> int | None:
    for end in range(len(location), -1, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return None


def apply_overrides(document: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Set dotted keys (``trainer.max_epochs``, ``datasets.0.dataset.size``) in a suite document."""
    for dotted, value in overrides.items():
        target: Any = document
        parts = dotted.split(".")
        for part in parts[:-1]:
            key: Any = int(part) if isinstance(target, list) else part
            target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]
        last: Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
        target[last] = value
    return document


def load_suite(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Suite:
    """Read and validate a suite file.

    Args:
        path: The YAML file.
        overrides: Dotted key → value, applied before validation (``--set`` on the command line).

    Raises:
        SuiteError: Unreadable YAML or an invalid suite; each problem with its line and key.
    """
    path = Path(path)
    text = path.read_text()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SuiteError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, dict):
        raise SuiteError(f"{path}: a suite is a mapping with at least name, datasets and tiers")
    lines = _key_lines(node) if node is not None else {}
    try:
        return Suite.model_validate(apply_overrides(document, overrides or {}))
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            location = tuple(problem["loc"])
            line = _line_of(lines, location)
            where = ".".join(str(part) for part in location) or "suite"
            problems.append(f"{path}:{line or '?'}: {where}: {problem['msg']}")
        raise SuiteError("invalid suite\n" + "\n".join(problems)) from error
