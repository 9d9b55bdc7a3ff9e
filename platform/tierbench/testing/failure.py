"""The error a broken tier contract raises, and how checks name the tier, the structure and the check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymatgen.core import Molecule, Structure

from tierbench.errors import TierbenchError
from tierbench.tier import structure_kind


class TierContractError(TierbenchError, AssertionError):
    """A tier broke its contract.

    It is an :class:`AssertionError`, so test runners report it as a failed test, not as an error.

    Attributes:
        tier: The tier, as ``name`` and params (e.g. ``atom {"cutoff": 5.0}``).
        structure: The structure's name (``None`` for a check that is not about one structure).
        check: The name of the check that failed (e.g. ``"rotation"``).
    """

    def __init__(self, message: str, *, tier: str, structure: str | None, check: str) -> None:
        super().__init__(message)
        self.tier = tier
        self.structure = structure
        self.check = check

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self.tier, self.structure, self.check))


def _rebuild(message: str, tier: str, structure: str | None, check: str) -> TierContractError:
    return TierContractError(message, tier=tier, structure=structure, check=check)


def describe_tier(tier: object) -> str:
    """The tier's name followed by its params as JSON, e.g. ``atom {"cutoff": 5.0}``."""
    name = str(getattr(tier, "name", type(tier).__qualname__))
    try:
        params = json.dumps(dict(tier.params()), sort_keys=True, default=str)  # type: ignore[attr-defined]
    except Exception:  # a tier without working params() is described by its name alone
        return name
    return f"{name} {params}"


def structure_name(structure: Structure | Molecule, name: str | None = None) -> str:
    """``name`` when given, else the reduced formula with the kind and size (``"TiO2 (crystal, 6 sites)"``)."""
    if name is not None:
        return name
    return f"{structure.composition.reduced_formula} ({structure_kind(structure)}, {len(structure)} sites)"


@contextmanager
def contract_check(check: str, tier: object, structure_label: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into a :class:`TierContractError` naming tier, structure and check.

    An ``AssertionError`` keeps its message; any other exception (a build that raises, a tensor of the
    wrong type …) is reported with its type.

    Args:
        check: Name of the check the block runs.
        tier: The tier under test.
        structure_label: Name of the structure (see :func:`structure_name`), or ``None``.

    Raises:
        TierContractError: The block raised.
    """
    try:
        yield
    except TierContractError:
        raise
    except Exception as error:
        detail = str(error).strip() or type(error).__name__
        if not isinstance(error, AssertionError):
            detail = f"{type(error).__name__}: {detail}"
        tier_label = describe_tier(tier)
        where = f" on structure {structure_label!r}" if structure_label is not None else ""
        message = f"tier {tier_label} failed check {check!r}{where}: {detail}"
        raise TierContractError(message, tier=tier_label, structure=structure_label, check=check) from error
