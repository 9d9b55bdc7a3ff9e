"""Structures: the sample every stage passes on, readers for structure files, and validation.

Structures are validated before any tier sees them, so a bad input gets one specific
:class:`~tierbench.errors.Reason` instead of an obscure failure deep inside a quantum-chemistry code.
"""

from __future__ import annotations

from tierbench.structures.readers import load_valid_structure, read_structure
from tierbench.structures.sample import Sample, structure_from_arrays
from tierbench.structures.validation import MAX_EXTENT, MIN_INTERATOMIC_DISTANCE, validate_structure

__all__ = [
    "MAX_EXTENT",
    "MIN_INTERATOMIC_DISTANCE",
    "Sample",
    "load_valid_structure",
    "read_structure",
    "structure_from_arrays",
    "validate_structure",
]
