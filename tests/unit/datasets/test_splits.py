"""Splits: shared by every tier combination, seeded, matbench-compatible, restrictable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.model_selection import KFold, StratifiedKFold

from tests.paths import DATA_DIR
from tierbench.config.split import SplitSpec
from tierbench.datasets import Dataset, load_dataset
from tierbench.datasets.splits import Split, make_splits, matbench_folds

DATA = DATA_DIR / "datasets"
GAP_FILE = DATA / "matbench_mp_gap.json.gz"
METAL_FILE = DATA / "matbench_mp_is_metal.json.gz"


def _gap(**spec: object) -> Dataset:
    return load_dataset({"name": "matbench_mp_gap", "path": str(GAP_FILE), **spec})


def _metal(**spec: object) -> Dataset:
    return load_dataset({"name": "matbench_mp_is_metal", "path": str(METAL_FILE), **spec})


def _check_partition(split: Split, dataset: Dataset) -> None:
    parts = [set(ids) for ids in split.parts().values()]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert set().union(*parts) == set(dataset.ids)


def test_every_tier_combination_gets_the_same_split() -> None:
    # Two trials load the dataset independently (as two tier combinations of one suite do).
    first = make_splits(_metal(), {"seed": 3})
    second = make_splits(_metal(), SplitSpec(seed=3))
    assert first == second
    assert first[0].split_id == second[0].split_id
    _check_partition(first[0], _metal())
    assert first[0].sizes() == {"train": 32, "val": 4, "test": 4}


def test_seeds_give_different_splits_and_ids() -> None:
    dataset = _metal()
    a, b = make_splits(dataset, {"seed": 0})[0], make_splits(dataset, {"seed": 1})[0]
    assert a.split_id != b.split_id
    assert a.test != b.test
    assert make_splits(dataset, {"seed": 0, "test": 0.2})[0].split_id != a.split_id


def test_split_id_is_bound_to_the_dataset_content() -> None:
    full, subset = _metal(), _metal(size=30, seed=2)
    assert make_splits(full, {})[0].split_id != make_splits(subset, {})[0].split_id


def test_restricting_to_covered_samples_moves_no_sample() -> None:
    dataset = _gap()
    split = make_splits(dataset, {"seed": 5, "test": 0.2, "val": 0.2})[0]
    covered_by_one_tier = set(dataset.ids[::2])
    covered_by_another = set(dataset.ids[1::3]) | set(dataset.ids[::4])
    for coverage in (covered_by_one_tier, covered_by_another):
        restricted = split.restrict(coverage)
        assert restricted.split_id == split.split_id
        assert restricted.restricted_to is not None
        assignment = split.assignment()
        assert all(assignment[i] == part for i, part in restricted.assignment().items())
        assert set(restricted.assignment()) == coverage
    both = covered_by_one_tier & covered_by_another
    one, other = split.restrict(covered_by_one_tier).restrict(both), split.restrict(covered_by_another).restrict(both)
    assert one.parts() == other.parts() and one.restricted_to == other.restricted_to


def test_matbench_folds_are_matbenchs_protocol() -> None:
    dataset = _gap()
    splits = make_splits(dataset, {"method": "matbench", "val": 0.0})
    reference = list(KFold(n_splits=5, shuffle=True, random_state=18012019).split(np.arange(30)))
    assert len(splits) == 5
    for split, (train, test) in zip(splits, reference, strict=True):
        assert split.test == tuple(dataset.ids[i] for i in test)
        assert split.train == tuple(dataset.ids[i] for i in train)
        assert split.val == ()
    assert [f"mb-mp-gap-{i + 1:02d}" for i in reference[0][1]] == list(splits[0].test)


def test_matbench_classification_folds_are_stratified_like_matbench() -> None:
    dataset = _metal()
    labels = dataset.target_values("is_metal")
    reference = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=18012019).split(np.arange(40), labels))
    for split, (_, test) in zip(make_splits(dataset, {"method": "matbench"}), reference, strict=True):
        assert split.test == tuple(dataset.ids[i] for i in test)
        assert len(split.val) == round(0.1 * 32)
        _check_partition(split, dataset)
    np.testing.assert_array_equal(matbench_folds(40, labels)[2][1], reference[2][1])
    with pytest.raises(ValueError, match="every row of the task file"):
        make_splits(_metal(size=20), {"method": "matbench"})


def test_matbench_test_folds_survive_subsets_of_regression_tasks() -> None:
    full, subset = _gap(), _gap(size=20, seed=1)
    for whole, part in zip(
        make_splits(full, {"method": "matbench"}), make_splits(subset, {"method": "matbench"}), strict=True
    ):
        assert set(part.test) == set(whole.test) & set(subset.ids)


def test_kfold_covers_each_sample_once_and_stratifies() -> None:
    dataset = _metal()
    folds = make_splits(dataset, {"method": "kfold", "folds": 4, "seed": 2, "stratify": "is_metal"})
    assert [split.fold for split in folds] == [0, 1, 2, 3]
    tests = [sample for split in folds for sample in split.test]
    assert sorted(tests) == sorted(dataset.ids)
    metal = {i for i, label in zip(dataset.ids, dataset.target_values("is_metal"), strict=True) if label == 1}
    for split in folds:
        _check_partition(split, dataset)
        assert sum(i in metal for i in split.test) == 4  # 16 metals over 4 folds
    assert len({split.split_id for split in folds}) == 4


def test_stratified_random_split_keeps_class_proportions() -> None:
    dataset = _metal()
    split = make_splits(dataset, {"stratify": "is_metal", "test": 0.25, "val": 0.25, "seed": 9})[0]
    metal = {i for i, label in zip(dataset.ids, dataset.target_values("is_metal"), strict=True) if label == 1}
    assert [sum(i in metal for i in ids) for ids in split.parts().values()] == [8, 4, 4]
    with pytest.raises(ValueError, match="classification target"):
        make_splits(_gap(), {"stratify": "gap pbe"})


def test_split_from_files(tmp_path: Path) -> None:
    dataset = _gap()
    ids = dataset.ids
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": ids[:20], "val": ids[20:25], "test": ids[25:]}))
    split = make_splits(dataset, {"method": "file", "path": str(path)})[0]
    assert split.train == ids[:20] and split.val == ids[20:25] and split.test == ids[25:]
    csv_path = tmp_path / "split.csv"
    csv_path.write_text("id,split\n" + "".join(f"{i},{'test' if n < 6 else 'train'}\n" for n, i in enumerate(ids)))
    from_csv = make_splits(dataset, {"method": "file", "path": str(csv_path), "val": 0.25})[0]
    assert from_csv.test == ids[:6] and len(from_csv.val) == 6 and len(from_csv.train) == 18
    folds = tmp_path / "folds.json"
    folds.write_text(
        json.dumps({"folds": [{"train": ids[:15], "test": ids[15:]}, {"train": ids[15:], "test": ids[:15]}]})
    )
    assert [s.fold for s in make_splits(dataset, {"method": "file", "path": str(folds), "val": 0.0})] == [0, 1]
    path.write_text(json.dumps({"train": [*ids[:20], "mb-mp-gap-99"], "test": ids[20:]}))
    with pytest.raises(ValueError, match="mb-mp-gap-99"):
        make_splits(dataset, {"method": "file", "path": str(path)})
    changed = make_splits(dataset, {"method": "file", "path": str(folds), "val": 0.0})[0].split_id
    folds.write_text(json.dumps({"folds": [{"train": ids[:14], "test": ids[14:]}]}))
    assert make_splits(dataset, {"method": "file", "path": str(folds), "val": 0.0})[0].split_id != changed


def test_split_file_may_name_quarantined_samples(tmp_path: Path) -> None:
    dataset = load_dataset(
        {"name": "bad", "format": "mp_jsonl", "path": str(DATA / "mp_bad_rows.jsonl"), "id_key": "mp_id"}
    )
    path = tmp_path / "split.json"
    path.write_text(json.dumps({"train": [*dataset.ids[:5], "bad-overlap"], "test": [*dataset.ids[5:], "bad-element"]}))
    split = make_splits(dataset, {"method": "file", "path": str(path), "val": 0.0})[0]
    assert split.train == dataset.ids[:5] and split.test == dataset.ids[5:]


def test_split_spec_is_strict() -> None:
    with pytest.raises(ValidationError, match="extra"):
        SplitSpec.model_validate({"method": "random", "fold": 1})
    with pytest.raises(ValidationError, match="no training data"):
        SplitSpec(test=0.5, val=0.5)
    with pytest.raises(ValidationError, match="needs a path"):
        SplitSpec(method="file")
    positions = make_splits(_gap(), {})[0].positions(_gap())
    assert sorted(np.concatenate(list(positions.values())).tolist()) == list(range(30))
