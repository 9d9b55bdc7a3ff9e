"""Train / validation / test splits that every tier combination of a suite shares.

A split is a pure function of the dataset's content fingerprint and a :class:`SplitSpec`, and is
identified by a hash of both (``Split.split_id``). Loading the same data and asking for the same spec
therefore gives the same samples in the same parts for every tier combination, which is what makes
paired comparisons between them valid. When a tier cannot featurize some samples, :meth:`Split.restrict`
drops them from every part without moving any other sample to another part.

Methods:
* ``random``: a seeded permutation; ``test`` and ``val`` are fractions of the dataset (stratified on a
  classification target with ``stratify``).
* ``kfold``: ``folds`` seeded folds (``StratifiedKFold`` with ``stratify``); one split per fold.
* ``matbench``: matbench's protocol, ``KFold(n_splits=5, shuffle=True, random_state=18012019)`` over
  the rows of the task file (``StratifiedKFold`` with the same arguments for classification tasks), so
  test folds equal the leaderboard's.
* ``file``: parts listed in a JSON file (``{"train": [ids], "val": [ids], "test": [ids]}`` or
  ``{"folds": [{...}, ...]}``) or a CSV with columns ``id,split``.

Methods that define no validation part (``kfold``, ``matbench``, a file without ``val``) hold out the
fraction ``val`` of each training part for validation, drawn with the same seed.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from tierbench.config.split import SplitSpec
from tierbench.datasets.matbench_tasks import MATBENCH_FOLD_SEED, MATBENCH_FOLDS

if TYPE_CHECKING:
    from tierbench.datasets import Dataset

PARTS = ("train", "val", "test")
SPLIT_ID_LENGTH = 16


@dataclass(frozen=True)
class Split:
    """Sample ids per part.

    Attributes:
        split_id: Hash of (dataset fingerprint, split spec, fold): equal ids mean equal assignments.
        fold: Fold number for fold-based methods, else ``None``.
        train: Training sample ids.
        val: Validation sample ids.
        test: Test sample ids.
        restricted_to: Hash of the id set the split was restricted to, ``None`` when unrestricted.
    """

    split_id: str
    fold: int | None
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    restricted_to: str | None = None

    def parts(self) -> dict[str, tuple[str, ...]]:
        """Part name → ids."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def sizes(self) -> dict[str, int]:
        """Part name → number of samples."""
        return {name: len(ids) for name, ids in self.parts().items()}

    def assignment(self) -> dict[str, str]:
        """Sample id → part name."""
        return {sample_id: name for name, ids in self.parts().items() for sample_id in ids}

    def restrict(self, sample_ids: Iterable[str]) -> Split:
        """The same split over only ``sample_ids`` (e.g. those every tier could featurize).

        No sample changes part; ``split_id`` stays (it names the assignment) and ``restricted_to``
        records the subset.
        """
        kept = set(sample_ids)
        digest = hashlib.sha256("\0".join(sorted(kept)).encode()).hexdigest()[:SPLIT_ID_LENGTH]
        return replace(
            self,
            train=tuple(i for i in self.train if i in kept),
            val=tuple(i for i in self.val if i in kept),
            test=tuple(i for i in self.test if i in kept),
            restricted_to=digest,
        )

    def positions(self, dataset: Dataset) -> dict[str, np.ndarray]:
        """Part name → positions of its samples in ``dataset``."""
        return {name: dataset.positions_of(ids) for name, ids in self.parts().items()}


def split_id(fingerprint: str, spec: SplitSpec, fold: int | None, file_digest: str = "") -> str:
    """The id of one split: a hash of the dataset fingerprint, the spec, the fold and the split file."""
    identity = {
        "dataset": fingerprint,
        "spec": spec.model_dump(mode="json", exclude={"path"}),
        "fold": fold,
        "file": file_digest,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:SPLIT_ID_LENGTH]


def matbench_folds(n_rows: int, labels: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Matbench v0.1 folds over the rows of a task file: ``(train rows, test rows)`` per fold.

    Args:
        n_rows: Rows in the task file.
        labels: Class labels of every row for a classification task (then ``StratifiedKFold``).
    """
    arguments = {"n_splits": MATBENCH_FOLDS, "shuffle": True, "random_state": MATBENCH_FOLD_SEED}
    rows = np.arange(n_rows)
    if labels is None:
        return list(KFold(**arguments).split(rows))
    return list(StratifiedKFold(**arguments).split(rows, labels))


def _class_labels(dataset: Dataset, target: str) -> np.ndarray:
    if dataset.task_types.get(target) != "classification":
        raise ValueError(f"stratify needs a classification target; {target!r} is {dataset.task_types.get(target)}")
    values = dataset.target_values(target)
    if not np.isfinite(values).all():
        raise ValueError(f"cannot stratify on {target!r}: some samples have no value")
    return values


def _draw(positions: np.ndarray, count: int, seed: Any, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``count`` of ``positions`` drawn with ``seed`` (stratified by ``labels``): (drawn, rest), sorted."""
    if count == 0:
        return positions[:0], np.sort(positions)
    if labels is None:
        order = np.random.default_rng(seed).permutation(len(positions))
        return np.sort(positions[order[:count]]), np.sort(positions[order[count:]])
    rest, drawn = train_test_split(
        positions, test_size=count, stratify=labels[positions], random_state=np.random.default_rng(seed).integers(2**31)
    )
    return np.sort(drawn), np.sort(rest)


def _hold_out_val(
    train: np.ndarray, spec: SplitSpec, fold: int | None, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) with the fraction ``spec.val`` of ``train`` held out."""
    val, rest = _draw(train, round(spec.val * len(train)), [spec.seed, -1 if fold is None else fold], labels)
    return rest, val


def _fold_splits(
    dataset: Dataset, spec: SplitSpec, folds: list[tuple[np.ndarray, np.ndarray]], labels: np.ndarray | None
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    splits = []
    for fold, (train_and_val, test) in enumerate(folds):
        train, val = _hold_out_val(np.asarray(train_and_val), spec, fold, labels)
        splits.append((train, val, np.sort(test)))
    return splits


def _matbench(dataset: Dataset, spec: SplitSpec) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    source_rows = dataset.info.source_rows
    labels = None
    classification = [name for name, kind in dataset.task_types.items() if kind == "classification"]
    if classification:
        if len(dataset) != source_rows:
            raise ValueError(
                f"matbench folds of a classification task are stratified over every row of the task file; "
                f"{dataset.name} keeps {len(dataset)} of {source_rows} rows (quarantine, filters or size)"
            )
        labels = np.empty(source_rows)
        labels[dataset.source_index] = dataset.target_values(classification[0])
    position_of_row = np.full(source_rows, -1, dtype=np.int64)
    position_of_row[dataset.source_index] = np.arange(len(dataset))
    folds = []
    for train_rows, test_rows in matbench_folds(source_rows, labels):
        train, test = position_of_row[train_rows], position_of_row[test_rows]
        folds.append((train[train >= 0], test[test >= 0]))
    position_labels = None if labels is None else labels[dataset.source_index]
    return _fold_splits(dataset, spec, folds, position_labels)


def _read_split_file(path: Path) -> list[dict[str, list[str]]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows or not {"id", "split"} <= set(rows[0]):
            raise ValueError(f"{path.name}: a split CSV needs the columns id,split")
        parts: dict[str, list[str]] = {}
        for row in rows:
            if row["split"] not in PARTS:
                raise ValueError(f"{path.name}: split {row['split']!r} for {row['id']!r} is not one of {PARTS}")
            parts.setdefault(row["split"], []).append(row["id"])
        folds = [parts]
    else:
        payload = json.loads(path.read_text())
        folds = payload["folds"] if isinstance(payload, dict) and "folds" in payload else [payload]
    for fold in folds:
        unknown = set(fold) - set(PARTS)
        if unknown or "train" not in fold:
            raise ValueError(f"{path.name}: each split needs 'train' and may have 'val', 'test'; found {sorted(fold)}")
    return folds


def _from_file(dataset: Dataset, spec: SplitSpec, path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    quarantined = {row.sample_id for row in dataset.quarantine.rows}
    known = set(dataset.ids)
    splits = []
    for fold, parts in enumerate(_read_split_file(path)):
        listed = {name: [str(i) for i in parts.get(name, [])] for name in PARTS}
        unknown = [i for ids in listed.values() for i in ids if i not in known and i not in quarantined]
        if unknown:
            raise ValueError(f"{path.name} lists ids that {dataset.name} does not have: {', '.join(unknown[:5])}")
        positions = {
            name: np.sort(dataset.positions_of([i for i in ids if i in known])) for name, ids in listed.items()
        }
        train, val = positions["train"], positions["val"]
        if "val" not in parts:
            train, val = _hold_out_val(train, spec, fold, None)
        splits.append((train, val, positions["test"]))
    return splits


def make_splits(dataset: Dataset, spec: SplitSpec | Mapping[str, Any]) -> list[Split]:
    """The splits of ``dataset`` that ``spec`` describes (one, or one per fold).

    Args:
        dataset: A loaded dataset.
        spec: A :class:`SplitSpec` or its mapping, e.g. ``{"method": "kfold", "folds": 5, "seed": 0}``.

    Raises:
        ValueError: Stratifying on a regression target, ids in a split file that the dataset lacks,
            classification matbench folds over an incomplete task file.
    """
    from tierbench.datasets.catalog import resolve_path

    spec = spec if isinstance(spec, SplitSpec) else SplitSpec.model_validate(spec)
    labels = _class_labels(dataset, spec.stratify) if spec.stratify else None
    file_digest = ""
    everything = np.arange(len(dataset))
    if spec.method == "random":
        test, rest = _draw(everything, round(spec.test * len(dataset)), spec.seed, labels)
        val, train = _draw(rest, round(spec.val * len(dataset)), [spec.seed, 1], labels)
        raw = [(train, val, test)]
    elif spec.method == "kfold":
        splitter = StratifiedKFold if labels is not None else KFold
        folds = list(splitter(n_splits=spec.folds, shuffle=True, random_state=spec.seed).split(everything, labels))
        raw = _fold_splits(dataset, spec, folds, labels)
    elif spec.method == "matbench":
        raw = _matbench(dataset, spec)
    else:
        path = resolve_path(str(spec.path))
        file_digest = hashlib.sha256(path.read_bytes()).hexdigest()
        raw = _from_file(dataset, spec, path)
    ids = dataset.table.ids
    numbered = len(raw) > 1 or spec.method in {"kfold", "matbench"}
    return [
        Split(
            split_id=split_id(dataset.fingerprint, spec, fold if numbered else None, file_digest),
            fold=fold if numbered else None,
            train=tuple(ids[train].tolist()),
            val=tuple(ids[val].tolist()),
            test=tuple(ids[test].tolist()),
        )
        for fold, (train, val, test) in enumerate(raw)
    ]
