"""Featurization: dataset × tiers → graphs in the cache, in parallel on Ray, with a coverage report.

The driver computes every cache key, looks at the cache (file existence only) and sends only the missing
(sample, tier) builds to Ray tasks, in chunks sized so task overhead stays small and with a bounded number
of chunks in flight, so memory stays flat on 10⁵ structures. Graphs stream into the cache from the
workers; the driver keeps one short outcome per (sample, tier). A warm run starts no Ray at all and calls
no tier.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from torch_geometric.data import Data

from tierbench.datasets import Dataset
from tierbench.featurization.cache import (
    GraphCache,
    canonical_digest,
    combine_digests,
    open_cache,
    structure_digest,
    tier_digest,
)
from tierbench.featurization.dispatch import Dispatch
from tierbench.featurization.progress import FeaturizationProgress
from tierbench.featurization.results import OK, PENDING, Featurization
from tierbench.structures.sample import Sample
from tierbench.tier import Tier
from tierbench.tier.registry import get_tier


def _resolve_tiers(tiers: Mapping[str, Tier | str] | Sequence[str | Tier]) -> dict[str, Tier]:
    """Configured tiers by label; a plain list is labelled by the tiers' names."""
    instances = {}
    pairs = tiers.items() if isinstance(tiers, Mapping) else [(None, tier) for tier in tiers]
    for given_label, tier in pairs:
        instance = get_tier(tier) if isinstance(tier, str) else tier
        instances[given_label or instance.name] = instance
    return instances


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
        dispatch = Dispatch(dataset, todo, instances, str(graph_cache.root.resolve()), result, bar)
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
