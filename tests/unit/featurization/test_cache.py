"""The content-addressed graph cache: keys, integrity, failures, concurrency and unwritable storage."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from pymatgen.core import Molecule, Structure
from torch_geometric.data import Data

from tests.paths import REPO_ROOT
from tierbench.featurization.cache import CachedFailure, CacheWriteError, GraphCache, cache_key, open_cache
from tierbench.testing import reference as reference_structures
from tierbench.tier import TierDims, UnsupportedElementError


class CountingDistanceTier:
    """A small real tier (complete graph with distances) that counts its builds and rejects sulfur."""

    name: ClassVar[str] = "distances"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("pymatgen",)
    kinds: ClassVar[tuple[str, ...]] = ("molecule",)
    builds = 0

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    @property
    def dims(self) -> TierDims:
        return TierDims(node_dim=1, edge_dim=1, edge_distance_index=0)

    def params(self) -> Mapping[str, Any]:
        return {"scale": self.scale}

    def build(self, structure: Structure | Molecule) -> Data:
        type(self).builds += 1
        if "S" in structure.composition:
            raise UnsupportedElementError("sulfur is not parametrized", tier=self.name)
        n = len(structure)
        pairs = torch.tensor([(i, j) for i in range(n) for j in range(n) if i != j], dtype=torch.long).T
        distances = torch.tensor(structure.distance_matrix, dtype=torch.float32)[pairs[0], pairs[1]] * self.scale
        return Data(
            x=torch.tensor(structure.atomic_numbers, dtype=torch.float32)[:, None],
            edge_index=pairs,
            edge_attr=distances[:, None],
            atom_index=torch.arange(n),
        )


def _entry_path(cache: GraphCache, tier_name: str, key: str) -> Path:
    return next(path for path in cache.entries() if path.parts[-3] == tier_name and path.stem == key)


def test_build_is_stored_and_reused(tmp_path: Path) -> None:
    cache, tier, water = GraphCache(tmp_path), CountingDistanceTier(), reference_structures.water()
    before = CountingDistanceTier.builds
    first = cache.build(tier, water)
    second = cache.build(tier, water)
    assert CountingDistanceTier.builds == before + 1
    assert torch.equal(first.edge_attr, second.edge_attr) and torch.equal(first.edge_index, second.edge_index)
    assert cache.stats.hits == 1 and cache.stats.writes == 1
    assert cache.info() == {"distances": {"graphs": 1, "failures": 0, "bytes": cache.info()["distances"]["bytes"]}}


def test_key_depends_on_params_version_structure_and_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    water, methane = reference_structures.water(), reference_structures.methane()
    key = cache_key(CountingDistanceTier(), water)
    assert key == cache_key(CountingDistanceTier(), water)
    assert key != cache_key(CountingDistanceTier(scale=2.0), water)
    assert key != cache_key(CountingDistanceTier(), methane)
    monkeypatch.setattr(CountingDistanceTier, "dependencies", ("pymatgen", "torch"))
    assert key != cache_key(CountingDistanceTier(), water)
    monkeypatch.setattr(CountingDistanceTier, "version", "2")
    assert cache_key(CountingDistanceTier(), water) != key


def test_failures_are_remembered(tmp_path: Path) -> None:
    cache, tier = GraphCache(tmp_path), CountingDistanceTier()
    sulfide = Molecule(["S", "H", "H"], [[0, 0, 0], [0, 0.96, 0.93], [0, -0.96, 0.93]])
    before = CountingDistanceTier.builds
    for _ in range(2):
        with pytest.raises(UnsupportedElementError, match="sulfur is not parametrized"):
            cache.build(tier, sulfide)
    assert CountingDistanceTier.builds == before + 1
    assert cache.info()["distances"]["failures"] == 1


@pytest.mark.parametrize("damage", ["truncate", "bit_flip", "zero_bytes", "garbage_payload"])
def test_corrupt_entries_are_reported_removed_and_rebuilt(tmp_path: Path, damage: str, caplog) -> None:
    cache, tier, water = GraphCache(tmp_path), CountingDistanceTier(), reference_structures.water()
    original = cache.build(tier, water)
    path = _entry_path(cache, "distances", cache_key(tier, water))
    blob = bytearray(path.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "bit_flip":
        blob[-10] ^= 0x01
    elif damage == "zero_bytes":
        blob = bytearray()
    else:
        from tierbench.featurization.cache import _frame

        blob = bytearray(_frame(b"not a torch file"))
    path.write_bytes(bytes(blob))
    before = CountingDistanceTier.builds
    rebuilt = cache.build(tier, water)
    assert CountingDistanceTier.builds == before + 1
    assert torch.equal(rebuilt.edge_attr, original.edge_attr)
    assert cache.stats.corrupt == 1 and "corrupt graph cache entry" in caplog.text
    assert cache.verify() == (1, 0)


def test_verify_removes_corrupt_entries(tmp_path: Path) -> None:
    cache, tier = GraphCache(tmp_path), CountingDistanceTier()
    for molecule in (reference_structures.water(), reference_structures.methane()):
        cache.build(tier, molecule)
    path = _entry_path(cache, "distances", cache_key(tier, reference_structures.water()))
    path.write_bytes(path.read_bytes()[:-1])
    assert cache.verify() == (1, 1)
    assert not path.exists()


def test_cached_failure_round_trips_its_error_type() -> None:
    failure = CachedFailure.from_error(UnsupportedElementError("no Pu", tier="orbital"))
    error = failure.to_error("orbital")
    assert (
        isinstance(error, UnsupportedElementError) and str(error) == "no Pu" and error.reason == "unsupported_element"
    )


def test_unwritable_cache_location_is_a_clear_error(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory should be")
    with pytest.raises(CacheWriteError, match="cannot write to graph cache"):
        GraphCache(blocked).build(CountingDistanceTier(), reference_structures.water())


def test_write_failure_leaves_no_partial_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = GraphCache(tmp_path)

    def disk_full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(CacheWriteError, match="No space left on device"):
        cache.build(CountingDistanceTier(), reference_structures.water())
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_open_cache_follows_the_setting(cache_dir: Path) -> None:
    assert open_cache().root == cache_dir


WRITER = """
import sys, torch
sys.path.insert(0, {tests!r})
from tierbench.testing import reference as reference_structures
from tests.unit.featurization.test_cache import CountingDistanceTier
from tierbench.featurization.cache import GraphCache, cache_key
cache, tier = GraphCache(sys.argv[1]), CountingDistanceTier()
molecules = [reference_structures.water(), reference_structures.methane(), reference_structures.benzene()]
expected = [tier.build(m) for m in molecules]
for round_ in range(60):
    for molecule, graph in zip(molecules, expected):
        key = cache_key(tier, molecule)
        cache.put(tier.name, key, graph)
        got = cache.get(tier.name, key)
        assert got is not None and torch.equal(got.edge_attr, graph.edge_attr), "lost or torn entry"
assert cache.stats.corrupt == 0, cache.stats
print("ok")
"""


def test_many_processes_writing_the_same_keys_is_safe(tmp_path: Path) -> None:
    script = WRITER.format(tests=str(REPO_ROOT))
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr.decode()[-2000:]
        assert stdout.decode().strip() == "ok"
    cache = GraphCache(tmp_path)
    assert cache.verify() == (3, 0)
    assert not list(tmp_path.rglob(".tmp-*")), "temporary files left behind"


def test_dataset_rows_key_like_their_pymatgen_structures(datasets_dir: Path, tmp_path: Path) -> None:
    from tierbench.datasets import load_dataset
    from tierbench.featurization.cache import canonical_digest, structure_digest

    charged = tmp_path / "charged.extxyz"
    charged.write_text(
        '3\nname=h2o+ charge=1 pbc="F F F"\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n'
        '3\nname=h2o- charge=-1 pbc="F F F"\nO 0 0 0.1173\nH 0 0.7572 -0.4692\nH 0 -0.7572 -0.4692\n'
    )
    datasets = [
        load_dataset({"name": "qm9", "size": 200, "seed": 5}),
        load_dataset({"name": "mp_mtcgcnn", "size": 200, "seed": 5}),
        load_dataset({"name": "ions", "format": "extxyz", "path": str(charged), "id_key": "name"}),
    ]
    for dataset in datasets:
        from_arrays = [canonical_digest(dataset.table.canonical_form(row)) for row in range(len(dataset))]
        assert from_arrays == [structure_digest(sample.structure) for sample in dataset], dataset.name
    spins = [sample.structure.spin_multiplicity for sample in datasets[-1]]
    assert spins == [2, 2] and len(set(from_arrays)) == 2
