"""tierbench: which tiers of information about a structure pay for themselves?

The public API is imported lazily so that ``import tierbench`` stays cheap (the heavy scientific
libraries load only when a feature that needs them is used).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Tier": "tierbench.tier",
    "TierDims": "tierbench.tier",
    "TierError": "tierbench.tier",
    "UnsupportedStructureError": "tierbench.tier",
    "UnsupportedElementError": "tierbench.tier",
    "NumericalError": "tierbench.tier",
    "InvalidStructureError": "tierbench.tier",
    "available_tiers": "tierbench.registry",
    "get_tier": "tierbench.registry",
    "Sample": "tierbench.structures",
    "read_structure": "tierbench.structures",
    "validate_structure": "tierbench.structures",
    "GraphCache": "tierbench.cache",
    "open_cache": "tierbench.cache",
    "load_dataset": "tierbench.datasets",
}

__all__ = ["__version__", *list(_EXPORTS)]  # noqa: PLE0604


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tierbench' has no attribute {name!r}")
    return getattr(importlib.import_module(module_name), name)


def __dir__() -> list[str]:
    return sorted(__all__)
