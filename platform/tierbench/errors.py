"""One error vocabulary: the root exception of tierbench and every reason code a user sees.

Reason codes are what coverage reports, quarantine reports, MLflow ``failure_reason`` tags and CLI
messages carry, so that users can filter on them. They are plain strings on the wire (``Reason`` is a
``str`` enum: it compares equal to, and serializes as, its value). The README lists each code with what
it means and what to do.

The exceptions every stage shares live here too: structure validation (:class:`InvalidStructureError`)
and tier builds (:class:`TierError` and its subclasses, raised by tier plug-ins).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar


class Reason(str, Enum):
    """Why a structure, a graph or a trial was rejected or failed."""

    # structure validation (readers and dataset adapters; the sample is quarantined)
    EMPTY = "empty"
    NON_FINITE_COORDINATES = "non_finite_coordinates"
    DEGENERATE_CELL = "degenerate_cell"
    INVERTED_CELL = "inverted_cell"
    ENORMOUS_STRUCTURE = "enormous_structure"
    UNKNOWN_ELEMENT = "unknown_element"
    PARTIAL_OCCUPANCY = "partial_occupancy"
    OVERLAPPING_ATOMS = "overlapping_atoms"
    TOO_MANY_SITES = "too_many_sites"
    IMPOSSIBLE_CHARGE = "impossible_charge"
    UNPARSEABLE = "unparseable"
    UNSUPPORTED_FORMAT = "unsupported_format"
    # dataset rows (quarantined)
    MISSING_FILE = "missing_file"
    DUPLICATE_ID = "duplicate_id"
    INVALID_TARGET = "invalid_target"
    # tier builds (the sample is excluded from every tier combination)
    TIER_ERROR = "tier_error"
    UNSUPPORTED_STRUCTURE = "unsupported_structure"
    UNSUPPORTED_ELEMENT = "unsupported_element"
    NUMERICAL_FAILURE = "numerical_failure"
    UNEXPECTED_ERROR = "unexpected_error"
    WORKER_CRASHED = "worker_crashed"
    # trials (the run ends FAILED with this tag)
    NON_FINITE_LOSS = "non_finite_loss"
    TRIAL_ERROR = "error"
    WORKER_DIED = "worker_died"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TierbenchError(Exception):
    """Root of every error tierbench raises on purpose.

    Errors that reach a report or a tag carry a ``reason`` (a :class:`Reason`).
    """


class InvalidStructureError(TierbenchError, ValueError):
    """A structure failed validation (no sites, NaN coordinates, overlapping atoms …)."""

    def __init__(self, message: str, *, reason: Reason) -> None:
        super().__init__(message)
        self.reason = Reason(reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_invalid, (str(self), self.reason.value))


def _rebuild_invalid(message: str, reason: str) -> InvalidStructureError:
    return InvalidStructureError(message, reason=Reason(reason))


class TierError(TierbenchError):
    """A tier cannot build a graph for a structure. The message is meant for a chemist."""

    reason: ClassVar[Reason] = Reason.TIER_ERROR

    def __init__(self, message: str, *, tier: str | None = None) -> None:
        super().__init__(message)
        self.tier = tier

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self),), {"tier": self.tier})


class UnsupportedStructureError(TierError):
    """The structure is outside what the tier handles (e.g. no cation, cell too large, charged)."""

    reason = Reason.UNSUPPORTED_STRUCTURE


class UnsupportedElementError(TierError):
    """An element of the structure is not parametrized by the tier's method."""

    reason = Reason.UNSUPPORTED_ELEMENT


class NumericalError(TierError):
    """The tier's calculation failed numerically (e.g. SCF did not converge)."""

    reason = Reason.NUMERICAL_FAILURE
