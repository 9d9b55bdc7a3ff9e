"""The graph cache under damage: corrupt entries are found, reported and rebuilt with unchanged results;
a cache that cannot be written (disk full, a file in the way) stops featurization with a clear error and
leaves no partial entry behind.

Entries are damaged on disk the three ways storage fails — cut short, one bit flipped, emptied — after a
real featurization; the next read goes through the same featurization and trial code a suite runs. A full
disk is a real refused write: the featurizing process runs under a file-size limit (``RLIMIT_FSIZE``), so
the operating system fails the write part-way, as it does when the disk fills up.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.paths import DATA_DIR, REPO_ROOT
from tierbench.featurization.cache import CacheWriteError, GraphCache
from tierbench.featurization.engine import featurize
from tierbench.structures.sample import Sample
from tierbench.testing import GRAPH_FIELDS
from tierbench.testing import reference as reference_structures
from tierbench.tier.registry import available_tiers, get_tier
from tierbench.trial.run import run_trial

pytestmark = pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available")

DAMAGES = ("truncated", "bit_flipped", "zero_bytes")
CRYSTALS = {
    "name": "crystals",
    "format": "mp_jsonl",
    "path": str(DATA_DIR / "bad" / "crystals.jsonl"),
    "targets": ["density"],
    "units": {"density": "g/cm^3"},
}
"""Twenty real crystals (and broken rows, quarantined on load) of the malformed-input corpus."""
TRIAL = {
    "dataset": CRYSTALS,
    "target": "density",
    "tiers": ["atom"],
    "split": {"method": "random", "test": 0.2, "val": 0.2, "seed": 0},
    "model": {"hidden_dim": 12, "mlp_dim": 16, "default_encoder": {"blocks": 1, "rbf": {"num_gaussians": 10}}},
    "trainer": {"max_epochs": 3, "batch_size": 4, "accelerator": "cpu", "early_stopping_patience": None},
}


def reference_samples() -> list[Sample]:
    """The reference crystals and molecules (small ones first)."""
    structures = {**reference_structures.MOLECULES, **reference_structures.CRYSTALS}
    return [Sample(name, make()) for name, make in structures.items()]


def damage(path: Path, how: str) -> None:
    """Damage a cache file the way failing storage does."""
    blob = bytearray(path.read_bytes())
    if how == "truncated":
        blob = blob[: len(blob) // 2]
    elif how == "bit_flipped":
        blob[len(blob) // 2] ^= 0x10
    else:
        blob = bytearray()
    path.write_bytes(bytes(blob))


def graph_files(cache: Path, tier: str = "atom") -> list[Path]:
    """The graph entries of one tier in a cache folder."""
    return sorted((cache / tier).glob("*/*.graph"))


def leftovers(cache: Path) -> list[Path]:
    """Temporary files of unfinished writes."""
    return sorted(cache.rglob(".tmp-*"))


def test_corrupt_entries_are_reported_and_rebuilt_identical_on_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    samples = reference_samples()
    atom = get_tier("atom")
    first = featurize(samples, {"atom": atom}, cache=tmp_path, workers=1, progress=False)
    originals = [first.graph(index, "atom") for index in range(len(samples))]
    damaged = dict(zip(DAMAGES, graph_files(tmp_path)[: len(DAMAGES)], strict=True))
    for how, path in damaged.items():
        damage(path, how)
    caplog.set_level(logging.WARNING, logger="tierbench.featurization.cache")
    again = featurize(samples, {"atom": atom}, cache=tmp_path, workers=1, progress=False)
    for index, original in enumerate(originals):
        graph = again.graph(index, "atom")
        for name in GRAPH_FIELDS:
            if name in original:
                assert torch.equal(graph[name], original[name]), (samples[index].id, name)
    keys = {path.stem for path in damaged.values()}
    assert {again.keys["atom"][index] for index, _ in again.rebuilt} == keys
    assert set(again.cache.stats.corrupt_keys) == keys
    for path in damaged.values():
        assert f"corrupt graph cache entry {path}" in caplog.text
    assert GraphCache(tmp_path).verify() == (len(samples), 0)


def test_a_trial_over_a_damaged_cache_gives_the_same_metrics(tmp_path: Path) -> None:
    config = {**TRIAL, "cache": str(tmp_path / "cache")}
    clean = run_trial(config)
    assert clean.status == "ok", clean.failure_message
    files = graph_files(tmp_path / "cache")
    assert len(files) == clean.samples["train"] + clean.samples["val"] + clean.samples["test"]
    for how, path in zip(DAMAGES, files, strict=False):
        damage(path, how)
    repeated = run_trial(config)
    assert repeated.status == "ok", repeated.failure_message
    assert repeated.metrics == clean.metrics
    assert repeated.predictions == clean.predictions
    assert GraphCache(tmp_path / "cache").verify() == (len(files), 0)


FEATURIZE_UNDER_LIMIT = """
import json, sys
sys.path.insert(0, {tests!r})
from tests.faults.test_storage import reference_samples
from tierbench.featurization.cache import CacheWriteError
from tierbench.featurization import featurize
try:
    featurize(reference_samples(), ["atom"], cache=sys.argv[1], workers=1, progress=False)
except CacheWriteError as error:
    print(json.dumps({{"error": str(error)}}))
else:
    print(json.dumps({{"error": None}}))
"""
FILE_SIZE_LIMIT = 20_000
"""Bytes: the molecules' and the small crystals' atom graphs fit, the spinel's (32 kB) does not."""


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@pytest.mark.slow
def test_full_disk_stops_featurization_with_a_clear_error_and_no_partial_entry(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    script = FEATURIZE_UNDER_LIMIT.format(tests=str(REPO_ROOT))
    finished = subprocess.run(
        [sys.executable, "-c", script, str(cache)],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
        preexec_fn=_limit_file_size,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    error = json.loads(finished.stdout.strip().splitlines()[-1])["error"]
    assert error is not None, "the refused write went unnoticed"
    assert f"cannot write to graph cache at {cache}" in error and "File too large" in error
    assert not leftovers(cache), "a partially written file was left behind"
    written_before = [sample.id for sample in reference_samples()].index("spinel")
    assert GraphCache(cache).verify() == (written_before, 0), "the graphs written before the failure stay intact"


@pytest.mark.slow
def test_unwritable_cache_stops_ray_featurization_with_a_clear_error(ray_local: object, tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(CacheWriteError, match=f"cannot write to graph cache at {blocked / 'cache'}"):
        featurize(reference_samples(), ["atom"], cache=blocked / "cache", workers=2, progress=False)
    assert blocked.read_text() == "a file where the cache folder should be"


@pytest.mark.slow
def test_unwritable_cache_fails_the_suite_run_and_leaves_no_run_running(ray_local: object, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from tierbench.config.suite import Suite
    from tierbench.suite.run import run_suite
    from tierbench.tracking.tags import FAILED, TAG_FAILURE

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    suite = Suite.model_validate(
        {
            "name": "unwritable-cache",
            "datasets": [{"label": "crystals", "dataset": CRYSTALS, "target": "density"}],
            "tiers": {"atom": {}},
            "trainer": {"max_epochs": 1},
            "resources": {"featurize_workers": 2},
            "tracking": {"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"},
            "cache": str(blocked / "cache"),
            "storage": str(tmp_path / "runs"),
        }
    )
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(CacheWriteError, match="cannot write to graph cache"):
            run_suite(suite, progress=False, echo=lambda line: None)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    client = MlflowClient(suite.tracking.tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name("unwritable-cache").experiment_id])
    assert [run.info.status for run in runs] == [FAILED], "only the suite run exists, and it failed"
    assert "cannot write to graph cache" in runs[0].data.tags[TAG_FAILURE]
