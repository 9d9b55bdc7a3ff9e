"""tierbench: which tiers of information about a structure pay for themselves?

The public API is imported lazily so that ``import tierbench`` stays cheap (the heavy scientific
libraries load only when a feature that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "TierbenchError": "tierbench.errors",
    "Reason": "tierbench.errors",
    "TierError": "tierbench.errors",
    "UnsupportedStructureError": "tierbench.errors",
    "UnsupportedElementError": "tierbench.errors",
    "NumericalError": "tierbench.errors",
    "InvalidStructureError": "tierbench.errors",
    "Tier": "tierbench.tier",
    "TierDims": "tierbench.tier",
    "available_tiers": "tierbench.tier",
    "get_tier": "tierbench.tier",
    "Sample": "tierbench.structures",
    "read_structure": "tierbench.structures",
    "validate_structure": "tierbench.structures",
    "load_dataset": "tierbench.datasets",
    "make_splits": "tierbench.datasets.splits",
    "GraphCache": "tierbench.featurization",
    "open_cache": "tierbench.featurization",
    "featurize": "tierbench.featurization.engine",
    "Featurization": "tierbench.featurization",
    "TrialConfig": "tierbench.config",
    "run_trial": "tierbench.trial.run",
    "Suite": "tierbench.config",
    "load_suite": "tierbench.config",
    "plan_suite": "tierbench.suite.plan",
    "run_suite": "tierbench.suite.run",
    "compare": "tierbench.report.compare",
    "check_tier": "tierbench.testing",
}

__all__ = ["__version__", *list(_EXPORTS)]  # noqa: PLE0604


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tierbench' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return sorted(__all__)
