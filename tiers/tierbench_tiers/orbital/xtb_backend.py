"""Self-consistent GFN-xTB single points with tblite: Fock, density, overlap and core Hamiltonian.

tblite keeps the overlap ``S`` and the zeroth-order Hamiltonian ``H`` (``save-integrals``); the density
``P`` and the orbitals come with the result, and the self-consistent Fock matrix is rebuilt from them as
``F = S C diag(ε) Cᵀ S`` (exact, since ``C`` is square with ``Cᵀ S C = 1``). Molecules may be charged or
open-shell (tblite fills the orbitals of ``uhf`` unpaired electrons fractionally in one set of
orbitals; the density is the total one).

Crystals: one periodic calculation at Γ. Its matrices are Γ-point sums over images, so each block
between two shells already folds all images of the pair; the couplings carry the minimum-image distance.
Periodic SCF is slow and fails on many oxides, so it is an option, not the crystal default: a
calculation that does not converge is retried once with a stronger mixer damping
(:data:`RETRY_MIXER_DAMPING`) before it is reported.
"""

from __future__ import annotations

import re

import numpy as np

from tierbench.errors import NumericalError, UnsupportedStructureError
from tierbench_tiers.orbital.features import GFN_MATRICES, MAX_SHELLS_PER_ATOM
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.graph import OrbitalSystem, ShellTable, dense_couplings
from tierbench_tiers.orbital.settings import XTBSettings

BOHR_IN_ANGSTROM = 0.52917721067
BOLTZMANN_HARTREE_PER_KELVIN = 3.166808578545117e-6
RETRY_MIXER_DAMPING = 0.2
"""tblite's default is 0.4; 0.2 converges many periodic oxides (SrTiO3, MgAl2O4) that fail at 0.4."""
_NOT_CONVERGED = re.compile(r"SCF not converged in (\d+) cycles")


def _single_point(geometry: Geometry, unpaired: int, settings: XTBSettings, damping: float | None):
    from tblite.interface import Calculator

    lattice = geometry.lattice
    calculator = Calculator(
        settings.method,
        geometry.numbers,
        geometry.positions / BOHR_IN_ANGSTROM,
        charge=geometry.charge,
        uhf=unpaired,
        lattice=None if lattice is None else lattice / BOHR_IN_ANGSTROM,
        periodic=None if lattice is None else np.ones(3, dtype=bool),
    )
    calculator.set("verbosity", 0)
    calculator.set("save-integrals", 1)
    calculator.set("accuracy", settings.accuracy)
    calculator.set("max-iter", settings.max_iterations)
    calculator.set("temperature", settings.electronic_temperature * BOLTZMANN_HARTREE_PER_KELVIN)
    if damping is not None:
        calculator.set("mixer-damping", damping)
    return calculator, calculator.singlepoint()


def _run(geometry: Geometry, unpaired: int, settings: XTBSettings, tier: str):
    from tblite.exceptions import TBLiteRuntimeError

    attempts = [None, RETRY_MIXER_DAMPING] if geometry.is_crystal else [None]
    for attempt, damping in enumerate(attempts):
        try:
            return _single_point(geometry, unpaired, settings, damping)
        except TBLiteRuntimeError as error:
            stalled = _NOT_CONVERGED.search(str(error))
            if stalled is None:
                raise NumericalError(f"{settings.method} single point failed: {error}", tier=tier) from error
            if attempt == len(attempts) - 1:
                retried = f" (also with mixer damping {RETRY_MIXER_DAMPING})" if geometry.is_crystal else ""
                raise NumericalError(
                    f"{settings.method} SCF did not converge in {stalled.group(1)} iterations{retried}", tier=tier
                ) from error
    raise AssertionError("unreachable")


def xtb_system(geometry: Geometry, settings: XTBSettings, tier: str) -> OrbitalSystem:
    """Run tblite and collect the blocks of ``F``, ``P``, ``S`` and ``H`` between all shells.

    Raises:
        UnsupportedStructureError: The spin multiplicity does not fit the electron count.
        NumericalError: The SCF did not converge, or tblite failed otherwise.
    """
    electrons = int(geometry.numbers.sum() - round(geometry.charge))
    # a crystal has no spin state: an odd cell fills its frontier orbital fractionally
    unpaired = electrons % 2 if geometry.is_crystal else geometry.spin_multiplicity - 1
    if unpaired < 0 or (electrons - unpaired) % 2:
        raise UnsupportedStructureError(
            f"spin multiplicity {geometry.spin_multiplicity} is impossible with {electrons} electrons", tier=tier
        )
    calculator, result = _run(geometry, unpaired, settings, tier)
    overlap = result.get("overlap-matrix")
    coefficients = result.get("orbital-coefficients")
    levels = result.get("orbital-energies")
    density = result.get("density-matrix")
    if density.ndim == 3:
        density = density.sum(axis=0)
    projected = overlap @ coefficients
    fock = (projected * levels) @ projected.T
    shell_atom = np.asarray(calculator.get("shell-map"), dtype=np.int64)
    slot = np.arange(len(shell_atom)) - np.searchsorted(shell_atom, shell_atom)
    shells = ShellTable(
        atom=shell_atom,
        angular=np.asarray(calculator.get("angular-momenta"), dtype=np.int64),
        node_type=(geometry.numbers[shell_atom] - 1) * MAX_SHELLS_PER_ATOM + slot,
    )
    matrices = {"F": fock, "P": density, "S": overlap, "H": result.get("hamiltonian-matrix")}
    occupations = result.get("orbital-occupations")
    if occupations.ndim == 2:
        occupations = occupations.sum(axis=0)
        levels = levels.mean(axis=0)
    return OrbitalSystem(
        shells=shells,
        couplings=dense_couplings(shells, matrices, geometry.distances()),
        matrices=GFN_MATRICES,
        global_features=_frontier(float(result.get("energy")) / len(geometry.numbers), levels, occupations),
    )


def _frontier(energy_per_atom: float, levels: np.ndarray, occupations: np.ndarray) -> np.ndarray:
    """Energy per atom, HOMO–LUMO gap and midgap level (Hartree)."""
    occupied = occupations >= 1.0
    homo = float(levels[occupied].max()) if occupied.any() else float(levels.min())
    lumo = float(levels[~occupied].min()) if (~occupied).any() else homo
    return np.array([energy_per_atom, max(lumo - homo, 0.0), 0.5 * (homo + lumo)])
