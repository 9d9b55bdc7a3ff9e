"""What a featurization run found: where every (sample, tier) graph is, how its build went, coverage."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch_geometric.data import Data

from tierbench.datasets import Dataset
from tierbench.errors import TierError
from tierbench.featurization.cache import GraphCache
from tierbench.structures.sample import Sample
from tierbench.tier import Tier

OK = "ok"
PENDING = "pending"


@dataclass(frozen=True)
class Outcome:
    """Result of one (sample, tier) build as the driver records it."""

    index: int
    tier: str
    status: str
    message: str = ""
    cpu_seconds: float = 0.0


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


def coverage_report(featurization: Featurization, dataset: Dataset, labels: list[str]) -> dict[str, Any]:
    """What each tier built, what was excluded from the comparison and why, and the dataset's quarantine."""
    return {
        "coverage": featurization.coverage(),
        "covered_by_every_tier": len(featurization.covered(labels)),
        "excluded": featurization.exclusions(labels),
        "failures": featurization.failures(),
        "quarantine": dataset.quarantine.to_dict(),
        "selection": [asdict(step) for step in dataset.info.selection],
    }
