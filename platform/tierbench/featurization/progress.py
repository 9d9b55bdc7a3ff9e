"""One progress bar for a featurization run: done, cached and failed per tier, rate and ETA."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from tierbench.featurization.results import Featurization, Outcome


class FeaturizationProgress:
    """Context manager around a tqdm bar counting (sample, tier) builds.

    Args:
        result: The featurization being filled (its cached counts seed the bar).
        enabled: Show the bar at all.
    """

    def __init__(self, result: Featurization, enabled: bool = True) -> None:
        self._built: Counter[str] = Counter()
        self._failed: Counter[str] = Counter()
        self._cached = dict(result.cached)
        total = sum(len(statuses) for statuses in result.status.values())
        self._bar: Any = tqdm(
            total=total, initial=sum(self._cached.values()), desc="featurize", unit="graph", disable=not enabled
        )
        self._update_postfix()

    def advance(self, outcome: Outcome) -> None:
        """Count one finished build."""
        (self._built if outcome.status == "ok" else self._failed)[outcome.tier] += 1
        self._bar.update(1)
        self._update_postfix()

    def _update_postfix(self) -> None:
        labels = sorted(set(self._cached) | set(self._built) | set(self._failed))
        parts = [f"{t} {self._built[t]}+{self._cached.get(t, 0)}c/{self._failed[t]}f" for t in labels]
        self._bar.set_postfix_str(" ".join(parts), refresh=False)

    def __enter__(self) -> FeaturizationProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._bar.close()
