"""Restricted Hartree–Fock in a minimal basis with PySCF: the full OrbNet set F, P, S, H, J, K.

Molecules only (a periodic Hartree–Fock calculation is far beyond a featurization budget). The basis
is spherical, so every shell block transforms with orthogonal rotation matrices; with general
contractions (MINAO) each contraction is its own shell. Closed-shell molecules only: RHF has no
unpaired electrons.
"""

from __future__ import annotations

import numpy as np

from tierbench.errors import NumericalError, UnsupportedElementError, UnsupportedStructureError
from tierbench_tiers.orbital.features import PYSCF_MATRICES
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.graph import OrbitalSystem, ShellTable, dense_couplings
from tierbench_tiers.orbital.pyscf_basis import radial_functions, shell_slots
from tierbench_tiers.orbital.settings import PySCFSettings


def _molecule(geometry: Geometry, settings: PySCFSettings, tier: str):
    from pyscf import gto

    for symbol in sorted(set(geometry.symbols)):
        if radial_functions(settings.basis, symbol) is None:
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
        matrices=PYSCF_MATRICES,
        global_features=np.array([float(mean_field.e_tot) / len(geometry.numbers), lumo - homo, 0.5 * (homo + lumo)]),
    )
