"""Real reference structures with known chemistry, built from published lattice parameters.

Each function builds its structure once and hands out a fresh copy on every call (see
:func:`fresh_copy`), so a caller that edits its structure can never change another caller's.

Example::

    from tierbench.testing import reference

    rutile = reference.rutile()
    for name, make in reference.MOLECULES.items():
        graph = tier.build(make())
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from functools import cache, wraps
from typing import TypeVar

from pymatgen.core import Lattice, Molecule, Structure

from tierbench.tier import structure_kind

StructureT = TypeVar("StructureT", Structure, Molecule)


def fresh_copy(build: Callable[[], StructureT]) -> Callable[[], StructureT]:
    """Build once, hand out copies: a caller that edits its structure cannot change another caller's.

    Args:
        build: A function without arguments that builds a structure.

    Returns:
        A function with the same name and docstring that returns a new copy of the structure on each call.
    """
    cached = cache(build)

    @wraps(build)
    def copy() -> StructureT:
        return cached().copy()

    return copy


@fresh_copy
def rock_salt() -> Structure:
    """NaCl, Fm-3m, a = 5.64 Å (conventional cell, 8 atoms)."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@fresh_copy
def rutile() -> Structure:
    """TiO2 rutile, P4_2/mnm, a = 4.594 Å, c = 2.959 Å, x(O) = 0.3048 (6 atoms)."""
    return Structure.from_spacegroup(
        "P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.3048, 0.3048, 0]]
    )


@fresh_copy
def perovskite() -> Structure:
    """SrTiO3 cubic perovskite, Pm-3m, a = 3.905 Å (5 atoms)."""
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    )


@fresh_copy
def spinel() -> Structure:
    """MgAl2O4 spinel, Fd-3m (origin choice 1), a = 8.08 Å, u(O) = 0.387; primitive cell (14 atoms)."""
    conventional = Structure.from_spacegroup(
        "Fd-3m",
        Lattice.cubic(8.08),
        ["Mg", "Al", "O"],
        [[0, 0, 0], [0.625, 0.625, 0.625], [0.387, 0.387, 0.387]],
    )
    return conventional.get_primitive_structure()


@fresh_copy
def wurtzite() -> Structure:
    """ZnO wurtzite, P6_3mc, a = 3.25 Å, c = 5.207 Å, u = 0.382 (4 atoms)."""
    return Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.207), ["Zn", "O"], [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]
    )


@fresh_copy
def copper() -> Structure:
    """Elemental Cu, fcc primitive cell, a = 3.615 Å (1 atom)."""
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.615), ["Cu"], [[0, 0, 0]]).get_primitive_structure()


@fresh_copy
def water() -> Molecule:
    """H2O at its experimental geometry (O–H 0.9572 Å, H–O–H 104.52°)."""
    return Molecule(["O", "H", "H"], [[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]])


@fresh_copy
def methane() -> Molecule:
    """CH4, tetrahedral, C–H 1.087 Å."""
    d = 1.087 / 3**0.5
    return Molecule(["C", "H", "H", "H", "H"], [[0.0, 0.0, 0.0], [d, d, d], [-d, -d, d], [-d, d, -d], [d, -d, -d]])


@fresh_copy
def benzene() -> Molecule:
    """C6H6, D6h, C–C 1.397 Å, C–H 1.084 Å."""
    species: list[str] = []
    coords: list[list[float]] = []
    for element, radius in (("C", 1.397), ("H", 2.481)):
        for k in range(6):
            angle = math.pi / 3 * k
            species.append(element)
            coords.append([radius * math.cos(angle), radius * math.sin(angle), 0.0])
    return Molecule(species, coords)


CRYSTALS: Mapping[str, Callable[[], Structure]] = {
    "rock_salt": rock_salt,
    "rutile": rutile,
    "perovskite": perovskite,
    "spinel": spinel,
    "wurtzite": wurtzite,
}
"""Every reference crystal by name."""

MOLECULES: Mapping[str, Callable[[], Molecule]] = {"water": water, "methane": methane, "benzene": benzene}
"""Every reference molecule by name."""

CONTRACT_STRUCTURES: Mapping[str, Callable[[], Structure | Molecule]] = {
    "rutile": rutile,
    "perovskite": perovskite,
    "water": water,
    "methane": methane,
}
"""The structures the tier contract is checked on by default: two small crystals and two molecules."""


def contract_structures(kinds: Collection[str]) -> dict[str, Structure | Molecule]:
    """Fresh copies of the default contract structures of the given kinds.

    Args:
        kinds: Structure kinds a tier accepts (``"crystal"``, ``"molecule"``), e.g. ``tier.kinds``.

    Returns:
        The structures of :data:`CONTRACT_STRUCTURES` whose kind is in ``kinds``, by name.
    """
    structures: dict[str, Structure | Molecule] = {}
    for name, make in CONTRACT_STRUCTURES.items():
        structure = make()
        if structure_kind(structure) in kinds:
            structures[name] = structure
    return structures
