"""Discovery of tiers: built-ins, installed plug-ins, and explicit import paths.

Resolution order for a name:

1. the built-in map (lazy ``"module:Class"`` strings, so a missing optional dependency breaks only its
   own tier);
2. the ``tierbench.tiers`` entry-point group of every installed distribution (a plug-in that fails to
   load becomes a warning naming the plug-in, never an error for the others);
3. a full ``"package.module:Class"`` string written by the user.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tierbench.tier import Tier

ENTRY_POINT_GROUP = "tierbench.tiers"

BUILTIN_TIERS: dict[str, str] = {
    "atom": "tierbench_tiers.atom:AtomTier",
    "motif": "tierbench_tiers.motif:MotifTier",
    "orbital": "tierbench_tiers.orbital:OrbitalTier",
}


class UnknownTierError(KeyError):
    """A tier name that no built-in, plug-in or import path resolves."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class TierSpec:
    """Where a tier class comes from.

    Attributes:
        name: Registry name.
        target: ``"module:Class"`` import path.
        source: ``"built-in"``, ``"plug-in <distribution>"`` or ``"import path"``.
    """

    name: str
    target: str
    source: str

    def load(self) -> type[Tier]:
        """Import the tier class."""
        return _import_target(self.target)


def _import_target(target: str) -> type[Any]:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise UnknownTierError(f"{target!r} is not an import path of the form 'package.module:Class'")
    module = importlib.import_module(module_name)
    try:
        tier_class: type[Any] = getattr(module, attribute)
    except AttributeError as error:
        raise UnknownTierError(f"module {module_name!r} has no attribute {attribute!r}") from error
    return tier_class


def _plugin_entry_points() -> tuple[EntryPoint, ...]:
    return _entry_points_on(tuple(sys.path))


@cache
def _entry_points_on(search_path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The plug-ins installed on ``search_path``: scanning every distribution takes ~15 ms, so once per path."""
    return tuple(sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name))


def _builtin_available(target: str) -> bool:
    module_name = target.partition(":")[0]
    return importlib.util.find_spec(module_name) is not None


def available_tiers() -> dict[str, TierSpec]:
    """All tiers that can be requested by name, built-ins first.

    Returns:
        Mapping from tier name to where it comes from. A plug-in that reuses a built-in name is ignored
        with a warning (built-ins cannot be shadowed by accident).
    """
    specs = {
        name: TierSpec(name, target, "built-in") for name, target in BUILTIN_TIERS.items() if _builtin_available(target)
    }
    for entry_point in _plugin_entry_points():
        distribution = entry_point.dist.name if entry_point.dist is not None else "unknown distribution"
        if entry_point.name in specs:
            if specs[entry_point.name].target != entry_point.value:
                warnings.warn(
                    f"tier plug-in {entry_point.name!r} from {distribution} is ignored: the name is taken "
                    f"by {specs[entry_point.name].source} {specs[entry_point.name].target}",
                    stacklevel=2,
                )
            continue
        specs[entry_point.name] = TierSpec(entry_point.name, entry_point.value, f"plug-in {distribution}")
    return specs


def resolve_tier(name: str) -> TierSpec:
    """Find where the tier called ``name`` comes from.

    Args:
        name: A registered name, or a ``"package.module:Class"`` import path.

    Raises:
        UnknownTierError: Nothing resolves the name; the message lists the available tiers.
    """
    specs = available_tiers()
    if name in specs:
        return specs[name]
    if ":" in name:
        return TierSpec(_import_target(name).name, name, "import path")
    raise UnknownTierError(
        f"unknown tier {name!r}; available tiers: {', '.join(sorted(specs)) or 'none'} "
        "(or give a 'package.module:Class' import path)"
    )


def load_tier_class(name: str) -> type[Tier]:
    """Import the class of the tier called ``name``.

    Raises:
        UnknownTierError: The name does not resolve.
        ImportError: The tier's module (or one of its dependencies) cannot be imported.
    """
    spec = resolve_tier(name)
    try:
        return spec.load()
    except ImportError as error:
        raise ImportError(f"tier {name!r} ({spec.source}, {spec.target}) cannot be imported: {error}") from error


def get_tier(name: str, **params: Any) -> Tier:
    """Instantiate a tier by name with its params.

    Args:
        name: A registered name, or a ``"package.module:Class"`` import path.
        **params: Keyword arguments of the tier's constructor.

    Returns:
        The tier instance.
    """
    tier_class = load_tier_class(name)
    try:
        tier = tier_class(**params)
    except TypeError as error:
        raise TypeError(f"invalid params for tier {name!r}: {error}") from error
    if not isinstance(tier, Tier):
        raise TypeError(f"{tier_class.__module__}:{tier_class.__qualname__} does not implement the Tier protocol")
    return tier


def loadable_tiers() -> dict[str, type[Tier]]:
    """Import every discovered tier; one that fails is dropped with a warning naming it and its source."""
    loaded = {}
    for name, spec in available_tiers().items():
        try:
            loaded[name] = spec.load()
        except Exception as error:  # a broken plug-in must not hide the others
            warnings.warn(f"tier {name!r} ({spec.source}, {spec.target}) failed to load: {error}", stacklevel=2)
    return loaded
