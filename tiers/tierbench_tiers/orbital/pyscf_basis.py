"""PySCF's basis sets as the ``pyscf`` backend sees them: shells per element and node-type slots.

PySCF is imported by the functions, so that validating a tier's basis loads only PySCF's basis data.
"""

from __future__ import annotations

import warnings
from functools import cache

NODE_TYPE_ELEMENTS = 118
"""Node types are ``(Z - 1) · slots + slot`` for every element, so the vocabulary depends only on the basis."""


def radial_functions(basis: str, symbol: str) -> int | None:
    """Number of radial functions (shells) of ``symbol`` in ``basis``; ``None`` when not covered."""
    from pyscf import gto

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PySCF suggests installing basis-set-exchange for missing data
        try:
            entries = gto.basis.load(basis, symbol)
        except Exception:  # PySCF raises several types for a missing element or basis
            return None
    return sum(len(entry[1]) - 1 for entry in entries) if entries else None


@cache
def shell_slots(basis: str) -> int:
    """Most shells any element has in ``basis`` (the node-type slots per element).

    Raises:
        ValueError: PySCF knows no element in a basis of that name.
    """
    from pymatgen.core import Element

    counts = [radial_functions(basis, Element.from_Z(z).symbol) for z in range(1, NODE_TYPE_ELEMENTS + 1)]
    known = [count for count in counts if count]
    if not known:
        raise ValueError(f"PySCF has no basis set called {basis!r}")
    return max(known)
