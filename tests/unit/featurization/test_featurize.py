"""Featurization on real Ray through the cache: parallel equals serial, warm runs build nothing, failures
stay local to their structures, and the multi-tier data module serves identical splits."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
import torch
from pymatgen.core import Lattice, Molecule, Structure

from tests.paths import EXAMPLE_PLUGIN_DIR
from tierbench.featurization.engine import featurize
from tierbench.samples.datamodule import MultiTierDataModule
from tierbench.structures.sample import Sample
from tierbench.testing import GRAPH_FIELDS
from tierbench.testing import reference as reference_structures

VORONOI = "tierbench_voronoi:VoronoiTier"


def _samples() -> list[Sample]:
    """Crystals (scaled cells, so every structure differs) and molecules, with a synthetic-free target."""
    samples = []
    for name, make in reference_structures.CRYSTALS.items():
        for scale in (0.98, 1.0, 1.02):
            base = make()
            structure = Structure(Lattice(base.lattice.matrix * scale), base.species, base.frac_coords)
            samples.append(Sample(f"{name}-{scale}", structure, {"density": structure.density}))
    for name, make in reference_structures.MOLECULES.items():
        molecule = make()
        samples.append(Sample(name, molecule, {"density": float(molecule.composition.weight) / len(molecule)}))
    return samples


@pytest.fixture
def samples(monkeypatch: pytest.MonkeyPatch) -> list[Sample]:
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_DIR))
    return _samples()


def test_parallel_on_ray_equals_serial_bit_for_bit(ray_local, samples, tmp_path: Path) -> None:
    tiers = {"atom": "atom", "voronoi": VORONOI}
    serial = featurize(samples, tiers, cache=tmp_path / "serial", workers=1, progress=False)
    parallel = featurize(samples, tiers, cache=tmp_path / "parallel", workers=2, chunk_size=2, progress=False)
    assert serial.status == parallel.status and serial.keys == parallel.keys
    for label in tiers:
        for index in serial.covered([label]):
            first, second = serial.graph(index, label), parallel.graph(index, label)
            for field in GRAPH_FIELDS:
                if field in first:
                    assert torch.equal(first[field], second[field]), (label, index, field)


def test_failures_stay_with_their_structures_and_are_reported(ray_local, samples, tmp_path: Path) -> None:
    result = featurize(samples, ["atom", VORONOI], cache=tmp_path, workers=2, progress=False)
    molecules = [i for i, sample in enumerate(samples) if isinstance(sample.structure, Molecule)]
    coverage = result.coverage()
    assert coverage["atom"]["ok"] == len(samples)
    assert coverage["voronoi"]["ok"] == len(samples) - len(molecules)
    assert coverage["voronoi"]["failed"] == {"unsupported_structure": len(molecules)}
    assert result.covered() == [i for i in range(len(samples)) if i not in molecules]
    assert result.exclusions() == {"voronoi: unsupported_structure": len(molecules)}
    failure = result.failures()[0]
    assert failure["tier"] == "voronoi" and "needs a periodic crystal" in failure["message"]
    report = result.write_report(tmp_path / "coverage.json")
    assert '"unsupported_structure": 3' in report.read_text()
    assert "voronoi" in result.table()


class ExplodingTier:
    """A tier that must never be called: it proves a warm run builds nothing."""

    name: ClassVar[str] = "atom"
    kinds: ClassVar[tuple[str, ...]] = ("crystal", "molecule")

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped
        self.version, self.dependencies = wrapped.version, wrapped.dependencies

    @property
    def dims(self):
        return self.wrapped.dims

    def params(self):
        return self.wrapped.params()

    def build(self, structure):
        raise AssertionError("a warm run must not build")


def test_warm_run_builds_nothing_and_starts_no_ray(samples, tmp_path: Path) -> None:
    from tierbench.tier.registry import get_tier

    atom = get_tier("atom")
    cold = featurize(samples, {"atom": atom}, cache=tmp_path, workers=1, progress=False)
    warm = featurize(samples, {"atom": ExplodingTier(atom)}, cache=tmp_path, workers=2, progress=False)
    assert warm.status == cold.status and warm.cached == {"atom": len(samples)}
    assert warm.built_cpu_seconds == {}


def test_unexpected_tier_crash_is_recorded_not_raised(samples, tmp_path: Path) -> None:
    from tierbench.tier.registry import get_tier

    crashing = ExplodingTier(get_tier("atom"))
    result = featurize(samples[:2], {"atom": crashing}, cache=tmp_path, workers=1, progress=False)
    assert result.coverage()["atom"]["failed"] == {"unexpected_error": 2}
    assert "AssertionError: a warm run must not build" in result.failures()[0]["message"]


def test_data_module_restricts_split_to_coverage_and_scales_on_train(samples, tmp_path: Path) -> None:
    result = featurize(samples, {"atom": "atom", "voronoi": VORONOI}, cache=tmp_path, workers=1, progress=False)
    split = {"train": list(range(0, 10)), "val": [10, 11, 12, 15], "test": [13, 14, 16, 17]}
    both = MultiTierDataModule(samples, result, ["atom", "voronoi"], ["density"], split, batch_size=4)
    atom_only = MultiTierDataModule(samples, result, ["atom"], ["density"], split, batch_size=4)
    both.setup()
    atom_only.setup()
    assert atom_only.indices == split
    assert both.indices == {"train": split["train"], "val": [10, 11, 12], "test": [13, 14]}
    assert both.excluded == {"voronoi: unsupported_structure": 3}
    train_targets = torch.tensor([[samples[i].targets["density"]] for i in split["train"]])
    assert torch.allclose(both.scaler.mean, train_targets.mean(dim=0))
    batch = next(iter(both.train_dataloader()))
    assert set(batch.node_types) == {"atom", "voronoi"}
    assert ("voronoi", "on", "atom") in batch.edge_types
    assert both.featurization_cpu_seconds["voronoi"] > 0
    restored = both.scaler.inverse(torch.cat([sample.y for sample in both.samples["train"]]))
    assert torch.allclose(restored, train_targets, rtol=1e-5)
