"""Fixed per-element descriptors and atomic numbers of structures, shared by the tiers.

Each element ``Z = 1 … 118`` has a float32 descriptor vector of width :data:`DESCRIPTOR_DIM`, built
once per process from pymatgen's element data (so the pymatgen version belongs in a tier's
``dependencies``). Row ``Z`` of :func:`descriptor_table` is the vector of element ``Z``; row 0 is all
zeros, so an array of atomic numbers indexes the table directly.

Columns, in order (:data:`DESCRIPTOR_NAMES`):

=============================  =====  ==========================================================
column                         width  value
=============================  =====  ==========================================================
``group_1`` … ``group_18``     18     one-hot IUPAC group (lanthanides and actinides: group 3)
``period_1`` … ``period_7``    7      one-hot period
``block_s`` … ``block_f``      4      one-hot block (pymatgen's: He with the p-block noble
                                      gases, La and Ac in the f block)
``electronegativity``          1      Pauling electronegativity, z-score
``covalent_radius``            1      covalent radius (Cordero et al. 2008, Å), z-score
``first_ionization_energy``    1      first ionization energy (eV), z-score
``electron_affinity``          1      electron affinity (eV), z-score
``atomic_mass``                1      atomic mass (u), z-score
``log_molar_volume``           1      log10 of the molar volume of the solid (cm³/mol), z-score
``valence_s`` … ``valence_f``  4      electrons outside the noble-gas core in s, p, d, f
                                      subshells, divided by the subshell capacity (2, 6, 10, 14)
``<property>_known``           6      1 when the property above is known for the element, else 0
=============================  =====  ==========================================================

Z-scores use the mean and standard deviation over the elements that have the value. An unknown value
is 0 (the mean) with its ``_known`` flag 0; the flags follow the six properties that can be unknown, in
the order electronegativity, covalent radius, first ionization energy, electron affinity, molar
volume, valence. Pymatgen's data for the transactinides (``Z > 103``) is sparse and partly estimated,
so their properties are all treated as unknown: their vectors carry group, period, block and mass.

NumPy and pymatgen are imported by the functions that use them: the tiers' classes read the column
layout from this module and must import without them.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING

from tierbench.errors import UnsupportedElementError, UnsupportedStructureError

if TYPE_CHECKING:
    import numpy as np
    from pymatgen.core import Element, Molecule, Site, Structure

MAX_ATOMIC_NUMBER = 118
NUM_ELEMENT_TYPES = MAX_ATOMIC_NUMBER + 1
"""Size of an embedding indexed by atomic number (index 0 unused)."""

LAST_WELL_CHARACTERIZED_Z = 103
"""Lawrencium; heavier elements get no measured properties (see the module docstring)."""

NUM_GROUPS = 18
NUM_PERIODS = 7
BLOCKS = ("s", "p", "d", "f")
SUBSHELL_CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}
_SUBSHELL = re.compile(r"\d+([spdf])(\d+)")


def _optional(value: float | None) -> float:
    """A pymatgen property as a plain float, NaN when pymatgen has none."""
    return math.nan if value is None else float(value)


def _electronegativity(element: Element) -> float:
    return _optional(element.X)


def _covalent_radius(element: Element) -> float:
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    return _optional(CovalentRadius.radius.get(element.symbol))


def _ionization_energy(element: Element) -> float:
    return _optional(element.ionization_energy)


def _electron_affinity(element: Element) -> float:
    try:
        return _optional(element.electron_affinity)
    except KeyError:  # no entry in pymatgen's table
        return math.nan


def _log_molar_volume(element: Element) -> float:
    return math.log10(_optional(element.molar_volume))


def _valence_occupancy(element: Element) -> list[float]:
    """Electrons outside the noble-gas core per subshell type, as a fraction of the capacity."""
    try:
        configuration = element.electronic_structure  # e.g. "[Xe].4f14.5d10.6s2.6p2"
    except KeyError:  # no entry in pymatgen's table
        return [math.nan] * len(BLOCKS)
    electrons = dict.fromkeys(BLOCKS, 0)
    for subshell in configuration.split("."):
        match = _SUBSHELL.fullmatch(subshell)
        if match:  # the "[Xe]" core token has no match
            electrons[match.group(1)] += int(match.group(2))
    return [electrons[block] / SUBSHELL_CAPACITY[block] for block in BLOCKS]


_STANDARDIZED: tuple[tuple[str, Callable[[Element], float], bool], ...] = (
    # (column name, value getter, can be unknown)
    ("electronegativity", _electronegativity, True),
    ("covalent_radius", _covalent_radius, True),
    ("first_ionization_energy", _ionization_energy, True),
    ("electron_affinity", _electron_affinity, True),
    ("atomic_mass", lambda element: float(element.atomic_mass), False),
    ("log_molar_volume", _log_molar_volume, True),
)
_VALENCE_NAMES = tuple(f"valence_{block}" for block in BLOCKS)
_KNOWN_FLAGS = (
    *(f"{name}_known" for name, _, can_be_unknown in _STANDARDIZED if can_be_unknown),
    "valence_known",
)

DESCRIPTOR_NAMES: tuple[str, ...] = (
    *(f"group_{group}" for group in range(1, NUM_GROUPS + 1)),
    *(f"period_{period}" for period in range(1, NUM_PERIODS + 1)),
    *(f"block_{block}" for block in BLOCKS),
    *(name for name, _, _ in _STANDARDIZED),
    *_VALENCE_NAMES,
    *_KNOWN_FLAGS,
)
"""Column names of the descriptor vectors."""

DESCRIPTOR_DIM = len(DESCRIPTOR_NAMES)


def _raw_properties(element: Element) -> list[float]:
    """Standardized properties then valence occupancies of one element, NaN where unknown."""
    return [getter(element) for _, getter, _ in _STANDARDIZED] + _valence_occupancy(element)


@cache
def _build_table() -> np.ndarray:
    import numpy as np
    from pymatgen.core import Element

    elements = [Element.from_Z(z) for z in range(1, NUM_ELEMENT_TYPES)]
    with warnings.catch_warnings():  # pymatgen warns about every gap in its data; gaps are flagged instead
        warnings.simplefilter("ignore")
        raw = np.array([_raw_properties(element) for element in elements])
    always_known = [index for index, (_, _, can_be_unknown) in enumerate(_STANDARDIZED) if not can_be_unknown]
    transactinide = np.arange(1, NUM_ELEMENT_TYPES) > LAST_WELL_CHARACTERIZED_Z
    raw[np.ix_(transactinide, np.setdiff1d(np.arange(raw.shape[1]), always_known))] = math.nan
    standardized, valence = raw[:, : len(_STANDARDIZED)], raw[:, len(_STANDARDIZED) :]
    mean = np.nanmean(standardized, axis=0)
    std = np.nanstd(standardized, axis=0)
    scores = np.nan_to_num((standardized - mean) / std, nan=0.0)
    can_be_unknown = [index for index, (_, _, flag) in enumerate(_STANDARDIZED) if flag]
    known = np.concatenate([~np.isnan(standardized[:, can_be_unknown]), ~np.isnan(valence[:, :1])], axis=1).astype(
        float
    )

    one_hot = np.zeros((len(elements), NUM_GROUPS + NUM_PERIODS + len(BLOCKS)))
    rows = np.arange(len(elements))
    one_hot[rows, [element.group - 1 for element in elements]] = 1.0
    one_hot[rows, [NUM_GROUPS + element.row - 1 for element in elements]] = 1.0
    one_hot[rows, [NUM_GROUPS + NUM_PERIODS + BLOCKS.index(element.block) for element in elements]] = 1.0

    table = np.zeros((NUM_ELEMENT_TYPES, DESCRIPTOR_DIM), dtype=np.float32)
    table[1:] = np.concatenate([one_hot, scores, np.nan_to_num(valence, nan=0.0), known], axis=1)
    table.flags.writeable = False
    return table


def descriptor_table() -> np.ndarray:
    """All descriptor vectors, ``[119, DESCRIPTOR_DIM]`` float32, read-only; row ``Z`` is element ``Z``.

    Computed from pymatgen on the first call of the process, then reused.
    """
    return _build_table()


def element_descriptors(atomic_number: int) -> np.ndarray:
    """The descriptor vector of one element.

    Args:
        atomic_number: ``Z`` between 1 and 118.

    Returns:
        A read-only ``[DESCRIPTOR_DIM]`` float32 view (see :data:`DESCRIPTOR_NAMES`).

    Raises:
        UnsupportedElementError: ``Z`` is not an element.
    """
    if not 1 <= atomic_number <= MAX_ATOMIC_NUMBER:
        raise UnsupportedElementError(f"atomic number {atomic_number} is not an element (1–{MAX_ATOMIC_NUMBER})")
    return descriptor_table()[atomic_number]


def atomic_numbers(structure: Structure | Molecule | Sequence[Site], *, tier: str | None = None) -> np.ndarray:
    """Atomic number of every site, ``[N]`` int64.

    Args:
        structure: A crystal or molecule (or any sequence of pymatgen sites).
        tier: Name of the tier asking, recorded on the errors.

    Raises:
        UnsupportedStructureError: A site is partially occupied.
        UnsupportedElementError: A site holds a dummy species (no element).
    """
    import numpy as np

    numbers = np.zeros(len(structure), dtype=np.int64)
    for index, site in enumerate(structure):
        composition = site.species  # read once: ``site.specie`` reads it three times
        if len(composition) != 1 or composition.num_atoms != 1:
            raise UnsupportedStructureError(
                f"site {index} is partially occupied ({site.species_string}); order the structure first "
                "(e.g. pymatgen OrderDisorderedStructureTransformation)",
                tier=tier,
            )
        numbers[index] = getattr(next(iter(composition)), "Z", 0)
    not_elements = np.flatnonzero((numbers < 1) | (numbers > MAX_ATOMIC_NUMBER))
    if len(not_elements):
        index = int(not_elements[0])
        raise UnsupportedElementError(
            f"site {index} holds {structure[index].species_string}, which is not a chemical element", tier=tier
        )
    return numbers
