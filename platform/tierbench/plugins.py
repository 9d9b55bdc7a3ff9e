"""Discovery of plug-ins: tiers and encoders, each from built-ins, installed plug-ins and import paths.

A name resolves in this order:

1. the built-in map (lazy ``"module:Class"`` strings, so a missing optional dependency breaks only its
   own plug-in, and listing names imports nothing heavy);
2. the entry-point group of every installed distribution (``tierbench.tiers``, ``tierbench.encoders``;
   a plug-in that fails to load becomes a warning naming it, never an error for the others);
3. a full ``"package.module:Class"`` string written by the user.

A plug-in cannot shadow a built-in of the same name by accident: it is ignored with a warning.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from tierbench.errors import TierbenchError

TIER_GROUP = "tierbench.tiers"
ENCODER_GROUP = "tierbench.encoders"

BUILTIN_TIERS: dict[str, str] = {
    "atom": "tierbench_tiers.atom:AtomTier",
    "motif": "tierbench_tiers.motif:MotifTier",
    "orbital": "tierbench_tiers.orbital:OrbitalTier",
}
BUILTIN_ENCODERS: dict[str, str] = {
    "megnet": "tierbench.model.megnet:MEGNetEncoder",
    "orbnet": "tierbench.model.orbnet:OrbNetEncoder",
    "cgcnn": "tierbench.model.cgcnn:CGCNNEncoder",
    "schnet": "tierbench.model.schnet:SchNetEncoder",
}


class UnknownPluginError(TierbenchError, KeyError):
    """A plug-in name that no built-in, installed plug-in or import path resolves."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class PluginSpec:
    """Where a plug-in class comes from.

    Attributes:
        name: Registry name.
        target: ``"module:Class"`` import path.
        source: ``"built-in"``, ``"plug-in <distribution>"`` or ``"import path"``.
    """

    name: str
    target: str
    source: str

    def load(self) -> type[Any]:
        """Import the class."""
        return import_target(self.target)


def import_target(target: str, error: type[UnknownPluginError] = UnknownPluginError) -> type[Any]:
    """The class named by ``"package.module:Class"``.

    Raises:
        UnknownPluginError: (or ``error``) The string is not of that form, or the module lacks the attribute.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise error(f"{target!r} is not an import path of the form 'package.module:Class'")
    module = importlib.import_module(module_name)
    try:
        found: type[Any] = getattr(module, attribute)
    except AttributeError as missing:
        raise error(f"module {module_name!r} has no attribute {attribute!r}") from missing
    return found


@cache
def _entry_points_on(group: str, search_path: tuple[str, ...]) -> tuple[EntryPoint, ...]:
    """The plug-ins installed on ``search_path``: scanning every distribution takes ~15 ms, so once per path."""
    return tuple(sorted(entry_points(group=group), key=lambda ep: ep.name))


class PluginRegistry:
    """The plug-ins of one kind.

    Args:
        kind: What the plug-ins are, for messages (``"tier"``, ``"encoder"``).
        group: Entry-point group of installed plug-ins.
        builtins: Built-in name → ``"module:Class"``.
        error: The error raised for an unknown name.
        check_builtins: Drop built-ins whose module cannot be found (optional dependencies).
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, str],
        *,
        error: type[UnknownPluginError] = UnknownPluginError,
        check_builtins: bool = True,
    ) -> None:
        self.kind = kind
        self.group = group
        self.builtins = dict(builtins)
        self.error = error
        self.check_builtins = check_builtins

    def available(self) -> dict[str, PluginSpec]:
        """Every plug-in that can be requested by name, built-ins first."""
        specs = {
            name: PluginSpec(name, target, "built-in")
            for name, target in self.builtins.items()
            if not self.check_builtins or importlib.util.find_spec(target.partition(":")[0]) is not None
        }
        for entry_point in _entry_points_on(self.group, tuple(sys.path)):
            distribution = entry_point.dist.name if entry_point.dist is not None else "unknown distribution"
            taken = specs.get(entry_point.name)
            if taken is not None:
                if taken.target != entry_point.value:
                    warnings.warn(
                        f"{self.kind} plug-in {entry_point.name!r} from {distribution} is ignored: the name is "
                        f"taken by {taken.source} {taken.target}",
                        stacklevel=2,
                    )
                continue
            specs[entry_point.name] = PluginSpec(entry_point.name, entry_point.value, f"plug-in {distribution}")
        return specs

    def resolve(self, name: str) -> PluginSpec:
        """Find where the plug-in called ``name`` (or the import path ``name``) comes from.

        Raises:
            UnknownPluginError: Nothing resolves the name; the message lists the available names.
        """
        specs = self.available()
        if name in specs:
            return specs[name]
        if ":" in name:
            found = import_target(name, self.error)
            return PluginSpec(getattr(found, "name", name), name, "import path")
        raise self.error(
            f"unknown {self.kind} {name!r}; available {self.kind}s: {', '.join(sorted(specs)) or 'none'} "
            "(or give a 'package.module:Class' import path)"
        )

    def load_class(self, name: str) -> type[Any]:
        """Import the class of the plug-in called ``name``.

        Raises:
            UnknownPluginError: The name does not resolve.
            ImportError: The plug-in's module (or one of its dependencies) cannot be imported.
        """
        spec = self.resolve(name)
        try:
            return spec.load()
        except ImportError as error:
            raise ImportError(
                f"{self.kind} {name!r} ({spec.source}, {spec.target}) cannot be imported: {error}"
            ) from error

    def loadable(self) -> dict[str, type[Any]]:
        """Import every discovered plug-in; one that fails is dropped with a warning naming it and its source."""
        loaded = {}
        for name, spec in self.available().items():
            try:
                loaded[name] = spec.load()
            except Exception as error:  # a broken plug-in must not hide the others
                warnings.warn(
                    f"{self.kind} {name!r} ({spec.source}, {spec.target}) failed to load: {error}", stacklevel=2
                )
        return loaded


class UnknownTierError(UnknownPluginError):
    """A tier name that no built-in, plug-in or import path resolves."""


class UnknownEncoderError(UnknownPluginError):
    """An encoder kind that no built-in, plug-in or import path resolves."""


TIERS = PluginRegistry("tier", TIER_GROUP, BUILTIN_TIERS, error=UnknownTierError)
"""Tier plug-ins (instantiate them with :func:`tierbench.tier.get_tier`)."""
ENCODERS = PluginRegistry("encoder", ENCODER_GROUP, BUILTIN_ENCODERS, error=UnknownEncoderError, check_builtins=False)
"""Encoder plug-ins: each encodes one tier's graphs (see :class:`tierbench.model.base.TierEncoder`)."""
