"""Expanding a suite into trials: datasets × tier combinations × seeds × folds, each with its hash."""

from __future__ import annotations

import hashlib
from typing import Any

from tierbench.config.split import SplitSpec
from tierbench.config.suite import Suite, SuiteDataset, tiers_label
from tierbench.config.trial import PlannedTrial, TrialConfig
from tierbench.tier.registry import load_tier_class

FOLDED_METHODS = {"kfold": None, "matbench": 5}


def _fold_count(suite: Suite) -> int | None:
    if suite.split.method == "kfold":
        return suite.split.folds
    if suite.split.method == "matbench":
        return FOLDED_METHODS["matbench"]
    if suite.split.method == "file":
        from tierbench.datasets.catalog import resolve_path
        from tierbench.datasets.splits import _read_split_file

        splits = _read_split_file(resolve_path(str(suite.split.path)))
        return len(splits) if len(splits) > 1 else None
    return None


def _split_for_seed(split: SplitSpec, seed: int) -> SplitSpec:
    """Random splits differ per seed (shared by every combination of that seed); folds stay fixed."""
    return split.model_copy(update={"seed": split.seed + seed}) if split.method == "random" else split


def _tier_versions(suite: Suite, labels: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for label in labels:
        entry = suite.tiers[label]
        versions[label] = load_tier_class(entry.tier or label).version
    return versions


def _exclusion(suite: Suite, entry: SuiteDataset, labels: tuple[str, ...]) -> str | None:
    periodic = entry.dataset.filters.periodic
    kind = {True: "crystal", False: "molecule"}.get(periodic) if periodic is not None else None
    for label in labels:
        tier_class = load_tier_class(suite.tiers[label].tier or label)
        if kind is not None and kind not in tier_class.kinds:
            return f"tier {label!r} does not accept {kind}s"
    return None


def trial_hash(config: TrialConfig, tier_versions: dict[str, str]) -> str:
    """Hash of the trial config and the versions of its tiers (a new tier version is a new trial)."""
    payload = f"{config.config_hash()}|{sorted(tier_versions.items())}"
    return hashlib.sha256(payload.encode()).hexdigest()


def plan_suite(suite: Suite) -> list[PlannedTrial]:
    """Every trial of the suite, in a stable order (dataset, combination, seed, fold)."""
    folds = _fold_count(suite)
    trials = []
    for entry in suite.datasets:
        spec = entry.dataset.model_copy(update={"targets": (entry.target,)})
        for labels in suite.tier_combinations():
            versions = _tier_versions(suite, labels)
            excluded = _exclusion(suite, entry, labels)
            for seed in suite.seeds:
                for fold in range(folds) if folds else [None]:
                    config = TrialConfig(
                        dataset=spec,
                        target=entry.target,
                        task=entry.task,
                        split=_split_for_seed(suite.split, seed),
                        fold=fold or 0,
                        tiers={label: _trial_tier(suite, label) for label in labels},
                        model=suite.model,
                        optimizer=suite.optimizer,
                        trainer=suite.trainer,
                        seed=seed,
                        cache=suite.cache,
                    )
                    name = f"{entry.name}|{tiers_label(labels)}|seed{seed}" + (f"|fold{fold}" if folds else "")
                    trials.append(
                        PlannedTrial(
                            name, entry.name, labels, seed, fold, config, trial_hash(config, versions), excluded
                        )
                    )
    return trials


def _trial_tier(suite: Suite, label: str) -> dict[str, Any]:
    entry = suite.tiers[label]
    return {"tier": entry.tier or label, "params": entry.params}
