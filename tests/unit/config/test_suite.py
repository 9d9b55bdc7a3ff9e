"""Suite files: strict schema with errors at the line, combinations, overrides, and the trial plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierbench.config.suite import SuiteError, load_suite, ordered_tiers
from tierbench.suite.plan import plan_suite

SUITE = """\
name: tiny
datasets:
  - label: qm9-gap
    dataset: {name: qm9, size: 40}
    target: gap
tiers:
  atom: {}
  motif: {}
  orbital: {params: {backend: xtb}}
seeds: [0, 1]
trainer: {max_epochs: 2, batch_size: 8}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_powerset_expands_every_non_empty_combination_in_canonical_order(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE))
    combinations = suite.tier_combinations()
    assert len(combinations) == 7
    assert ("atom", "motif", "orbital") in combinations and ("motif", "orbital") in combinations
    assert all(combination == ordered_tiers(combination) for combination in combinations)


def test_must_include_and_explicit_combinations(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE + "must_include: [atom]\n"))
    assert suite.tier_combinations() == [
        ("atom",),
        ("atom", "motif"),
        ("atom", "orbital"),
        ("atom", "motif", "orbital"),
    ]
    explicit = load_suite(_write(tmp_path, SUITE + "combinations: [[orbital, atom], [atom]]\n"))
    assert explicit.tier_combinations() == [("atom", "orbital"), ("atom",)]


def test_unknown_key_is_rejected_with_its_line(tmp_path: Path) -> None:
    text = SUITE.replace("trainer: {max_epochs: 2, batch_size: 8}", "trainer:\n  max_epochs: 2\n  max_epoch: 3")
    with pytest.raises(SuiteError) as raised:
        load_suite(_write(tmp_path, text))
    assert "suite.yaml:13: trainer.max_epoch: Extra inputs are not permitted" in str(raised.value)


def test_combination_with_undeclared_tier_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="combination uses tier 'voronoi', which the suite does not declare"):
        load_suite(_write(tmp_path, SUITE + "combinations: [[atom, voronoi]]\n"))


def test_invalid_values_point_at_their_key(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match=r"suite.yaml:4: datasets.0.dataset.size: Input should be greater than 0"):
        load_suite(_write(tmp_path, SUITE.replace("size: 40", "size: -5")))
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(_write(tmp_path, "name: [unclosed\n"))


def test_overrides_set_nested_keys_before_validation(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE), {"trainer.max_epochs": 7, "datasets.0.dataset.size": 30})
    assert suite.trainer.max_epochs == 7 and suite.datasets[0].dataset.size == 30


def test_plan_has_one_trial_per_combination_and_seed_with_stable_hashes(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE))
    plan = plan_suite(suite)
    assert len(plan) == 7 * 2
    assert len({trial.config_hash for trial in plan}) == len(plan)
    assert [trial.config_hash for trial in plan_suite(load_suite(_write(tmp_path, SUITE)))] == [
        trial.config_hash for trial in plan
    ]
    first = plan[0]
    assert first.name == "qm9-gap|atom|seed0" and first.config.dataset.targets == ("gap",)
    seeds = {trial.seed: trial.config.split.seed for trial in plan}
    assert seeds == {0: 0, 1: 1}, "each seed draws its own random split"
    changed = plan_suite(load_suite(_write(tmp_path, SUITE), {"trainer.max_epochs": 3}))
    assert not {trial.config_hash for trial in changed} & {trial.config_hash for trial in plan}


def test_folds_multiply_trials_and_keep_the_split_seed(tmp_path: Path) -> None:
    suite = load_suite(_write(tmp_path, SUITE + "split: {method: kfold, folds: 3}\n"), {"seeds": [0]})
    plan = plan_suite(suite)
    assert len(plan) == 7 * 3
    assert {trial.fold for trial in plan} == {0, 1, 2}
    assert plan[0].name == "qm9-gap|atom|seed0|fold0"
    assert {trial.config.split.seed for trial in plan} == {0}


def test_tier_that_refuses_the_dataset_kind_is_excluded_with_the_reason(tmp_path: Path) -> None:
    text = SUITE.replace(
        "    dataset: {name: qm9, size: 40}", "    dataset: {name: qm9, size: 40, filters: {periodic: false}}"
    )
    text = text.replace("  orbital: {params: {backend: xtb}}", "  voronoi: {tier: 'tierbench_voronoi:VoronoiTier'}")
    import sys

    from tests.paths import EXAMPLE_PLUGIN_DIR

    sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))
    plan = plan_suite(load_suite(_write(tmp_path, text)))
    excluded = {trial.tiers_label: trial.excluded for trial in plan if trial.excluded}
    assert excluded["atom+voronoi"] == "tier 'voronoi' does not accept molecules"
    assert all(trial.excluded is None for trial in plan if "voronoi" not in trial.tiers)
