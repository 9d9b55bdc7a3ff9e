"""Content-addressed graph cache.

A graph is stored under ``sha256(tier name, tier version, params, canonical structure, versions of the
libraries the tier depends on)``, so a change to any of them gives a new key and a cached graph is never
stale. Entries are written to a temporary file and moved into place with ``os.replace`` (atomic on POSIX),
so any number of processes may write the same key at once. Each file carries the sha256 of its payload:
a truncated or bit-flipped entry is reported, removed and rebuilt. Payloads are plain tensors and
scalars read with ``torch.load(weights_only=True)``; nothing in the cache can run code.

A tier failure is cached too (as JSON), so a warm run repeats no expensive calculation that is known to
fail; ``clear`` or a new tier version forgets it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch_geometric.data import Data

from tierbench.errors import TierbenchError, TierError
from tierbench.structures.canonical import canonical_form
from tierbench.tier import Tier

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure

logger = logging.getLogger(__name__)

MAGIC = b"TBG1"
DIGEST_SIZE = 32
GRAPH_SUFFIX = ".graph"
FAILURE_SUFFIX = ".fail"


class CacheWriteError(TierbenchError, OSError):
    """The cache directory cannot be written (read-only, disk full …)."""


@dataclass(frozen=True)
class CachedFailure:
    """A tier failure remembered by the cache.

    Attributes:
        reason: The error's reason code (e.g. ``unsupported_element``).
        message: The error's message.
        error_type: Name of the exception class.
    """

    reason: str
    message: str
    error_type: str

    @classmethod
    def from_error(cls, error: TierError) -> CachedFailure:
        """Describe a tier error."""
        return cls(error.reason, str(error), type(error).__name__)

    def to_error(self, tier_name: str) -> TierError:
        """Re-create an error equivalent to the cached one."""
        from tierbench import errors

        error_class = getattr(errors, self.error_type, TierError)
        if not (isinstance(error_class, type) and issubclass(error_class, TierError)):
            error_class = TierError
        return error_class(self.message, tier=tier_name)


@dataclass
class CacheStats:
    """Counters of one cache object's traffic."""

    hits: int = 0
    misses: int = 0
    failures_hit: int = 0
    writes: int = 0
    corrupt: int = 0
    corrupt_keys: list[str] = field(default_factory=list)


@cache
def library_version(distribution: str) -> str:
    """Installed version of a distribution, or ``"absent"``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "absent"


def tier_digest(tier: Tier) -> str:
    """Hash of everything about a tier that changes its output: name, version, params, library versions."""
    description = {
        "tier": tier.name,
        "version": tier.version,
        "params": dict(tier.params()),
        "libraries": {name: library_version(name) for name in sorted(getattr(tier, "dependencies", ()))},
    }
    return _sha256_json(description)


def structure_digest(structure: Structure | Molecule) -> str:
    """Hash of the structure's canonical form."""
    return canonical_digest(canonical_form(structure))


def canonical_digest(form: dict[str, Any]) -> str:
    """Hash of a canonical form (see :mod:`tierbench.structures.canonical`)."""
    return _sha256_json(form)


def combine_digests(tier_hash: str, structure_hash: str) -> str:
    """The cache key of one tier's graph of one structure, from the two digests."""
    return hashlib.sha256(f"{tier_hash}:{structure_hash}".encode()).hexdigest()


def cache_key(tier: Tier, structure: Structure | Molecule) -> str:
    """The content address of ``tier``'s graph of ``structure``."""
    return combine_digests(tier_digest(tier), structure_digest(structure))


def _sha256_json(payload: Any) -> str:
    encoded = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _encode_graph(data: Data) -> bytes:
    buffer = io.BytesIO()
    torch.save(data.to_dict(), buffer)
    return buffer.getvalue()


def _decode_graph(payload: bytes) -> Data:
    return Data.from_dict(torch.load(io.BytesIO(payload), weights_only=True))


def _frame(payload: bytes) -> bytes:
    return MAGIC + hashlib.sha256(payload).digest() + payload


def _unframe(blob: bytes) -> bytes | None:
    header = len(MAGIC) + DIGEST_SIZE
    if len(blob) < header or not blob.startswith(MAGIC):
        return None
    payload = blob[header:]
    return payload if hashlib.sha256(payload).digest() == blob[len(MAGIC) : header] else None


class GraphCache:
    """On-disk store of tier graphs, safe for many concurrent readers and writers.

    Args:
        root: Cache directory (created on first write). A shared filesystem path serves a cluster.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.stats = CacheStats()

    def _path(self, tier_name: str, key: str, suffix: str) -> Path:
        return self.root / tier_name / key[:2] / f"{key}{suffix}"

    def _write(self, path: Path, payload: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        except OSError as error:
            raise CacheWriteError(f"cannot write to graph cache at {self.root}: {error.strerror or error}") from error
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(_frame(payload))
            Path(temporary).replace(path)
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise CacheWriteError(f"cannot write to graph cache at {self.root}: {error.strerror or error}") from error
        self.stats.writes += 1

    def _read(self, path: Path) -> bytes | None:
        try:
            blob = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        payload = _unframe(blob)
        if payload is None:
            self._discard_corrupt(path, "checksum mismatch or truncated file")
        return payload

    def _discard_corrupt(self, path: Path, why: str) -> None:
        logger.warning("corrupt graph cache entry %s (%s): removed, it will be rebuilt", path, why)
        self.stats.corrupt += 1
        self.stats.corrupt_keys.append(path.stem)
        path.unlink(missing_ok=True)

    def get(self, tier_name: str, key: str) -> Data | CachedFailure | None:
        """Look up an entry.

        Returns:
            The graph, the remembered failure, or ``None`` when absent (or corrupt, then removed).
        """
        graph_path = self._path(tier_name, key, GRAPH_SUFFIX)
        payload = self._read(graph_path)
        if payload is not None:
            try:
                graph = _decode_graph(payload)
            except Exception as error:  # a valid frame around an unreadable payload is corrupt as well
                self._discard_corrupt(graph_path, f"undecodable payload: {error}")
            else:
                self.stats.hits += 1
                return graph
        failure_payload = self._read(self._path(tier_name, key, FAILURE_SUFFIX))
        if failure_payload is not None:
            self.stats.failures_hit += 1
            return CachedFailure(**json.loads(failure_payload))
        self.stats.misses += 1
        return None

    def put(self, tier_name: str, key: str, graph: Data) -> None:
        """Store a graph (atomically; concurrent writers of the same key are safe)."""
        self._write(self._path(tier_name, key, GRAPH_SUFFIX), _encode_graph(graph))

    def put_failure(self, tier_name: str, key: str, failure: CachedFailure) -> None:
        """Remember that the tier failed on this input."""
        self._write(self._path(tier_name, key, FAILURE_SUFFIX), json.dumps(failure.__dict__).encode())

    def build(self, tier: Tier, structure: Structure | Molecule) -> Data:
        """Return the cached graph, building and storing it on a miss.

        Raises:
            TierError: The tier failed now or on an earlier build of the same input.
        """
        key = cache_key(tier, structure)
        cached = self.get(tier.name, key)
        if isinstance(cached, Data):
            return cached
        if isinstance(cached, CachedFailure):
            raise cached.to_error(tier.name)
        return self.build_missing(tier, structure, key)

    def build_missing(self, tier: Tier, structure: Structure | Molecule, key: str) -> Data:
        """Build a graph known to be absent from the cache and store it (or the failure).

        The build's CPU time is kept on the graph as ``build_cpu_seconds`` so the cost of a tier can be
        reported later without rebuilding.

        Raises:
            TierError: The tier failed.
        """
        started = time.process_time()
        try:
            graph = tier.build(structure)
        except TierError as error:
            self.put_failure(tier.name, key, CachedFailure.from_error(error))
            raise
        graph.build_cpu_seconds = time.process_time() - started
        self.put(tier.name, key, graph)
        return graph

    def status(self, tier_name: str, key: str) -> str:
        """``"graph"``, ``"failure"`` or ``"absent"``, from the files alone (nothing is read)."""
        if self._path(tier_name, key, GRAPH_SUFFIX).exists():
            return "graph"
        if self._path(tier_name, key, FAILURE_SUFFIX).exists():
            return "failure"
        return "absent"

    def entries(self) -> Iterator[Path]:
        """Every graph and failure file in the cache."""
        if not self.root.exists():
            return
        for path in sorted(self.root.glob("*/*/*")):
            if path.suffix in {GRAPH_SUFFIX, FAILURE_SUFFIX} and not path.name.startswith(".tmp-"):
                yield path

    def info(self) -> dict[str, dict[str, int]]:
        """Per tier: number of graphs, of remembered failures, and bytes on disk."""
        summary: dict[str, dict[str, int]] = {}
        for path in self.entries():
            tier_summary = summary.setdefault(path.parts[-3], {"graphs": 0, "failures": 0, "bytes": 0})
            tier_summary["graphs" if path.suffix == GRAPH_SUFFIX else "failures"] += 1
            tier_summary["bytes"] += path.stat().st_size
        return summary

    def verify(self) -> tuple[int, int]:
        """Check every entry's checksum, removing corrupt ones.

        Returns:
            Number of intact entries and number of corrupt entries removed.
        """
        intact = corrupt = 0
        for path in list(self.entries()):
            if self._read(path) is None:
                corrupt += 1
            else:
                intact += 1
        return intact, corrupt

    def clear(self, tier_name: str | None = None) -> int:
        """Delete every entry (or one tier's). Returns the number of files removed."""
        removed = sum(1 for path in self.entries() if tier_name is None or path.parts[-3] == tier_name)
        target = self.root if tier_name is None else self.root / tier_name
        if target.exists():
            shutil.rmtree(target)
        return removed


def open_cache(root: str | Path | None = None) -> GraphCache:
    """The cache at ``root``, or at the configured location (``TIERBENCH_CACHE``)."""
    from tierbench.settings import cache_dir

    return GraphCache(root if root is not None else cache_dir())
