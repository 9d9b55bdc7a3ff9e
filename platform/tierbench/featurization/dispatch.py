"""Sending the missing (sample, tier) builds to Ray workers in bounded chunks, or building them here."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tierbench.errors import Reason, TierError
from tierbench.featurization.cache import CacheWriteError, GraphCache
from tierbench.featurization.progress import FeaturizationProgress
from tierbench.featurization.results import OK, Featurization, Outcome
from tierbench.structures.compact import CompactStructure, compact, expand
from tierbench.structures.sample import Sample
from tierbench.tier import Tier

MAX_CHUNK = 256
MIN_CHUNK = 4
CHUNKS_PER_WORKER = 8
IN_FLIGHT_PER_WORKER = 2


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
            status: str  # "ok" or a Reason
            try:
                cache.build_missing(tiers[label], structure, key)
            except TierError as error:
                status, message = error.reason, str(error)
            except CacheWriteError:
                raise
            except Exception as error:  # recorded per structure so that one crash never stops the run
                status, message = Reason.UNEXPECTED_ERROR, f"{type(error).__name__}: {error}"
            else:
                status, message = OK, ""
            outcomes.append(Outcome(index, label, status, message, time.process_time() - started))
    return outcomes


def _chunk_size(pending: int, workers: int, requested: int | None) -> int:
    if requested:
        return requested
    return max(MIN_CHUNK, min(MAX_CHUNK, math.ceil(pending / (CHUNKS_PER_WORKER * workers))))


def _apply(result: Featurization, outcomes: Iterable[Outcome], bar: FeaturizationProgress) -> None:
    for outcome in outcomes:
        result.status[outcome.tier][outcome.index] = outcome.status
        result.built_cpu_seconds[outcome.tier] = result.built_cpu_seconds.get(outcome.tier, 0.0) + outcome.cpu_seconds
        if outcome.status != OK:
            result.messages[(outcome.index, outcome.tier)] = outcome.message
        bar.advance(outcome)


@dataclass
class Dispatch:
    """Sends the missing builds to Ray (or runs them here) and records the outcomes."""

    dataset: Sequence[Sample]
    todo: list[tuple[int, tuple[tuple[str, str], ...]]]
    tiers: dict[str, Tier]
    cache_root: str
    result: Featurization
    bar: FeaturizationProgress

    def chunks(self, size: int) -> Iterable[list[WorkItem]]:
        """The pending work in chunks of ``size`` samples, structures packed for sending."""
        for start in range(0, len(self.todo), size):
            yield [
                (index, compact(self.dataset[index].structure), jobs) for index, jobs in self.todo[start : start + size]
            ]

    def run_here(self, chunk_size: int | None) -> None:
        """Build every chunk in this process."""
        for items in self.chunks(_chunk_size(len(self.todo), 1, chunk_size)):
            _apply(self.result, build_chunk(self.tiers, self.cache_root, items), self.bar)

    def run_on_ray(self, ray_address: str | None, workers: int | None, chunk_size: int | None) -> None:
        """Build the chunks in Ray tasks, a bounded number in flight, recording outcomes as they arrive."""
        from tierbench.ray_connection import cluster_cpus, connect_ray

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
                _apply(
                    self.result, [Outcome(index, label, Reason.WORKER_CRASHED, message) for label, _ in jobs], self.bar
                )
