"""Tiers by name: built-ins, installed plug-ins (entry-point group ``tierbench.tiers``) and import paths.

Discovery is :data:`tierbench.plugins.TIERS`; this module adds instantiation with a check that the
class implements the :class:`~tierbench.tier.protocol.Tier` protocol.
"""

from __future__ import annotations

from typing import Any

from tierbench.plugins import TIERS, PluginSpec
from tierbench.tier.protocol import Tier


def available_tiers() -> dict[str, PluginSpec]:
    """All tiers that can be requested by name, built-ins first (a plug-in never shadows a built-in)."""
    return TIERS.available()


def resolve_tier(name: str) -> PluginSpec:
    """Find where the tier called ``name`` comes from.

    Raises:
        UnknownTierError: Nothing resolves the name; the message lists the available tiers.
    """
    return TIERS.resolve(name)


def load_tier_class(name: str) -> type[Tier]:
    """Import the class of the tier called ``name`` (a registered name or ``"package.module:Class"``).

    Raises:
        UnknownTierError: The name does not resolve.
        ImportError: The tier's module (or one of its dependencies) cannot be imported.
    """
    return TIERS.load_class(name)


def loadable_tiers() -> dict[str, type[Tier]]:
    """Import every discovered tier; one that fails is dropped with a warning naming it and its source."""
    return TIERS.loadable()


def get_tier(name: str, **params: Any) -> Tier:
    """Instantiate a tier by name with its params.

    Args:
        name: A registered name, or a ``"package.module:Class"`` import path.
        **params: Keyword arguments of the tier's constructor.

    Raises:
        UnknownTierError: The name does not resolve.
        TypeError: Invalid params, or the class does not implement the Tier protocol.
    """
    tier_class = load_tier_class(name)
    try:
        tier = tier_class(**params)
    except TypeError as error:
        raise TypeError(f"invalid params for tier {name!r}: {error}") from error
    if not isinstance(tier, Tier):
        raise TypeError(f"{tier_class.__module__}:{tier_class.__qualname__} does not implement the Tier protocol")
    return tier
