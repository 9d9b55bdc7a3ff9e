"""Restricted Hartree–Fock in a minimal basis with PySCF: the full OrbNet set F, P, S, H, J, K.

Molecules only (a periodic Hartree–Fock calculation is far beyond a featurization budget). The basis
is spherical, so every shell block transforms with orthogonal rotation matrices; with general
contractions (MINAO) each contraction is its own shell. Closed-shell molecules only: RHF has no
unpaired electrons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache

import numpy as np

from tierbench.tier import NumericalError, UnsupportedElementError, UnsupportedStructureError
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.graph import OrbitalSystem, ShellTable, dense_couplings

MATRICES = ("F", "P", "S", "H", "J", "K")
NODE_TYPE_ELEMENTS = 118
"""Node types are ``(Z - 1) · slots + slot`` for every element, so the vocabulary depends only on the basis."""


@dataclass(frozen=True)
class PySCFSettings:
    """Settings of the RHF calculation (all part of the tier's params).

    Attributes:
        basis: PySCF basis name (a minimal one: ``"sto-3g"``, ``"minao"`` …).
        convergence: Energy convergence threshold, Hartree (the gradient threshold is its square root).
        max_iterations: Most SCF iterations.
        max_orbitals: Larger molecules are refused.
    """

    basis: str
    convergence: float
    max_iterations: int
    max_orbitals: int


def _radial_functions(basis: str, symbol: str) -> int | None:
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

    counts = [_radial_functions(basis, Element.from_Z(z).symbol) for z in range(1, NODE_TYPE_ELEMENTS + 1)]
    known = [count for count in counts if count]
    if not known:
        raise ValueError(f"PySCF has no basis set called {basis!r}")
    return max(known)


def _molecule(geometry: Geometry, settings: PySCFSettings, tier: str):
    from pyscf import gto

    for symbol in sorted(set(geometry.symbols)):
        if _radial_functions(settings.basis, symbol) is None:
            raise UnsupportedElementError(f"the {settings.basis} basis has no functions for {symbol}", tier=tier)
    molecule = gto.Mole()
    molecule.atom = [list(pair) for pair in zip(geometry.symbols, map(tuple, geometry.positions), strict=True)]
    molecule.unit = "Angstrom"
    molecule.basis = settings.basis
    molecule.charge = round(geometry.charge)
    molecule.spin = 0
    molecule.cart = False
    molecule.verbose = 0
    molecule.build(dump_input=False, parse_arg=False)
    return molecule


def _shells(molecule, numbers: np.ndarray, slots: int) -> ShellTable:
    atom, angular = [], []
    for index in range(molecule.nbas):
        count = molecule.bas_nctr(index)
        atom += [molecule.bas_atom(index)] * count
        angular += [molecule.bas_angular(index)] * count
    atoms = np.array(atom, dtype=np.int64)
    slot = np.arange(len(atoms)) - np.searchsorted(atoms, atoms)
    return ShellTable(
        atom=atoms, angular=np.array(angular, dtype=np.int64), node_type=(numbers[atoms] - 1) * slots + slot
    )


def pyscf_system(geometry: Geometry, settings: PySCFSettings, tier: str) -> OrbitalSystem:
    """Run RHF and collect the blocks of ``F``, ``P``, ``S``, ``H``, ``J`` and ``K`` between all shells.

    Raises:
        UnsupportedElementError: The basis does not cover an element.
        UnsupportedStructureError: A crystal, an open-shell molecule, or more orbitals than allowed.
        NumericalError: The SCF did not converge.
    """
    from pyscf import scf

    if geometry.is_crystal:
        raise UnsupportedStructureError(
            "the pyscf backend runs molecular RHF only; use backend='gfn-tb' or 'xtb' for crystals", tier=tier
        )
    electrons = int(geometry.numbers.sum() - round(geometry.charge))
    if electrons % 2 or geometry.spin_multiplicity != 1:
        raise UnsupportedStructureError(
            f"RHF needs a closed-shell molecule; this one has {electrons} electrons and spin multiplicity "
            f"{geometry.spin_multiplicity} (use backend='xtb', which handles open shells)",
            tier=tier,
        )
    molecule = _molecule(geometry, settings, tier)
    if molecule.nao > settings.max_orbitals:
        raise UnsupportedStructureError(
            f"{len(geometry.symbols)} atoms give {molecule.nao} {settings.basis} orbitals, more than max_orbitals = "
            f"{settings.max_orbitals}",
            tier=tier,
        )
    mean_field = scf.RHF(molecule)
    mean_field.conv_tol = settings.convergence
    mean_field.max_cycle = settings.max_iterations
    mean_field.kernel()
    if not mean_field.converged:
        raise NumericalError(
            f"RHF/{settings.basis} did not converge in {settings.max_iterations} iterations", tier=tier
        )
    density = mean_field.make_rdm1()
    coulomb, exchange = mean_field.get_jk(molecule, density)
    core = mean_field.get_hcore()
    matrices = {
        "F": core + coulomb - 0.5 * exchange,
        "P": density,
        "S": mean_field.get_ovlp(),
        "H": core,
        "J": coulomb,
        "K": exchange,
    }
    shells = _shells(molecule, geometry.numbers, shell_slots(settings.basis))
    levels, occupations = mean_field.mo_energy, mean_field.mo_occ
    occupied = occupations > 0
    homo = float(levels[occupied].max())
    lumo = float(levels[~occupied].min()) if (~occupied).any() else homo
    return OrbitalSystem(
        shells=shells,
        couplings=dense_couplings(shells, matrices, geometry.distances()),
        matrices=MATRICES,
        global_features=np.array([float(mean_field.e_tot) / len(geometry.numbers), lumo - homo, 0.5 * (homo + lumo)]),
    )
