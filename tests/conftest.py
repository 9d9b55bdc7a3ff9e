"""Shared fixtures: dataset location, cache directories and reference structures."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import EXAMPLE_PLUGIN_DIR, REPO_ROOT

DATASETS_HINT = (
    "external datasets not found: set TIERBENCH_DATASETS to the folder holding mp_mtcgcnn/, qm9_10k/ "
    "and qm7_pbe0/ (a checkout's ../shared/datasets is used when present)"
)


def find_datasets_dir() -> Path | None:
    """``$TIERBENCH_DATASETS``, else ``../shared/datasets`` beside the checkout, else ``None``."""
    configured = os.environ.get("TIERBENCH_DATASETS")
    candidates = [Path(configured)] if configured else [REPO_ROOT.parent / "shared" / "datasets"]
    return next((path for path in candidates if (path / "mp_mtcgcnn").is_dir()), None)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """Folder of the external datasets; the test is skipped (with the reason) when absent."""
    found = find_datasets_dir()
    if found is None:
        pytest.skip(DATASETS_HINT)
    os.environ.setdefault("TIERBENCH_DATASETS", str(found))  # catalog names resolve there too
    return found


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh graph cache directory, also exported as TIERBENCH_CACHE."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TIERBENCH_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def ray_local() -> object:
    """A real local Ray cluster (2 CPUs) shared by the session; the example plug-in is importable in workers."""
    import ray

    from tierbench.ray_connection import connect_ray

    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(EXAMPLE_PLUGIN_DIR), os.environ.get("PYTHONPATH")]))
    if str(EXAMPLE_PLUGIN_DIR) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_PLUGIN_DIR))
    connect_ray(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def one_thread_training() -> Iterator[None]:
    """Train on one torch thread and restore the process's determinism setting afterwards.

    Tiny models run fastest on one thread (two threads crawl on a loaded machine), and
    ``Trainer(deterministic=True)`` switches deterministic algorithms on for the whole process.
    """
    import torch

    threads, enabled = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(enabled)
