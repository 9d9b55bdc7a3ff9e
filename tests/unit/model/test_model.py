"""The fusion model trains on real QM9 molecules and MP crystals for every combination of built-in tiers.

Combinations are those of the built-in tiers that load when the tests are collected. Models are tiny and
train a few epochs on a few dozen structures (CPU), which is enough to see the loss fall, the outputs
come back in the target's unit, seeds reproduce metrics exactly and the NaN guard stop training.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from ase.io import read
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from torch_geometric.data import HeteroData
from torch_geometric.loader import DataLoader

from tests.paths import REPO_ROOT
from tierbench.model import NonFiniteLossError, TierFusionModule
from tierbench.plugins import BUILTIN_TIERS
from tierbench.samples.multitier import combine_tiers
from tierbench.tier import Tier, TierError
from tierbench.tier.registry import get_tier

sys.path.insert(0, str(REPO_ROOT / "tiers" / "examples" / "voronoi"))

pytestmark = pytest.mark.usefixtures("one_thread_training")

HARTREE_TO_EV = 27.211386
NUM_TRAIN, NUM_VAL = 24, 8
TINY_MODEL = {"hidden_dim": 12, "mlp_dim": 16, "readout_dim": 8, "head_dim": 16, "default_encoder": {"blocks": 2}}
FAST_OPTIMIZER = {"learning_rate": 3e-3, "scheduler": "none"}


def _loadable_builtin_tiers() -> dict[str, Tier]:
    tiers = {}
    for name in BUILTIN_TIERS:
        try:
            tiers[name] = get_tier(name)
        except Exception:  # a built-in still being written is not part of the combinations yet
            continue
    return tiers


BUILTIN = _loadable_builtin_tiers()
COMBINATIONS = [
    (kind, combination)
    for kind in ("molecule", "crystal")
    for size in range(1, len(BUILTIN) + 1)
    for combination in itertools.combinations(sorted(BUILTIN), size)
    if all(kind in BUILTIN[name].kinds for name in combination)
]


@pytest.fixture(scope="session")
def structures(datasets_dir: Path) -> dict[str, list[tuple[Any, float]]]:
    """Real QM9 molecules (HOMO-LUMO gap, eV) and small MP crystals (band gap, eV)."""
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        frames = read(io.StringIO(handle.read()), index=f":{NUM_TRAIN + NUM_VAL}", format="extxyz")
    molecules = [(AseAtomsAdaptor.get_molecule(atoms), atoms.info["gap"] * HARTREE_TO_EV) for atoms in frames]
    crystals = []
    with gzip.open(datasets_dir / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            cell = record["structure"]
            if len(cell["species"]) <= 6:  # small cells keep periodic tight-binding tiers fast
                structure = Structure(cell["lattice"], cell["species"], cell["frac_coords"])
                crystals.append((structure, float(record["band_gap"])))
            if len(crystals) == NUM_TRAIN + NUM_VAL:
                break
    return {"molecule": molecules, "crystal": crystals}


class GraphStore(dict):
    """(kind, tier) → graph of each structure (``None`` where the tier refuses it), built on first use."""

    def __init__(self, structures: dict[str, list[tuple[Any, float]]]) -> None:
        super().__init__()
        self.structures = structures

    def __missing__(self, key: tuple[str, str]) -> list[Any]:
        kind, name = key
        tier = BUILTIN[name] if name in BUILTIN else get_tier(name)
        self[key] = [_build_or_none(tier, structure) for structure, _ in self.structures[kind]]
        return self[key]


def _build_or_none(tier: Tier, structure: Any) -> Any:
    try:
        return tier.build(structure)
    except TierError:
        return None


@pytest.fixture(scope="session")
def graphs(structures: dict[str, list[tuple[Any, float]]]) -> GraphStore:
    """Graphs of the test structures, shared by all tests."""
    return GraphStore(structures)


def _dataset(
    structures: list[tuple[Any, float]], graphs: GraphStore, kind: str, tiers: tuple[str, ...]
) -> tuple[list[HeteroData], list[HeteroData], float, float]:
    """Train and validation samples with targets standardized on the training part, and the scaler."""
    covered = [i for i in range(len(structures)) if all(graphs[kind, t][i] is not None for t in tiers)]
    train_indices, val_indices = covered[:NUM_TRAIN], covered[NUM_TRAIN:]
    values = torch.tensor([structures[i][1] for i in train_indices])
    mean, std = float(values.mean()), float(values.std())

    def sample(index: int) -> HeteroData:
        return combine_tiers({t: graphs[kind, t][index] for t in tiers}, [(structures[index][1] - mean) / std], index)

    return [sample(i) for i in train_indices], [sample(i) for i in val_indices], mean, std


class EpochLosses(pl.Callback):
    """Training loss of every epoch."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.losses.append(float(trainer.callback_metrics["train_loss"]))


def _fit(
    module: TierFusionModule, train: list[HeteroData], val: list[HeteroData], *, epochs: int, seed: int = 0
) -> tuple[pl.Trainer, EpochLosses]:
    pl.seed_everything(seed, verbose=False)
    losses = EpochLosses()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[losses],
    )
    loader = DataLoader(train, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(seed))
    trainer.fit(module, loader, DataLoader(val, batch_size=8))
    return trainer, losses


def _train_loss(module: TierFusionModule, samples: list[HeteroData]) -> float:
    """Mean absolute error (the training loss) over ``samples``, in evaluation mode; training mode is restored."""
    module.eval()
    with torch.no_grad():
        batch = next(iter(DataLoader(samples, batch_size=len(samples))))
        loss = float(torch.nn.functional.l1_loss(module.network(batch), batch.y))
    module.train()
    return loss


def _module(tiers: tuple[str, ...], mean: float, std: float, **model: Any) -> TierFusionModule:
    pl.seed_everything(0, verbose=False)  # the initial weights
    dims = {name: (BUILTIN[name] if name in BUILTIN else get_tier(name)).dims for name in tiers}
    return TierFusionModule(
        dims,
        ["gap"],
        model={**TINY_MODEL, **model},
        optimizer=FAST_OPTIMIZER,
        target_mean=[mean],
        target_std=[std],
    )


@pytest.mark.parametrize(("kind", "tiers"), COMBINATIONS, ids=[f"{k}-{'+'.join(t)}" for k, t in COMBINATIONS])
def test_every_tier_combination_trains_and_predicts_in_the_target_unit(
    structures: dict[str, list[tuple[Any, float]]], graphs: GraphStore, kind: str, tiers: tuple[str, ...]
) -> None:
    train, val, mean, std = _dataset(structures[kind], graphs, kind, tiers)
    assert len(train) == NUM_TRAIN and val, f"{tiers} covers too few {kind}s"
    module = _module(tiers, mean, std, fusion="cross" if "atom" in tiers and len(tiers) > 1 else "concat")
    initial_loss = _train_loss(module, train)
    trainer, losses = _fit(module, train, val, epochs=12)
    assert _train_loss(module, train) < 0.9 * initial_loss, f"loss did not fall: {losses.losses}"

    trainer.test(module, DataLoader(val, batch_size=8), verbose=False)
    predictions = module.test_predictions
    raw_targets = torch.tensor(
        [structures[kind][i][1] for i in predictions["sample_index"].tolist()], dtype=torch.float32
    )
    assert torch.allclose(predictions["target"][:, 0], raw_targets, atol=1e-4), "targets not in eV"
    assert predictions["prediction"].isfinite().all()
    # de-standardized: predictions live on the scale of the targets (eV), not around 0 with unit spread
    assert abs(predictions["prediction"].mean().item() - mean) < 2 * std
    batch = next(iter(DataLoader(val, batch_size=4)))
    module.eval()
    with torch.no_grad():
        assert torch.allclose(module(batch), module.network(batch) * std + mean)
    assert {"test_mae", "test_rmse", "test_r2", "test_loss"} <= set(trainer.callback_metrics)


@pytest.mark.parametrize("fusion", ["concat", "gated", "cross"])
@pytest.mark.parametrize("encoder", ["megnet", "orbnet", "cgcnn", "schnet"])
def test_every_encoder_and_fusion_mode_trains_on_crystals(
    structures: dict[str, list[tuple[Any, float]]], graphs: GraphStore, encoder: str, fusion: str
) -> None:
    if "atom" not in BUILTIN:
        pytest.skip("the atom tier is not available")
    tiers = ("atom", "tierbench_voronoi:VoronoiTier")
    train, val, mean, std = _dataset(structures["crystal"], graphs, "crystal", tiers)
    module = _module(tiers, mean, std, fusion=fusion, default_encoder={"kind": encoder, "blocks": 2})
    _, losses = _fit(module, train, val, epochs=4)
    assert losses.losses[-1] < losses.losses[0], f"loss did not fall: {losses.losses}"


@pytest.fixture
def atom_molecules(
    structures: dict[str, list[tuple[Any, float]]], graphs: GraphStore
) -> tuple[list[HeteroData], list[HeteroData], float, float]:
    if "atom" not in BUILTIN:
        pytest.skip("the atom tier is not available")
    return _dataset(structures["molecule"], graphs, "molecule", ("atom",))


def test_same_seed_gives_identical_metrics(
    atom_molecules: tuple[list[HeteroData], list[HeteroData], float, float],
) -> None:
    train, val, mean, std = atom_molecules

    def metrics(seed: int) -> dict[str, float]:
        pl.seed_everything(seed, verbose=False)
        trainer, _ = _fit(_module(("atom",), mean, std), train, val, epochs=2, seed=seed)
        return {key: float(value) for key, value in trainer.callback_metrics.items()}

    first = metrics(7)
    assert metrics(7) == first
    assert metrics(8) != first, "the seed has no effect"


def test_nan_in_the_inputs_ends_training_with_a_reason(
    atom_molecules: tuple[list[HeteroData], list[HeteroData], float, float],
) -> None:
    train, val, mean, std = atom_molecules
    poisoned = [sample.clone() for sample in train]
    poisoned[5]["atom"].x[0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match=r"non-finite train loss .* atom\.x") as raised:
        _fit(_module(("atom",), mean, std), poisoned, val, epochs=2)
    assert raised.value.reason == "non_finite_loss"
    assert raised.value.stage == "train"


def test_classification_reports_probabilities_and_roc_auc(
    structures: dict[str, list[tuple[Any, float]]], graphs: GraphStore
) -> None:
    if "atom" not in BUILTIN:
        pytest.skip("the atom tier is not available")
    crystals = [(structure, float(gap > 0)) for structure, gap in structures["crystal"]]
    train, val, _, _ = _dataset(crystals, graphs, "crystal", ("atom",))
    for sample in [*train, *val]:  # class labels are not standardized
        sample.y = torch.tensor([[crystals[int(sample.sample_index)][1]]])
    module = TierFusionModule(
        {"atom": BUILTIN["atom"].dims},
        ["is_insulator"],
        model={**TINY_MODEL, "task": "classification"},
        optimizer=FAST_OPTIMIZER,
    )
    trainer, losses = _fit(module, train, val, epochs=4)
    assert losses.losses[-1] < losses.losses[0]
    assert {"val_bce", "val_roc_auc", "val_accuracy"} <= set(trainer.callback_metrics)
    trainer.test(module, DataLoader(val, batch_size=8), verbose=False)
    probabilities = module.test_predictions["prediction"]
    assert ((probabilities > 0) & (probabilities < 1)).all()


def test_checkpoint_restores_the_module(
    atom_molecules: tuple[list[HeteroData], list[HeteroData], float, float], tmp_path: Path
) -> None:
    train, val, mean, std = atom_molecules
    trainer, _ = _fit(_module(("atom",), mean, std), train, val, epochs=1)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    restored = TierFusionModule.load_from_checkpoint(tmp_path / "model.ckpt")
    batch = next(iter(DataLoader(val, batch_size=8)))
    trainer.lightning_module.eval()
    restored.eval()
    with torch.no_grad():
        assert torch.equal(restored(batch), trainer.lightning_module(batch))
    assert restored.hparams["target_mean"] == [pytest.approx(mean)]
