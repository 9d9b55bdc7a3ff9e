"""Shell pairs of a structure in the GFN basis (through periodic images) and their overlap elements.

A *kind* is one shell of one element (``(symbol, slot)``); every pair of kinds has a coupling radius,
the distance beyond which their overlap block norm stays below the tolerance. Pairs of atoms closer
than the largest radius come from the atom tier's neighbor search (each unordered pair once, an atom
with its own images included); each is expanded into the shell pairs within their own radius, and
overlap blocks are computed in batches of equal angular momenta.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from tierbench_tiers.atom.neighbors import search_within_cutoff
from tierbench_tiers.orbital.features import MAX_SHELLS_PER_ATOM
from tierbench_tiers.orbital.gfn_parameters import GFNParametrization, gfn_parametrization
from tierbench_tiers.orbital.graph import ShellTable
from tierbench_tiers.orbital.overlap import coupling_radius, shell_pair_overlaps

BOHR_IN_ANGSTROM = 0.52917721067


@cache
def pair_radius(method: str, first: tuple[str, int], second: tuple[str, int], tolerance: float) -> float:
    """Coupling radius (Å) of shell kinds ``(symbol, slot)``; computed once per process."""
    elements = gfn_parametrization(method).elements
    shell_a = elements[first[0]].shells[first[1]]
    shell_b = elements[second[0]].shells[second[1]]
    radius = coupling_radius(
        (shell_a.angular, shell_a.exponents, shell_a.coefficients),
        (shell_b.angular, shell_b.exponents, shell_b.coefficients),
        tolerance,
    )
    return radius * BOHR_IN_ANGSTROM


@dataclass(frozen=True)
class GFNShells:
    """The shells of a structure with their GFN parameters, one array entry per shell.

    Attributes:
        table: Sites, angular momenta and node types.
        kind: ``[S]`` index into ``kinds``.
        kinds: ``(symbol, slot)`` of each distinct kind.
        level: ``[S]`` shell energy, Hartree.
        slater_exponent: ``[S]`` ζ, bohr⁻¹.
        valence: ``[S]`` first shell of its angular momentum on its atom.
        electronegativity: ``[S]`` of the shell's element.
        symbol: ``[S]`` element symbol.
        reference_electrons: Valence electrons of the neutral free atoms, summed.
    """

    table: ShellTable
    kind: np.ndarray
    kinds: list[tuple[str, int]]
    level: np.ndarray
    slater_exponent: np.ndarray
    valence: np.ndarray
    electronegativity: np.ndarray
    symbol: np.ndarray
    reference_electrons: float


def gfn_shells(symbols: list[str], numbers: np.ndarray, parametrization: GFNParametrization, tier: str) -> GFNShells:
    """Shells of a structure; ``node_type = (Z - 1) · 3 + slot`` with the slot in tblite's shell order.

    Raises:
        UnsupportedElementError: An element is outside the parametrization.
    """
    rows: list[tuple[int, int, int, str, int]] = []
    for site, (symbol, number) in enumerate(zip(symbols, numbers, strict=True)):
        element = parametrization.element(symbol, tier=tier)
        rows += [(site, shell.angular, int(number), symbol, slot) for slot, shell in enumerate(element.shells)]
    kinds = sorted({(symbol, slot) for _, _, _, symbol, slot in rows})
    kind_index = {kind: index for index, kind in enumerate(kinds)}
    parameters = [parametrization.elements[symbol].shells[slot] for _, _, _, symbol, slot in rows]
    return GFNShells(
        table=ShellTable(
            atom=np.array([row[0] for row in rows]),
            angular=np.array([row[1] for row in rows]),
            node_type=np.array([(row[2] - 1) * MAX_SHELLS_PER_ATOM + row[4] for row in rows]),
        ),
        kind=np.array([kind_index[(row[3], row[4])] for row in rows]),
        kinds=kinds,
        level=np.array([shell.level for shell in parameters]),
        slater_exponent=np.array([shell.slater_exponent for shell in parameters]),
        valence=np.array([shell.valence for shell in parameters]),
        electronegativity=np.array([parametrization.elements[row[3]].electronegativity for row in rows]),
        symbol=np.array([row[3] for row in rows]),
        reference_electrons=float(sum(shell.reference_occupation for shell in parameters)),
    )


@dataclass(frozen=True)
class PairElements:
    """Overlap matrix elements of off-site shell pairs, each unordered pair once.

    Attributes:
        source: ``[C]`` shell ``A`` (home cell).
        target: ``[C]`` shell ``B`` (in the image ``shift``).
        shift: ``[C, 3]`` integer lattice translation of ``B``'s image.
        distance: ``[C]`` distance between the two atoms, Å.
        element_pair: ``[nnz]`` pair each element belongs to.
        row: ``[nnz]`` orbital of ``A``.
        column: ``[nnz]`` orbital of ``B``.
        overlap: ``[nnz]`` overlap element ``S_μν(T)``.
    """

    source: np.ndarray
    target: np.ndarray
    shift: np.ndarray
    distance: np.ndarray
    element_pair: np.ndarray
    row: np.ndarray
    column: np.ndarray
    overlap: np.ndarray


def _kinds_at_slots(shells: GFNShells, num_atoms: int) -> np.ndarray:
    """``[N, 3]`` kind of each atom's shell in each slot (``-1`` where the atom has fewer shells)."""
    table = np.full((num_atoms, MAX_SHELLS_PER_ATOM), -1)
    slots = np.array([shells.kinds[kind][1] for kind in shells.kind], dtype=np.int64)
    table[shells.table.atom, slots] = shells.kind
    return table


def _candidate_shell_pairs(
    atoms_source: np.ndarray, atoms_target: np.ndarray, distance: np.ndarray, kinds_at: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Every (atom pair, slot, slot) whose shells are within their radius: pair index, slots and kinds."""
    found = []
    for first in range(MAX_SHELLS_PER_ATOM):
        for second in range(MAX_SHELLS_PER_ATOM):
            kind_a, kind_b = kinds_at[atoms_source, first], kinds_at[atoms_target, second]
            chosen = np.flatnonzero((kind_a >= 0) & (kind_b >= 0))
            chosen = chosen[distance[chosen] < radius[kind_a[chosen], kind_b[chosen]]]
            found.append((chosen, np.full(len(chosen), first), np.full(len(chosen), second)))
    pair, slot_a, slot_b = (np.concatenate(column) for column in zip(*found, strict=True))
    return pair, slot_a, slot_b, kinds_at[atoms_source[pair], slot_a], kinds_at[atoms_target[pair], slot_b]


def shell_pair_elements(
    positions: np.ndarray,
    lattice: np.ndarray | None,
    shells: GFNShells,
    method: str,
    tolerance: float,
) -> PairElements:
    """Off-site shell pairs within their coupling radius and their overlap elements.

    Args:
        positions: ``[N, 3]`` Cartesian positions, Å.
        lattice: ``[3, 3]`` lattice vectors as rows (Å), or ``None`` for a molecule.
        shells: The structure's shells.
        method: GFN parametrization name.
        tolerance: Overlap block norm below which a pair is left out.
    """
    elements = gfn_parametrization(method).elements
    kind_shells = [elements[symbol].shells[slot] for symbol, slot in shells.kinds]
    radius = np.array([[pair_radius(method, ka, kb, tolerance) for kb in shells.kinds] for ka in shells.kinds])
    atoms = search_within_cutoff(positions, lattice, float(radius.max()))
    pair, slot_a, slot_b, kind_a, kind_b = _candidate_shell_pairs(
        atoms.source, atoms.target, atoms.distance, _kinds_at_slots(shells, len(positions)), radius
    )
    source = np.searchsorted(shells.table.atom, atoms.source[pair]) + slot_a
    target = np.searchsorted(shells.table.atom, atoms.target[pair]) + slot_b
    # one batch per (l, l', primitive counts): the kinds' exponents are stacked per primitive count
    signature = np.array([(shell.angular, len(shell.exponents)) for shell in kind_shells], dtype=np.int64)
    codes = np.ravel_multi_index((*signature[kind_a].T, *signature[kind_b].T), (3, 16, 3, 16))
    offsets = shells.table.offsets
    parts: list[tuple[np.ndarray, ...]] = []
    for code in np.unique(codes):
        members = np.flatnonzero(codes == code)
        angular_a, count_a, angular_b, count_b = np.unravel_index(code, (3, 16, 3, 16))
        stacked = {
            count: (
                np.array(
                    [shell.exponents if len(shell.exponents) == count else np.ones(count) for shell in kind_shells]
                ),
                np.array(
                    [
                        shell.coefficients if len(shell.coefficients) == count else np.zeros(count)
                        for shell in kind_shells
                    ]
                ),
            )
            for count in {int(count_a), int(count_b)}
        }
        blocks = shell_pair_overlaps(
            (int(angular_a), stacked[int(count_a)][0][kind_a[members]], stacked[int(count_a)][1][kind_a[members]]),
            (int(angular_b), stacked[int(count_b)][0][kind_b[members]], stacked[int(count_b)][1][kind_b[members]]),
            atoms.vector[pair[members]] / BOHR_IN_ANGSTROM,
        )
        rows = offsets[source[members]][:, None, None] + np.arange(blocks.shape[1])[None, :, None]
        columns = offsets[target[members]][:, None, None] + np.arange(blocks.shape[2])[None, None, :]
        parts.append(
            (
                source[members],
                target[members],
                atoms.shift[pair[members]],
                atoms.distance[pair[members]],
                np.broadcast_to(rows, blocks.shape).ravel(),
                np.broadcast_to(columns, blocks.shape).ravel(),
                blocks.ravel(),
            )
        )
    return _concatenated(parts)


def _concatenated(parts: list[tuple[np.ndarray, ...]]) -> PairElements:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return PairElements(
            empty, empty, np.zeros((0, 3), dtype=np.int64), np.zeros(0), empty, empty, empty, np.zeros(0)
        )
    sizes = [len(part[0]) for part in parts]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    element_pair = np.concatenate(
        [
            np.repeat(np.arange(start, start + size), len(part[6]) // max(size, 1))
            for part, start, size in zip(parts, starts[:-1], sizes, strict=True)
        ]
    )
    return PairElements(
        source=np.concatenate([part[0] for part in parts]),
        target=np.concatenate([part[1] for part in parts]),
        shift=np.concatenate([part[2] for part in parts]),
        distance=np.concatenate([part[3] for part in parts]),
        element_pair=element_pair,
        row=np.concatenate([part[4] for part in parts]),
        column=np.concatenate([part[5] for part in parts]),
        overlap=np.concatenate([part[6] for part in parts]),
    )
