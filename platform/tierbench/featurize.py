"""Featurization: dataset × tiers → graphs in the cache, in parallel on Ray, with a coverage report.

The driver computes every cache key, looks at the cache (file existence only) and sends only the missing
(sample, tier) builds to Ray tasks, in chunks sized so task overhead stays small and with a bounded number
of chunks in flight, so memory stays flat on 10⁵ structures. Graphs stream into the cache from the
workers; the driver keeps one short outcome per (sample, tier). A warm run starts no Ray at all and calls
no tier.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch_geometric.data import Data

from tierbench.cache import (
    CacheWriteError,
    GraphCache,
    canonical_digest,
    combine_digests,
    open_cache,
    structure_digest,
    tier_digest,
)
from tierbench.compact import CompactStructure, compact, expand
from tierbench.datasets import Dataset
from tierbench.featurize_progress import FeaturizationProgress
from tierbench.registry import get_tier
from tierbench.structures import Sample
from tierbench.tier import Tier, TierError

OK = "ok"
PENDING = "pending"
UNEXPECTED_ERROR = "unexpected_error"
WORKER_CRASHED = "worker_crashed"
MAX_CHUNK = 256
MIN_CHUNK = 4
CHUNKS_PER_WORKER = 8
IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True)
class Outcome:
    """Result of one (sample, tier) build as the driver records it."""

    index: int
    tier: str
    status: str
    message: str = ""
    cpu_seconds: float = 0.0


WorkItem = tuple[int, CompactStructure, tuple[tuple[str, str], ...]]


def build_chunk(tiers: Mapping[str, Tier], cache_root: str, items: Sequence[WorkItem]) -> list[Outcome]:
    """Build the missing graphs of a chunk of samples into the cache (runs in a Ray task or in-process).

    A tier that raises something other than a ``TierError`` is a bug in the tier, not a property of the
    structure: it is recorded as ``unexpected_error`` (with the exception) and not cached, so a fixed
    tier retries it. A cache that cannot be written (read-only, disk full) is no property of the
    structure either, and would fail every other build the same way: it stops the featurization.

    Args:
        tiers: Tier label → configured tier (pickled to the worker).
        cache_root: Cache directory, reachable from the worker.
        items: (sample index, compact structure, (tier label, cache key) pairs to build).

    Returns:
        One outcome per (sample, tier) build; graphs themselves go to the cache.

    Raises:
        CacheWriteError: The cache cannot be written.
    """
    cache = GraphCache(cache_root)
    outcomes = []
    for index, packed, jobs in items:
        structure = expand(packed)
        for label, key in jobs:
            started = time.process_time()
            try:
                cache.build_missing(tiers[label], structure, key)
            except TierError as error:
                status, message = error.reason, str(error)
            except CacheWriteError:
                raise
            except Exception as error:  # recorded per structure so that one crash never stops the run
                status, message = UNEXPECTED_ERROR, f"{type(error).__name__}: {error}"
            else:
                status, message = OK, ""
            outcomes.append(Outcome(index, label, status, message, time.process_time() - started))
    return outcomes


@dataclass
class Featurization:
    """Where every (sample, tier) graph is, and how its build went.

    Attributes:
        sample_ids: Dataset sample ids, by index.
        tiers: Tier label → configured tier.
        cache: The cache holding the graphs.
        keys: Tier label → cache key per sample.
        status: Tier label → ``"ok"`` or the failure reason per sample.
        messages: (sample index, tier label) → failure message.
        built_cpu_seconds: Tier label → CPU seconds spent building in this run (0 for cached graphs).
        cached: Tier label → number of samples served from the cache.
        wall_seconds: Wall time of the run.
        samples: The featurized samples, to rebuild a graph whose cache entry turns out corrupt.
        rebuilt: (sample index, tier label) of the graphs rebuilt since because their entry was corrupt
            or gone.
    """

    sample_ids: list[str]
    tiers: dict[str, Tier]
    cache: GraphCache
    keys: dict[str, list[str]]
    status: dict[str, list[str]]
    messages: dict[tuple[int, str], str] = field(default_factory=dict)
    built_cpu_seconds: dict[str, float] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    samples: Sequence[Sample] = field(default=(), repr=False)
    rebuilt: list[tuple[int, str]] = field(default_factory=list)

    def covered(self, labels: Iterable[str] | None = None) -> list[int]:
        """Indices of the samples every given tier (default: all) built successfully."""
        selected = list(labels if labels is not None else self.tiers)
        return [index for index in range(len(self.sample_ids)) if all(self.status[t][index] == OK for t in selected)]

    def exclusions(self, labels: Iterable[str] | None = None) -> dict[str, int]:
        """Why samples fall out of the intersection: ``"<tier>: <reason>"`` → count."""
        counts: Counter[str] = Counter()
        for label in labels if labels is not None else self.tiers:
            counts.update(f"{label}: {status}" for status in self.status[label] if status != OK)
        return dict(counts)

    def coverage(self) -> dict[str, dict[str, Any]]:
        """Per tier: ok count, failures by reason, CPU seconds spent now, samples served from cache."""
        report = {}
        for label, statuses in self.status.items():
            counts = Counter(statuses)
            report[label] = {
                "tier": self.tiers[label].name,
                "total": len(statuses),
                "ok": counts.pop(OK, 0),
                "failed": dict(sorted(counts.items())),
                "cached": self.cached.get(label, 0),
                "built_cpu_seconds": round(self.built_cpu_seconds.get(label, 0.0), 3),
            }
        return report

    def failures(self) -> list[dict[str, Any]]:
        """Every failed (sample, tier) with its reason and message."""
        return [
            {"id": self.sample_ids[index], "tier": label, "reason": self.status[label][index], "message": message}
            for (index, label), message in sorted(self.messages.items())
        ]

    def write_report(self, path: str | Path) -> Path:
        """Write the coverage report (per tier, and the failures) as JSON."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "samples": len(self.sample_ids),
            "coverage": self.coverage(),
            "all_tiers_covered": len(self.covered()),
            "exclusions": self.exclusions(),
            "failures": self.failures(),
            "wall_seconds": round(self.wall_seconds, 3),
        }
        path.write_text(json.dumps(payload, indent=2))
        return path

    def table(self) -> str:
        """The coverage report as a text table."""
        lines = [f"{'tier':<14}{'ok':>8}{'failed':>8}{'cached':>8}{'cpu s':>10}  failures by reason"]
        for label, row in self.coverage().items():
            failed = sum(row["failed"].values())
            reasons = ", ".join(f"{reason}: {count}" for reason, count in row["failed"].items()) or "-"
            lines.append(
                f"{label:<14}{row['ok']:>8}{failed:>8}{row['cached']:>8}{row['built_cpu_seconds']:>10.1f}  {reasons}"
            )
        lines.append(f"all tiers: {len(self.covered())} of {len(self.sample_ids)} samples")
        return "\n".join(lines)

    def graph(self, index: int, label: str) -> Data:
        """Load one built graph from the cache, building it again if its entry is corrupt or gone.

        Only the file's existence was checked when the featurization was made; a checksum failure shows
        on this read (the cache reports and removes the entry) and the graph is rebuilt, identical.

        Raises:
            KeyError: The graph is not available (its build failed, or it cannot be rebuilt).
        """
        if self.status[label][index] != OK:
            raise KeyError(f"sample {self.sample_ids[index]} has no {label} graph: {self.status[label][index]}")
        tier, key = self.tiers[label], self.keys[label][index]
        found = self.cache.get(tier.name, key)
        if found is None and index < len(self.samples):
            try:
                found = self.cache.build_missing(tier, self.samples[index].structure, key)
            except TierError as error:
                raise KeyError(
                    f"the {label} graph of sample {self.sample_ids[index]} cannot be rebuilt: {error}"
                ) from error
            self.rebuilt.append((index, label))
        if not isinstance(found, Data):
            raise KeyError(f"the {label} graph of sample {self.sample_ids[index]} is no longer in the cache")
        return found


def _resolve_tiers(tiers: Mapping[str, Tier | str] | Sequence[str | Tier]) -> dict[str, Tier]:
    """Configured tiers by label; a plain list is labelled by the tiers' names."""
    instances = {}
    pairs = tiers.items() if isinstance(tiers, Mapping) else [(None, tier) for tier in tiers]
    for given_label, tier in pairs:
        instance = get_tier(tier) if isinstance(tier, str) else tier
        instances[given_label or instance.name] = instance
    return instances


def _chunk_size(pending: int, workers: int, requested: int | None) -> int:
    if requested:
        return requested
    return max(MIN_CHUNK, min(MAX_CHUNK, math.ceil(pending / (CHUNKS_PER_WORKER * workers))))


def featurize(
    dataset: Sequence[Sample],
    tiers: Mapping[str, Tier | str] | Sequence[str | Tier],
    *,
    cache: GraphCache | str | Path | None = None,
    ray_address: str | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> Featurization:
    """Build every tier's graph of every sample through the cache.

    Args:
        dataset: Samples (any sized, indexable collection).
        tiers: Tier names, tier instances, or label → tier (labels let one suite use a tier twice with
            different params).
        cache: Cache or its directory (default: the configured cache).
        ray_address: Ray cluster to use (default: ``RAY_ADDRESS`` or a local cluster started on demand).
        workers: Parallel builds; 1 builds in this process without Ray. Default: every CPU of the cluster.
        chunk_size: Samples per Ray task (default: sized from the work and the number of workers).
        progress: Show a progress bar.

    Returns:
        The featurization record: coverage, failures, and access to the graphs.
    """
    started = time.perf_counter()
    graph_cache = cache if isinstance(cache, GraphCache) else open_cache(cache)
    instances = _resolve_tiers(tiers)
    digests = {label: tier_digest(tier) for label, tier in instances.items()}
    result = Featurization(
        sample_ids=list(dataset.ids) if isinstance(dataset, Dataset) else [sample.id for sample in dataset],
        tiers=instances,
        cache=graph_cache,
        keys={label: [] for label in instances},
        status={label: [] for label in instances},
        samples=dataset,
    )
    todo: list[tuple[int, tuple[tuple[str, str], ...]]] = []
    for index, structure_hash in enumerate(_structure_digests(dataset)):
        missing = []
        for label, tier in instances.items():
            key = combine_digests(digests[label], structure_hash)
            result.keys[label].append(key)
            state = graph_cache.status(tier.name, key)
            if state == "absent":
                result.status[label].append(PENDING)
                missing.append((label, key))
                continue
            result.cached[label] = result.cached.get(label, 0) + 1
            result.status[label].append(OK)
            if state == "failure":
                _record_cached_failure(result, graph_cache, index, label)
        if missing:
            todo.append((index, tuple(missing)))
    with FeaturizationProgress(result, enabled=progress) as bar:
        dispatch = _Dispatch(dataset, todo, instances, str(graph_cache.root.resolve()), result, bar)
        if todo and workers == 1:
            dispatch.run_here(chunk_size)
        elif todo:
            dispatch.run_on_ray(ray_address, workers, chunk_size)
    result.wall_seconds = time.perf_counter() - started
    return result


def _structure_digests(dataset: Sequence[Sample]) -> Iterable[str]:
    """The structure digest of every sample; a dataset table's straight from its arrays (no pymatgen)."""
    if isinstance(dataset, Dataset):
        return (canonical_digest(dataset.table.canonical_form(row)) for row in range(len(dataset)))
    return (structure_digest(sample.structure) for sample in dataset)


def _record_cached_failure(result: Featurization, cache: GraphCache, index: int, label: str) -> None:
    found = cache.get(result.tiers[label].name, result.keys[label][index])
    if isinstance(found, Data):
        return
    if found is None:  # removed (or corrupt) since the existence check: build it again
        result.status[label][index] = PENDING
        return
    result.status[label][index] = found.reason
    result.messages[(index, label)] = found.message


def _apply(result: Featurization, outcomes: Iterable[Outcome], bar: FeaturizationProgress) -> None:
    for outcome in outcomes:
        result.status[outcome.tier][outcome.index] = outcome.status
        result.built_cpu_seconds[outcome.tier] = result.built_cpu_seconds.get(outcome.tier, 0.0) + outcome.cpu_seconds
        if outcome.status != OK:
            result.messages[(outcome.index, outcome.tier)] = outcome.message
        bar.advance(outcome)


@dataclass
class _Dispatch:
    """Sends the missing builds to Ray (or runs them here) and records the outcomes."""

    dataset: Sequence[Sample]
    todo: list[tuple[int, tuple[tuple[str, str], ...]]]
    tiers: dict[str, Tier]
    cache_root: str
    result: Featurization
    bar: FeaturizationProgress

    def chunks(self, size: int) -> Iterable[list[WorkItem]]:
        for start in range(0, len(self.todo), size):
            yield [
                (index, compact(self.dataset[index].structure), jobs) for index, jobs in self.todo[start : start + size]
            ]

    def run_here(self, chunk_size: int | None) -> None:
        for items in self.chunks(_chunk_size(len(self.todo), 1, chunk_size)):
            _apply(self.result, build_chunk(self.tiers, self.cache_root, items), self.bar)

    def run_on_ray(self, ray_address: str | None, workers: int | None, chunk_size: int | None) -> None:
        from tierbench.distributed import cluster_cpus, connect_ray

        connect_ray(ray_address, num_cpus=workers)
        import ray

        parallel = workers or cluster_cpus()
        remote_build = ray.remote(num_cpus=1, max_retries=2)(build_chunk)
        tiers_ref: Any = ray.put(self.tiers)
        in_flight: dict[Any, list[WorkItem]] = {}
        for items in self.chunks(_chunk_size(len(self.todo), parallel, chunk_size)):
            in_flight[remote_build.remote(tiers_ref, self.cache_root, items)] = items
            if len(in_flight) >= IN_FLIGHT_PER_WORKER * parallel:
                done, _ = ray.wait(list(in_flight), num_returns=1)
                self.collect(done[0], in_flight.pop(done[0]), remote_build, tiers_ref)
        for reference, items in in_flight.items():
            self.collect(reference, items, remote_build, tiers_ref)

    def collect(self, reference: Any, items: list[WorkItem], remote_build: Any, tiers_ref: Any) -> None:
        """Record a chunk's outcomes; a chunk whose worker died is rerun one sample per task.

        Raises:
            CacheWriteError: The worker could not write the cache.
        """
        import ray

        try:
            _apply(self.result, ray.get(reference), self.bar)
            return
        except ray.exceptions.RayError as error:
            worker_error = getattr(error, "cause", None)
            if isinstance(worker_error, CacheWriteError):
                raise worker_error from None  # a rerun would fail the same way
            cause = type(error).__name__
        single = remote_build.options(max_retries=0)
        references = {single.remote(tiers_ref, self.cache_root, [item]): item for item in items}
        for single_reference, (index, _, jobs) in references.items():
            try:
                _apply(self.result, ray.get(single_reference), self.bar)
            except ray.exceptions.RayError:
                message = f"the worker process died while building this structure ({cause})"
                _apply(self.result, [Outcome(index, label, WORKER_CRASHED, message) for label, _ in jobs], self.bar)
