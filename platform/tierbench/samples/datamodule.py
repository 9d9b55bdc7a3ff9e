"""Serving multi-tier batches to Lightning: train/val/test from the cached graphs, targets standardized.

Only samples that every selected tier covers (and that have every target) take part, and a split is
restricted to them without moving any sample between parts — so two tier combinations over the same
split compare on identical structures wherever both cover them.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import DataLoader

from tierbench.featurization.results import Featurization
from tierbench.samples.multitier import combine_tiers
from tierbench.structures.sample import Sample
from tierbench.tier import TierDims

PARTS = ("train", "val", "test")


@dataclass
class TargetScaler:
    """Per-target affine standardization fitted on the training split.

    Attributes:
        mean: ``[n_targets]`` mean (0 for unscaled targets).
        std: ``[n_targets]`` standard deviation (1 for unscaled targets).
    """

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, values: torch.Tensor, scaled: Sequence[bool]) -> TargetScaler:
        """Fit on ``values`` ``[n, n_targets]``; targets with ``scaled`` False (class labels) stay as they are."""
        mask = torch.tensor(list(scaled), dtype=torch.bool)
        mean = torch.where(mask, values.mean(dim=0), torch.zeros(values.shape[1]))
        spread = values.std(dim=0) if len(values) > 1 else torch.ones(values.shape[1])
        std = torch.where(mask & (spread > 0), spread, torch.ones(values.shape[1]))
        return cls(mean, std)

    def transform(self, values: torch.Tensor) -> torch.Tensor:
        """Target units → standardized."""
        return (values - self.mean) / self.std

    def inverse(self, values: torch.Tensor) -> torch.Tensor:
        """Standardized → target units."""
        return values * self.std + self.mean


class MultiTierDataModule(pl.LightningDataModule):
    """Train/val/test loaders of multi-tier samples.

    Args:
        dataset: The samples (indices match the featurization and the split).
        featurization: Where the graphs are.
        tiers: Tier labels of this combination.
        targets: Target names, in output order.
        split: ``{"train": [...], "val": [...], "test": [...]}`` sample indices.
        batch_size: Samples per batch.
        scaled: Per target, whether to standardize it (False for class labels). Default: all.
        seed: Seed of the training shuffle.
    """

    def __init__(
        self,
        dataset: Sequence[Sample],
        featurization: Featurization,
        tiers: Sequence[str],
        targets: Sequence[str],
        split: Mapping[str, Sequence[int]],
        *,
        batch_size: int = 64,
        scaled: Sequence[bool] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        unknown = [label for label in tiers if label not in featurization.tiers]
        if unknown:
            raise ValueError(f"tiers {unknown} were not featurized; featurized: {sorted(featurization.tiers)}")
        self.dataset = dataset
        self.featurization = featurization
        self.tiers = list(tiers)
        self.targets = list(targets)
        self.split = {part: list(split.get(part, [])) for part in PARTS}
        self.batch_size = batch_size
        self.scaled = list(scaled) if scaled is not None else [True] * len(self.targets)
        self.seed = seed
        self.samples: dict[str, list[HeteroData]] = {}
        self.indices: dict[str, list[int]] = {}
        self.excluded: dict[str, int] = {}
        self.scaler: TargetScaler | None = None
        self.featurization_cpu_seconds: dict[str, float] = {}

    @property
    def tier_dims(self) -> dict[str, TierDims]:
        """Feature widths of each selected tier."""
        return {label: self.featurization.tiers[label].dims for label in self.tiers}

    def _target_values(self, index: int) -> list[float] | None:
        values = [self.dataset[index].targets.get(name, math.nan) for name in self.targets]
        return None if any(value is None or not math.isfinite(value) for value in values) else values

    def setup(self, stage: str | None = None) -> None:
        """Load the graphs of the covered samples and fit the target scaler (once)."""
        if self.samples:
            return
        covered = set(self.featurization.covered(self.tiers))
        reasons: Counter[str] = Counter()
        cpu_seconds: defaultdict[str, float] = defaultdict(float)
        raw_targets: dict[str, list[list[float]]] = {}
        for part in PARTS:
            self.samples[part], self.indices[part], raw_targets[part] = [], [], []
            for index in self.split[part]:
                values = self._target_values(index)
                if index not in covered:
                    reasons.update(self._exclusion_reasons(index))
                    continue
                if values is None:
                    reasons["target missing"] += 1
                    continue
                graphs = {label: self.featurization.graph(index, label) for label in self.tiers}
                for label, graph in graphs.items():
                    cpu_seconds[label] += float(getattr(graph, "build_cpu_seconds", 0.0))
                self.samples[part].append(combine_tiers(graphs, values, index))
                self.indices[part].append(index)
                raw_targets[part].append(values)
        if not self.samples["train"]:
            raise ValueError(f"no training sample is covered by tiers {self.tiers}; excluded: {dict(reasons)}")
        self.excluded = dict(reasons)
        self.featurization_cpu_seconds = dict(cpu_seconds)
        self.scaler = TargetScaler.fit(torch.tensor(raw_targets["train"], dtype=torch.float32), self.scaled)
        for part in PARTS:
            for sample in self.samples[part]:
                sample.y = self.scaler.transform(sample.y)

    def _exclusion_reasons(self, index: int) -> list[str]:
        status = self.featurization.status
        return [f"{label}: {status[label][index]}" for label in self.tiers if status[label][index] != "ok"]

    def train_dataloader(self) -> DataLoader:
        """Training batches, shuffled by (seed, epoch): a trial resumed from a checkpoint sees the same order."""
        sampler = EpochShuffle(len(self.samples["train"]), self.seed)
        return DataLoader(self.samples["train"], batch_size=self.batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        """Validation batches in split order."""
        return DataLoader(self.samples["val"], batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        """Test batches in split order."""
        return DataLoader(self.samples["test"], batch_size=self.batch_size)


class EpochShuffle(torch.utils.data.Sampler[int]):
    """A random order of ``size`` indices drawn from ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` before every epoch, so epoch k has the same order whether training
    ran through epochs 0…k-1 or resumed from a checkpoint of epoch k-1 (a generator carried from epoch to
    epoch would start over on resume).

    Args:
        size: Number of samples.
        seed: Seed of the shuffle.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of ``epoch`` next."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())
