"""Download matbench task files through matminer (an optional dependency).

Files land in ``<data home>/matbench/<task>.json.gz`` (see :func:`tierbench.datasets.data_home`), where
``load_dataset({"name": "<task>"})`` finds them. The download is checked against matminer's SHA-256 and
moved into place only when it matches, so an interrupted fetch never leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from tierbench.datasets.catalog import data_home
from tierbench.datasets.matbench_tasks import MATBENCH_COMPOSITION_TASKS, MATBENCH_STRUCTURE_TASKS
from tierbench.errors import TierbenchError

DEFAULT_TIMEOUT = 15.0
"""Seconds to wait for the server before calling the machine offline."""


class FetchError(TierbenchError, RuntimeError):
    """A dataset could not be downloaded; the message says why and what to do instead."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_reachable(url: str, timeout: float, target: Path) -> None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return
    except urllib.error.HTTPError as error:
        raise FetchError(f"{url} answered HTTP {error.code} ({error.reason}); the dataset is not there") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(
            f"cannot reach {url} ({reason}): this machine looks offline. Download that URL on a machine with "
            f"internet access and copy the file to {target}, or rerun the fetch once online."
        ) from error


def fetch_matbench(
    name: str, destination: Path | None = None, url: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Path:
    """Download one matbench task file (skipped when an intact copy is already there).

    Args:
        name: A matbench task, e.g. ``matbench_mp_gap``.
        destination: Folder for the file (default ``<data home>/matbench``).
        url: Another address for the same file (default: matminer's).
        timeout: Seconds to wait for the server.

    Returns:
        The path of the verified file.

    Raises:
        ValueError: ``name`` is not a matbench task with structures.
        FetchError: matminer is missing, the server is unreachable, or the download is corrupt.
    """
    if name not in MATBENCH_STRUCTURE_TASKS:
        hint = " (composition only: no structures for tiers)" if name in MATBENCH_COMPOSITION_TASKS else ""
        raise ValueError(
            f"{name!r} is not a matbench structure task{hint}; choose from {', '.join(MATBENCH_STRUCTURE_TASKS)}"
        )
    try:
        from matminer.datasets.dataset_retrieval import get_dataset_attribute
        from matminer.datasets.utils import _validate_dataset
    except ImportError as error:
        raise FetchError("tierbench data fetch downloads through matminer: pip install matminer") from error
    expected = get_dataset_attribute(name, "hash")
    source = url or get_dataset_attribute(name, "url")
    folder = destination if destination is not None else data_home() / "matbench"
    target = folder / f"{name}.json.gz"
    if target.is_file() and sha256_of(target) == expected:
        return target
    _check_reachable(source, timeout, target)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.{os.getpid()}.part"
    try:
        _validate_dataset(str(partial), source, expected, download_if_missing=True, n_retries_allowed=0)
    except UserWarning as error:  # matminer's signal for a checksum mismatch
        raise FetchError(f"{source} gave a file whose SHA-256 is not matminer's {expected}: {error}") from error
    except OSError as error:
        raise FetchError(f"download of {source} failed: {error}") from error
    finally:
        if partial.exists() and sha256_of(partial) != expected:
            partial.unlink()
    partial.replace(target)
    return target
