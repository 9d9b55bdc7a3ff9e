"""How a dataset is split into train, validation and test parts (see :mod:`tierbench.datasets.splits`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tierbench.config.base import StrictModel

SplitMethod = Literal["random", "kfold", "matbench", "file"]


class SplitSpec(StrictModel):
    """How to split a dataset (usable as a suite's ``split`` entry).

    Attributes:
        method: ``random``, ``kfold``, ``matbench`` or ``file``.
        test: Test fraction of the dataset (``random``).
        val: Validation fraction: of the dataset for ``random``, of each training part otherwise.
        folds: Number of folds (``kfold``).
        seed: Seed of permutations and validation hold-outs (matbench's test folds use matbench's own).
        stratify: Classification target whose class proportions every part keeps (``random``, ``kfold``).
        path: Split file (``file``); relative paths resolve like dataset paths.
    """

    method: SplitMethod = "random"
    test: float = Field(0.1, ge=0.0, lt=1.0)
    val: float = Field(0.1, ge=0.0, lt=1.0)
    folds: int = Field(5, ge=2)
    seed: int = 0
    stratify: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SplitSpec:
        if self.method == "random" and self.test + self.val >= 1.0:
            raise ValueError(f"test ({self.test}) + val ({self.val}) leave no training data")
        if self.method == "file" and not self.path:
            raise ValueError("method 'file' needs a path")
        if self.method != "file" and self.path:
            raise ValueError(f"path is only used by method 'file', not {self.method!r}")
        return self
