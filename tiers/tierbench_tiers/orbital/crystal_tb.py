"""Non-self-consistent GFN tight binding: the cheap path that always converges (the crystal default).

The zeroth-order GFN Hamiltonian in the method's own minimal basis (:mod:`.gfn_parameters`), in the
extended-Hückel form of GFN-xTB::

    H_μν = K_ll' · ½ (h_μ + h_ν) · S_μν · (2 √(ζ_μ ζ_ν) / (ζ_μ + ζ_ν))^w · (1 + k_EN ΔEN²)

with the shell levels ``h`` on the diagonal; ``K_ll'``, ``w`` and ``k_EN`` come from tblite's tables (the
polarization constant when either shell is a polarization shell, times GFN1's element-pair factors).
Unlike tblite's H0 it leaves out the coordination-number shift of the levels and the distance
polynomial, so it needs no self-consistency: one Bloch sum and one diagonalization per k-point.

Overlap blocks come from :mod:`.shell_pairs`; the Bloch sums ``M(k) = Σ_T e^{2πi k·T} M(T)`` run over a
Γ-centred k-mesh with ``ceil(|b_i| / kpoint_spacing)`` points along reciprocal vector ``b_i`` (halved by
time reversal; a molecule has Γ only). Orbitals are filled with Fermi–Dirac occupations at
``electronic_temperature``, which keeps the density unique when levels are degenerate, and the
real-space density blocks ``P(T) = Re Σ_k w_k e^{-2πi k·T} P(k)`` are returned for every coupling.
Since this is not self-consistent, the Fock matrix ``F`` is ``H``. The generalized eigenproblem is
solved through a Cholesky factorization of ``S(k)``; when ``S(k)`` is not safely positive definite
(near-linear dependence of diffuse shells in a dense cell, made worse by the left-out small overlaps)
the combinations with overlap eigenvalues below :data:`LINEAR_DEPENDENCE` are removed by canonical
orthogonalization instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import expit

from tierbench.errors import UnsupportedStructureError
from tierbench_tiers.orbital.features import GFN_MATRICES
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.gfn_parameters import gfn_parametrization
from tierbench_tiers.orbital.graph import Couplings, OrbitalSystem
from tierbench_tiers.orbital.settings import TightBindingSettings
from tierbench_tiers.orbital.shell_pairs import GFNShells, gfn_shells, shell_pair_elements

BOLTZMANN_HARTREE_PER_KELVIN = 3.166808578545117e-6
LINEAR_DEPENDENCE = 1e-5
"""Overlap eigenvalues below this are dropped (canonical orthogonalization)."""
UNOCCUPIABLE = 1e3
"""Hartree. Level given to the dropped combinations, so they are never occupied."""
GAP_IN_SMEARING_WIDTHS = 40.0
"""A gap wider than this many ``kT`` puts the Fermi level at its middle (see :func:`fermi_level`)."""
DENSE_IMAGE_LIMIT = 8_000_000
"""Largest ``images × orbitals²`` summed as dense per-image matrices (64 MB); beyond, k-point by k-point."""


def monkhorst_pack(lattice: np.ndarray | None, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Γ-centred mesh reduced by time reversal: fractional k-points ``[nk, 3]`` and weights ``[nk]``."""
    if lattice is None:
        return np.zeros((1, 3)), np.ones(1)
    reciprocal = 2 * np.pi * np.linalg.inv(lattice).T
    mesh = np.maximum(1, np.ceil(np.linalg.norm(reciprocal, axis=1) / spacing - 1e-9)).astype(np.int64)
    grid = np.stack(np.meshgrid(*(np.arange(n) for n in mesh), indexing="ij"), axis=-1).reshape(-1, 3)
    codes = np.ravel_multi_index(grid.T, mesh)
    partner_codes = np.ravel_multi_index(((-grid) % mesh).T, mesh)
    keep = codes <= partner_codes
    weights = np.where(codes[keep] == partner_codes[keep], 1.0, 2.0)
    return grid[keep] / mesh, weights / weights.sum()


def _hamiltonian_factors(shells: GFNShells, method: str) -> np.ndarray:
    """``[S, S]`` factor that turns an off-site overlap element between two shells into the Hamiltonian's.

    It depends on the two shells only (not on their distance), so ``H(k) = factor ∘ S_off(k) + diag(h)``.
    """
    parametrization = gfn_parametrization(method)
    angular, valence = shells.table.angular, shells.valence
    scaling_table = np.array([[parametrization.shell_scaling[(i, j)] for j in range(3)] for i in range(3)])
    both_valence = valence[:, None] & valence[None, :]
    scaling = np.where(
        both_valence, scaling_table[angular[:, None], angular[None, :]], parametrization.polarization_scaling
    )
    if parametrization.element_pair_scaling:
        symbols = sorted(set(shells.symbol))
        pair_table = np.array([[parametrization.pair_scaling(x, y) for y in symbols] for x in symbols])
        index = np.searchsorted(symbols, shells.symbol)
        scaling = scaling * pair_table[index[:, None], index[None, :]]
    zeta = shells.slater_exponent
    slater_weight = (2 * np.sqrt(np.outer(zeta, zeta)) / (zeta[:, None] + zeta[None, :])) ** (
        parametrization.slater_weight_exponent
    )
    difference = shells.electronegativity[:, None] - shells.electronegativity[None, :]
    electronegativity = 1 + parametrization.electronegativity_scaling * difference**2
    mean_level = 0.5 * (shells.level[:, None] + shells.level[None, :])
    return scaling * mean_level * slater_weight * electronegativity


def image_ids(shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct lattice translations ``[images, 3]`` and the index of each row of ``shifts`` among them."""
    reach = int(np.abs(shifts).max(initial=0)) + 1
    codes = ((shifts[:, 0] + reach) * (2 * reach + 1) + shifts[:, 1] + reach) * (2 * reach + 1) + shifts[:, 2] + reach
    distinct, index = np.unique(codes, return_inverse=True)
    return _decode(distinct, reach), index.ravel()


def _decode(codes: np.ndarray, reach: int) -> np.ndarray:
    width = 2 * reach + 1
    return np.stack([codes // width**2, (codes // width) % width, codes % width], axis=1) - reach


class _LatticeSums:
    """Between real-space elements ``M_μν(T)`` and Bloch matrices ``M(k) = Σ_T e^{2πi k·T} M(T)``.

    Elements are listed by image index and by ``flat = μ · nao + ν``. Two equivalent ways: accumulate
    one dense matrix per image and multiply by the phase table (cheap for small cells with many
    k-points), or accumulate each k-point from the phased elements (cheap for large cells with few
    k-points); the cheaper one is chosen from the sizes.
    """

    def __init__(self, images: np.ndarray, kpoints: np.ndarray, weights: np.ndarray, nao: int) -> None:
        self.phases = np.exp(2j * np.pi * kpoints @ images.T)  # [nk, images]
        self.weights = weights
        self.nao = nao
        self.real = bool(np.all(np.isin(kpoints * 2, (0.0, 1.0))))

    def _dense(self, elements: int) -> bool:
        nk, images = self.phases.shape
        size = images * self.nao * self.nao
        return size <= DENSE_IMAGE_LIMIT and size * (nk + 1) < 4 * nk * elements

    def to_bloch(self, image: np.ndarray, flat: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``[nk, nao, nao]`` Bloch sums of the listed elements."""
        nao, (nk, images) = self.nao, self.phases.shape
        if self._dense(len(flat)):
            per_image = np.bincount(image * nao * nao + flat, weights=values, minlength=images * nao * nao)
            per_image = per_image.reshape(images, nao * nao)
            summed = self.phases.real @ per_image
            if not self.real:
                summed = summed + 1j * (self.phases.imag @ per_image)
            return summed.reshape(nk, nao, nao)
        summed = np.zeros((nk, nao * nao), dtype=np.float64 if self.real else np.complex128)
        for k, phase in enumerate(self.phases):
            summed[k] = np.bincount(flat, weights=values * phase.real[image], minlength=nao * nao)
            if not self.real:
                summed[k] += 1j * np.bincount(flat, weights=values * phase.imag[image], minlength=nao * nao)
        return summed.reshape(nk, nao, nao)

    def to_real(self, matrices: np.ndarray, image: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """``Re Σ_k w_k e^{-2πi k·T} M_μν(k)`` for the listed elements."""
        nao, images = self.nao, self.phases.shape[1]
        flattened = matrices.reshape(len(matrices), nao * nao)
        weighted = np.conj(self.phases) * self.weights[:, None]
        if self._dense(len(flat)):
            per_image = weighted.real.T @ flattened.real - weighted.imag.T @ flattened.imag
            return per_image.reshape(images * nao * nao)[image * nao * nao + flat]
        result = np.zeros(len(flat))
        for k in range(len(flattened)):
            result += (flattened[k, flat] * weighted[k, image]).real
        return result


def _solve(hamiltonian: np.ndarray, overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Levels ``[nk, n]`` and coefficients ``[nk, nao, n]`` of ``H C = S C ε``.

    LAPACK's Cholesky-based generalized solver when the overlap is safely positive definite at every
    k-point (the usual case); canonical orthogonalization when a Cholesky pivot falls below
    :data:`LINEAR_DEPENDENCE` or the factorization fails (near-linear dependence of diffuse shells in a
    dense cell), since the smallest pivot bounds the smallest overlap eigenvalue from above.
    """
    try:
        pivots = np.abs(np.diagonal(np.linalg.cholesky(overlap), axis1=1, axis2=2)) ** 2
    except np.linalg.LinAlgError:
        return _solve_canonical(hamiltonian, overlap)
    if pivots.min() < LINEAR_DEPENDENCE:
        return _solve_canonical(hamiltonian, overlap)
    solved = [
        scipy.linalg.eigh(matrix, metric, driver="gvd", check_finite=False)
        for matrix, metric in zip(hamiltonian, overlap, strict=True)
    ]
    return np.stack([levels for levels, _ in solved]), np.stack([vectors for _, vectors in solved])


def _solve_canonical(hamiltonian: np.ndarray, overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    eigenvalues, eigenvectors = np.linalg.eigh(overlap)
    kept = eigenvalues > LINEAR_DEPENDENCE
    transform = eigenvectors * np.where(kept, 1.0 / np.sqrt(np.where(kept, eigenvalues, 1.0)), 0.0)[:, None, :]
    orthogonal = np.conj(np.swapaxes(transform, 1, 2)) @ hamiltonian @ transform
    orthogonal += np.einsum("ki,ij->kij", np.where(kept, 0.0, UNOCCUPIABLE), np.eye(orthogonal.shape[-1]))
    levels, vectors = np.linalg.eigh(orthogonal)
    return levels, transform @ vectors


def fermi_level(levels: np.ndarray, weights: np.ndarray, electrons: float, kt: float) -> float:
    """Chemical potential that puts ``electrons`` per cell into the levels (Fermi–Dirac at ``kt``).

    When the electrons fill whole bands and a gap much wider than the smearing follows, the Fermi
    level is the middle of the gap: inside a gap the electron count stays equal to ``electrons`` to
    machine precision, so bisection would stop at an arbitrary point of the gap.
    """
    bands = round(electrons / 2)
    if abs(electrons / 2 - bands) < 1e-9 and 0 < bands < levels.shape[1]:
        top, bottom = float(levels[:, bands - 1].max()), float(levels[:, bands].min())
        if bottom - top > GAP_IN_SMEARING_WIDTHS * kt:
            return 0.5 * (top + bottom)

    def count(mu: float) -> float:
        return float(2 * weights @ expit((mu - levels) / kt).sum(axis=1))

    low, high = float(levels.min()) - 1.0, float(levels.max()) + 1.0
    while high - low > 1e-12:
        middle = 0.5 * (low + high)
        if count(middle) < electrons:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def tight_binding_system(geometry: Geometry, settings: TightBindingSettings, tier: str) -> OrbitalSystem:
    """Run the non-self-consistent calculation and collect every coupling's blocks.

    Raises:
        UnsupportedElementError: An element is outside the GFN parametrization.
        UnsupportedStructureError: Too many orbitals, or a charge that leaves no electrons.
    """
    shells = gfn_shells(geometry.symbols, geometry.numbers, gfn_parametrization(settings.method), tier)
    nao = int(shells.table.offsets[-1])
    if nao > settings.max_orbitals:
        raise UnsupportedStructureError(
            f"{len(geometry.symbols)} atoms give {nao} orbitals, more than max_orbitals = {settings.max_orbitals}",
            tier=tier,
        )
    electrons = shells.reference_electrons - geometry.charge
    if not 0 <= electrons <= 2 * nao:
        raise UnsupportedStructureError(
            f"charge {geometry.charge:+g} leaves {electrons:g} valence electrons for {nao} orbitals", tier=tier
        )
    lattice = geometry.lattice
    pairs = shell_pair_elements(geometry.positions, lattice, shells, settings.method, settings.overlap_cutoff)
    factors = _hamiltonian_factors(shells, settings.method)
    pair_hamiltonian = pairs.overlap * factors[pairs.source, pairs.target][pairs.element_pair]
    onsite = _onsite_elements(shells)
    # every pair is listed once: it enters the sums as itself and as its transpose seen from B (image −T)
    images, pair_image = image_ids(np.concatenate([pairs.shift, -pairs.shift, np.zeros((1, 3), dtype=np.int64)]))
    count = len(pairs.source)
    forward, backward = pair_image[:count][pairs.element_pair], pair_image[count : 2 * count][pairs.element_pair]
    home = np.full(len(onsite.row), pair_image[-1])
    kpoints, weights = monkhorst_pack(lattice, settings.kpoint_spacing)
    sums = _LatticeSums(images, kpoints, weights, nao)
    off_site = sums.to_bloch(
        np.concatenate([forward, backward]),
        np.concatenate([pairs.row * nao + pairs.column, pairs.column * nao + pairs.row]),
        np.concatenate([pairs.overlap, pairs.overlap]),
    )
    orbital_shell = shells.table.orbital_shell
    orbital_factors = factors[orbital_shell[:, None], orbital_shell[None, :]]
    levels_diagonal = np.diag(shells.level[orbital_shell])
    levels, coefficients = _solve(orbital_factors * off_site + levels_diagonal, off_site + np.eye(nao))
    kt = settings.electronic_temperature * BOLTZMANN_HARTREE_PER_KELVIN
    mu = fermi_level(levels, weights, electrons, kt)
    occupations = 2 * expit((mu - levels) / kt)
    density_k = (coefficients * occupations[:, None, :]) @ np.conj(np.swapaxes(coefficients, 1, 2))
    density = sums.to_real(
        density_k,
        np.concatenate([forward, home]),
        np.concatenate([pairs.row * nao + pairs.column, onsite.row * nao + onsite.column]),
    )
    listed = len(pairs.row)
    pair_density, onsite_density = density[:listed], density[listed:]
    hamiltonian = np.concatenate([pair_hamiltonian, pair_hamiltonian, onsite.hamiltonian])
    couplings = Couplings(
        source=np.concatenate([pairs.source, pairs.target, onsite.source]),
        target=np.concatenate([pairs.target, pairs.source, onsite.target]),
        distance=np.concatenate([pairs.distance, pairs.distance, np.zeros(len(onsite.source))]),
        element_coupling=np.concatenate([pairs.element_pair, pairs.element_pair + count, onsite.coupling + 2 * count]),
        element_diagonal=np.concatenate([np.zeros(2 * listed, dtype=bool), onsite.row == onsite.column]),
        values={
            "F": hamiltonian,
            "P": np.concatenate([pair_density, pair_density, onsite_density]),
            "S": np.concatenate([pairs.overlap, pairs.overlap, onsite.overlap]),
            "H": hamiltonian,
        },
    )
    return OrbitalSystem(
        shells=shells.table,
        couplings=couplings,
        matrices=GFN_MATRICES,
        global_features=_global_features(levels, occupations, weights, mu, len(geometry.symbols)),
    )


def _global_features(levels: np.ndarray, occupations: np.ndarray, weights: np.ndarray, mu: float, atoms: int):
    """Band energy per atom, band gap and Fermi level, Hartree.

    The gap is 0 for a metal: when the number of occupied levels (occupation ≥ 1) differs between
    k-points, a band crosses the Fermi level.
    """
    real = levels < UNOCCUPIABLE / 2
    band_energy = float(weights @ (occupations * np.where(real, levels, 0.0)).sum(axis=1))
    occupied_count = (occupations >= 1.0).sum(axis=1)
    gap = 0.0
    count = int(occupied_count[0])
    if np.all(occupied_count == count) and 0 < count < int(real.sum(axis=1).min()):
        gap = max(float(levels[:, count].min() - levels[:, count - 1].max()), 0.0)
    return np.array([band_energy / atoms, gap, mu])


@dataclass(frozen=True)
class _OnsiteElements:
    """Elements of the blocks between the shells of one atom in the home cell (self blocks included)."""

    source: np.ndarray
    target: np.ndarray
    coupling: np.ndarray
    row: np.ndarray
    column: np.ndarray
    overlap: np.ndarray
    hamiltonian: np.ndarray


def _onsite_elements(shells: GFNShells) -> _OnsiteElements:
    table = shells.table
    orbital_atom = np.repeat(table.atom, table.sizes)
    atoms, atom_start, atom_size = np.unique(orbital_atom, return_index=True, return_counts=True)
    element_atom = np.repeat(np.arange(len(atoms)), atom_size**2)
    local = np.arange(len(element_atom)) - np.repeat(np.cumsum(atom_size**2) - atom_size**2, atom_size**2)
    row = atom_start[element_atom] + local // atom_size[element_atom]
    column = atom_start[element_atom] + local % atom_size[element_atom]
    orbital_shell = table.orbital_shell
    pair_codes = orbital_shell[row] * len(table.atom) + orbital_shell[column]
    codes, coupling = np.unique(pair_codes, return_inverse=True)
    identity = (row == column).astype(np.float64)
    return _OnsiteElements(
        source=codes // len(table.atom),
        target=codes % len(table.atom),
        coupling=coupling.ravel(),
        row=row,
        column=column,
        overlap=identity,
        hamiltonian=identity * np.repeat(shells.level, table.sizes)[row],
    )
