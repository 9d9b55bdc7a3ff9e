"""The Lightning module of the fusion model: one shared step for train/val/test, and a NaN guard.

Batches come from :class:`tierbench.samples.datamodule.MultiTierDataModule`: ``batch.y`` is standardized with the
training split's mean and standard deviation (class labels are left as 0/1). The loss is computed on the
standardized scale; predictions and metrics are de-standardized to each target's own unit.

Plain Lightning trains on through a NaN loss and reports success. Here a non-finite loss in any stage
raises :class:`NonFiniteLossError`, which ends ``Trainer.fit`` and lets the caller record the trial as
failed with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any, cast

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.nn import functional
from torch_geometric.data import HeteroData

from tierbench.config.model import ModelConfig, OptimizerConfig
from tierbench.errors import Reason, TierbenchError
from tierbench.model.fusion import FusionNetwork
from tierbench.model.metrics import TargetMetrics
from tierbench.tier import TierDims

STAGES = ("train", "val", "test")


class NonFiniteLossError(TierbenchError, RuntimeError):
    """A loss became NaN or infinite: the trial failed.

    Attributes:
        reason: Short machine-readable failure reason.
        stage: ``"train"``, ``"val"`` or ``"test"``.
        epoch: Epoch in which it happened.
        batch_index: Batch of that epoch.
    """

    reason = Reason.NON_FINITE_LOSS

    def __init__(self, message: str, *, stage: str, epoch: int, batch_index: int) -> None:
        super().__init__(message)
        self.stage = stage
        self.epoch = epoch
        self.batch_index = batch_index


def non_finite_inputs(batch: HeteroData) -> list[str]:
    """Names of the batch fields that hold NaN or infinite values (e.g. ``"atom.x"``, ``"y"``)."""
    found = []
    for key, store in [*batch.node_items(), *batch.edge_items()]:
        label = key if isinstance(key, str) else "-".join(key)
        for name, value in store.items():
            if isinstance(value, Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
                found.append(f"{label}.{name}")
    if "y" in batch and not torch.isfinite(batch.y).all():
        found.append("y")
    return found


def _plain_dims(dims: TierDims | Mapping[str, Any]) -> dict[str, Any]:
    return asdict(dims) if isinstance(dims, TierDims) else dict(dims)


class TierFusionModule(pl.LightningModule):
    """Fusion model over a combination of tiers, trained with AdamW and a learning-rate schedule.

    Every argument is stored with ``save_hyperparameters`` as plain JSON-able values, so
    ``TierFusionModule.load_from_checkpoint(path)`` rebuilds the module without other inputs.

    Args:
        tier_dims: Tier name → feature widths (``TierDims`` or its dict).
        target_names: Targets in output order.
        model: Model configuration (``ModelConfig`` or its dict); default: ``ModelConfig()``.
        optimizer: Optimizer configuration (``OptimizerConfig`` or its dict); default: ``OptimizerConfig()``.
        target_mean: Training-split mean of each target (the data module's scaler); default 0.
        target_std: Training-split standard deviation of each target; default 1.

    Raises:
        ModelConfigError: The model configuration does not fit the tiers.
        ValueError: Classification with several targets, or scaler sizes that do not match the targets.
    """

    target_mean: Tensor
    target_std: Tensor

    def __init__(
        self,
        tier_dims: Mapping[str, TierDims | Mapping[str, Any]],
        target_names: Sequence[str],
        *,
        model: ModelConfig | Mapping[str, Any] | None = None,
        optimizer: OptimizerConfig | Mapping[str, Any] | None = None,
        target_mean: Sequence[float] | Tensor | None = None,
        target_std: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__()
        model_config = model if isinstance(model, ModelConfig) else ModelConfig.model_validate(model or {})
        optimizer_config = (
            optimizer if isinstance(optimizer, OptimizerConfig) else OptimizerConfig.model_validate(optimizer or {})
        )
        targets = list(target_names)
        if model_config.task == "classification" and len(targets) != 1:
            raise ValueError(f"binary classification predicts one target, got {len(targets)}: {targets}")
        mean = torch.as_tensor([0.0] * len(targets) if target_mean is None else target_mean, dtype=torch.float32)
        std = torch.as_tensor([1.0] * len(targets) if target_std is None else target_std, dtype=torch.float32)
        if mean.shape != (len(targets),) or std.shape != (len(targets),):
            raise ValueError(f"target mean and std need one value per target ({len(targets)})")
        self.save_hyperparameters(
            {
                "tier_dims": {tier: _plain_dims(dims) for tier, dims in tier_dims.items()},
                "target_names": targets,
                "model": model_config.model_dump(mode="json"),
                "optimizer": optimizer_config.model_dump(mode="json"),
                "target_mean": mean.tolist(),
                "target_std": std.tolist(),
            }
        )
        self.model_config = model_config
        self.optimizer_config = optimizer_config
        self.target_names = targets
        self.register_buffer("target_mean", mean)
        self.register_buffer("target_std", std)
        dims = {tier: TierDims(**_plain_dims(value)) for tier, value in tier_dims.items()}
        self.network = FusionNetwork(dims, model_config, num_outputs=len(targets))
        # keyed "<stage>_metrics": a ModuleDict key "train" would clash with Module.train
        self.stage_metrics = torch.nn.ModuleDict(
            {f"{stage}_metrics": TargetMetrics(model_config.task, targets) for stage in STAGES}
        )
        self.test_predictions: dict[str, Tensor] = {}
        self._test_batches: list[dict[str, Tensor]] = []

    def forward(self, batch: HeteroData) -> Tensor:
        """Predictions ``[B, T]`` in the targets' units (probabilities for classification)."""
        return self.to_unit(self.network(batch))

    def to_unit(self, raw: Tensor) -> Tensor:
        """Network outputs → target units (regression) or probabilities (classification)."""
        if self.model_config.task == "classification":
            return torch.sigmoid(raw)
        return raw * self.target_std + self.target_mean

    def _loss(self, raw: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Mean loss and per-sample loss ``[B, T]`` on the standardized scale."""
        config = self.model_config
        if config.task == "classification":
            per_sample = functional.binary_cross_entropy_with_logits(raw, target, reduction="none")
        elif config.loss == "mae":
            per_sample = functional.l1_loss(raw, target, reduction="none")
        elif config.loss == "huber":
            per_sample = functional.huber_loss(raw, target, reduction="none", delta=config.huber_delta)
        else:
            per_sample = functional.mse_loss(raw, target, reduction="none")
        return per_sample.mean(), per_sample

    def _common_step(self, batch: HeteroData, batch_index: int, stage: str) -> tuple[Tensor, Tensor, Tensor]:
        raw = self.network(batch)
        loss, per_sample = self._loss(raw, batch.y)
        if not torch.isfinite(loss):
            self._fail(batch, batch_index, stage)
        prediction = self.to_unit(raw.detach())
        target = batch.y if self.model_config.task == "classification" else self.to_unit(batch.y)
        metrics = cast(TargetMetrics, self.stage_metrics[f"{stage}_metrics"])
        metrics.update(prediction, target, per_sample.detach())
        batch_size = batch.num_graphs
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=batch_size, sync_dist=True)
        for key, metric in metrics.items():
            self.log(f"{stage}_{key}", metric, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss, prediction, target

    def _fail(self, batch: HeteroData, batch_index: int, stage: str) -> None:
        bad_inputs = non_finite_inputs(batch)
        cause = (
            f"the batch holds non-finite values in {', '.join(bad_inputs)}"
            if bad_inputs
            else "the inputs are finite, so the model diverged (lower the learning rate or clip gradients)"
        )
        samples = batch.sample_index.tolist() if "sample_index" in batch else []
        raise NonFiniteLossError(
            f"non-finite {stage} loss at epoch {self.current_epoch}, batch {batch_index} (samples {samples}): {cause}",
            stage=stage,
            epoch=self.current_epoch,
            batch_index=batch_index,
        )

    def training_step(self, batch: HeteroData, batch_idx: int) -> Tensor:
        """Loss of a training batch."""
        return self._common_step(batch, batch_idx, "train")[0]

    def validation_step(self, batch: HeteroData, batch_idx: int) -> Tensor:
        """Loss of a validation batch."""
        return self._common_step(batch, batch_idx, "val")[0]

    def test_step(self, batch: HeteroData, batch_idx: int) -> Tensor:
        """Loss of a test batch; its predictions are kept in :attr:`test_predictions`."""
        loss, prediction, target = self._common_step(batch, batch_idx, "test")
        self._test_batches.append(
            {"sample_index": batch.sample_index.detach().cpu(), "target": target.cpu(), "prediction": prediction.cpu()}
        )
        return loss

    def predict_step(self, batch: HeteroData, batch_idx: int) -> dict[str, Tensor]:
        """Sample indices and predictions in the targets' units."""
        return {"sample_index": batch.sample_index, "prediction": self(batch)}

    def on_test_epoch_start(self) -> None:
        """Forget the predictions of an earlier test run."""
        self._test_batches = []

    def on_test_epoch_end(self) -> None:
        """Collect this process's test predictions (sample index, target, prediction; target units)."""
        if self._test_batches:
            self.test_predictions = {
                key: torch.cat([part[key] for part in self._test_batches]) for key in self._test_batches[0]
            }
        self._test_batches = []

    def configure_optimizers(self) -> Any:
        """AdamW with the configured schedule."""
        config = self.optimizer_config
        parameters = list(self.parameters())
        # the fused kernel is several times cheaper per step on CPU and CUDA; other devices use the default
        fused = all(parameter.device.type in {"cpu", "cuda"} for parameter in parameters) or None
        optimizer = torch.optim.AdamW(
            parameters, lr=config.learning_rate, weight_decay=config.weight_decay, fused=fused
        )
        if config.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer,
                factor=config.plateau_factor,
                patience=config.plateau_patience,
                min_lr=config.min_learning_rate,
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
        if config.scheduler == "cosine":
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(int(self.trainer.estimated_stepping_batches), 1), eta_min=config.min_learning_rate
            )
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}
        return optimizer
