"""Unit strings and conversion factors for dataset targets.

Every target a dataset yields carries one of these unit strings. Energies convert between the units in
:data:`ENERGY_IN_EV`; other units are kept as the source states them.
"""

from __future__ import annotations

import numpy as np

HARTREE_TO_EV = 27.211386
"""eV per Hartree (CODATA 2018: 27.211386246, rounded as the QM9 literature quotes it)."""

KCAL_PER_MOL_TO_EV = 0.0433641043
"""eV per kcal/mol (per molecule: 4184 J / N_A / e)."""

KJ_PER_MOL_TO_EV = 0.0103642688
"""eV per kJ/mol."""

EV = "eV"
MEV = "meV"
HARTREE = "Ha"
KCAL_PER_MOL = "kcal/mol"
KJ_PER_MOL = "kJ/mol"
EV_PER_ATOM = "eV/atom"
MEV_PER_ATOM = "meV/atom"
EV_PER_CELL = "eV/cell"
ANGSTROM3 = "Å^3"
BOHR2 = "a0^2"
BOHR3 = "a0^3"
DEBYE = "D"
GHZ = "GHz"
BOHR_MAGNETON = "μB"
CAL_PER_MOL_K = "cal/mol/K"
LOG10_GPA = "log10(GPa)"
INVERSE_CM = "cm^-1"
DIMENSIONLESS = "1"
LABEL = "class label"
UNSPECIFIED = "unspecified"
"""A target whose unit neither the format nor the dataset spec states."""

ENERGY_IN_EV = {
    EV: 1.0,
    MEV: 1e-3,
    HARTREE: HARTREE_TO_EV,
    KCAL_PER_MOL: KCAL_PER_MOL_TO_EV,
    KJ_PER_MOL: KJ_PER_MOL_TO_EV,
}
"""Energy units that :func:`convert` handles, as eV per unit."""

PER_ATOM_SUFFIX = "/atom"

MATERIALS_PROJECT_UNITS = {
    "band_gap": EV,
    "formation_energy_per_atom": EV_PER_ATOM,
    "energy_per_atom": EV_PER_ATOM,
    "energy_above_hull": EV_PER_ATOM,
    "uncorrected_energy_per_atom": EV_PER_ATOM,
    "efermi": EV,
    "volume": ANGSTROM3,
    "density": "g/cm^3",
    "total_magnetization": BOHR_MAGNETON,
}
"""Units of the Materials Project document fields, used for MP-style JSON-lines files."""


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Factor that turns values in ``from_unit`` into ``to_unit``.

    Energies (and energies per atom) convert among :data:`ENERGY_IN_EV`; a unit converts to itself.

    Raises:
        ValueError: The two units are not both energies (or both energies per atom).
    """
    if from_unit == to_unit:
        return 1.0
    per_atom = from_unit.endswith(PER_ATOM_SUFFIX) and to_unit.endswith(PER_ATOM_SUFFIX)
    source = from_unit.removesuffix(PER_ATOM_SUFFIX) if per_atom else from_unit
    target = to_unit.removesuffix(PER_ATOM_SUFFIX) if per_atom else to_unit
    if source not in ENERGY_IN_EV or target not in ENERGY_IN_EV:
        raise ValueError(
            f"cannot convert {from_unit!r} to {to_unit!r}: conversions exist between the energy units "
            f"{', '.join(ENERGY_IN_EV)} (optionally per atom)"
        )
    return ENERGY_IN_EV[source] / ENERGY_IN_EV[target]


def convert(values: np.ndarray, from_unit: str, to_unit: str) -> np.ndarray:
    """Values in ``from_unit`` expressed in ``to_unit`` (see :func:`conversion_factor`)."""
    return np.asarray(values, dtype=float) * conversion_factor(from_unit, to_unit)
