"""Featurization: dataset × tiers → graphs in the content-addressed cache, on Ray, with a coverage report."""

from __future__ import annotations

from tierbench.featurization.cache import GraphCache, open_cache
from tierbench.featurization.engine import featurize
from tierbench.featurization.results import Featurization, coverage_report

__all__ = ["Featurization", "GraphCache", "coverage_report", "featurize", "open_cache"]
