"""Samples for training: every selected tier's graph of a structure in one ``HeteroData``, and batches."""

from __future__ import annotations

from tierbench.samples.datamodule import MultiTierDataModule, TargetScaler
from tierbench.samples.multitier import combine_tiers

__all__ = ["MultiTierDataModule", "TargetScaler", "combine_tiers"]
