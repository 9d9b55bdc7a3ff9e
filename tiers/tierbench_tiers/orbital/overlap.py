"""Overlap integrals between contracted Gaussian shells in real solid harmonics, vectorized over pairs.

Cartesian overlaps come from the Obara–Saika recurrence; PySCF's Cartesian-to-spherical matrices turn
them into the real solid harmonics (in libcint's order and normalization, so blocks agree with PySCF's
``int1e_ovlp`` to machine precision). A block between two shells transforms as ``D(l) S D(l')ᵀ`` under a
rotation, with orthogonal ``D``: its Frobenius norm is rotation invariant.
"""

from __future__ import annotations

from functools import cache

import numpy as np

ShellBatch = tuple[int, np.ndarray, np.ndarray]
"""``(l, exponents, coefficients)``: one shell, or ``[n, p]`` arrays of ``n`` shells of equal ``l``."""


@cache
def cartesian_powers(angular: int) -> np.ndarray:
    """``[ncart, 3]`` exponents ``(lx, ly, lz)`` of the Cartesian components, in libcint's order."""
    return np.array(
        [(lx, ly, angular - lx - ly) for lx in range(angular, -1, -1) for ly in range(angular - lx, -1, -1)],
        dtype=np.int64,
    )


@cache
def cartesian_to_spherical(angular: int) -> np.ndarray:
    """``[ncart, 2l+1]`` libcint matrix from Cartesian to real spherical components."""
    from pyscf.gto.mole import cart2sph

    return np.ascontiguousarray(cart2sph(angular))


def _one_dimensional(
    first_max: int, second_max: int, to_first: np.ndarray, to_second: np.ndarray, half_inverse: np.ndarray
) -> np.ndarray:
    """Obara–Saika table ``s[..., i, j]`` of 1D overlaps (without the Gaussian prefactor)."""
    table = np.zeros((*to_first.shape, first_max + 1, second_max + 1))
    table[..., 0, 0] = 1.0
    for i in range(first_max):
        table[..., i + 1, 0] = to_first * table[..., i, 0] + (i * half_inverse * table[..., i - 1, 0] if i else 0.0)
    for j in range(second_max):
        for i in range(first_max + 1):
            value = to_second * table[..., i, j]
            if i:
                value = value + i * half_inverse * table[..., i - 1, j]
            if j:
                value = value + j * half_inverse * table[..., i, j - 1]
            table[..., i, j + 1] = value
    return table


def shell_pair_overlaps(first: ShellBatch, second: ShellBatch, vectors: np.ndarray) -> np.ndarray:
    """Overlap blocks of many shell pairs that share angular momenta and primitive counts.

    Args:
        first: ``(l, exponents [n, p], coefficients [n, p])`` of the first shells: exponents in bohr⁻²,
            coefficients including the primitive normalization.
        second: The same for the second shells (``[n, q]``).
        vectors: ``[n, 3]`` position of the second shell's centre minus the first's, bohr.

    Returns:
        ``[n, 2l+1, 2l'+1]`` overlap blocks.
    """
    first_angular, first_exponents, first_coefficients = first
    second_angular, second_exponents, second_coefficients = second
    a = first_exponents[:, :, None]
    b = second_exponents[:, None, :]
    total = a + b
    reduced = a * b / total
    squared = np.einsum("ni,ni->n", vectors, vectors)[:, None, None]
    prefactor = (np.pi / total) ** 1.5 * np.exp(-reduced * squared)
    prefactor = prefactor * first_coefficients[:, :, None] * second_coefficients[:, None, :]
    half_inverse = 0.5 / total
    tables = [
        _one_dimensional(
            first_angular,
            second_angular,
            b / total * vectors[:, axis, None, None],
            -a / total * vectors[:, axis, None, None],
            half_inverse,
        )
        for axis in range(3)
    ]
    first_powers, second_powers = cartesian_powers(first_angular), cartesian_powers(second_angular)
    product = tables[0][..., first_powers[:, 0][:, None], second_powers[:, 0][None, :]]
    for axis in (1, 2):
        product *= tables[axis][..., first_powers[:, axis][:, None], second_powers[:, axis][None, :]]
    cartesian = np.einsum("npquv,npq->nuv", product, prefactor)
    return cartesian_to_spherical(first_angular).T @ cartesian @ cartesian_to_spherical(second_angular)


def _block_norms(first: ShellBatch, second: ShellBatch, distances: np.ndarray) -> np.ndarray:
    vectors = np.zeros((len(distances), 3))
    vectors[:, 2] = distances
    count = len(distances)
    blocks = shell_pair_overlaps(
        (
            first[0],
            np.broadcast_to(first[1], (count, len(first[1]))),
            np.broadcast_to(first[2], (count, len(first[2]))),
        ),
        (
            second[0],
            np.broadcast_to(second[1], (count, len(second[1]))),
            np.broadcast_to(second[2], (count, len(second[2]))),
        ),
        vectors,
    )
    return np.sqrt((blocks**2).sum(axis=(1, 2)))


def coupling_radius(
    first: ShellBatch,
    second: ShellBatch,
    tolerance: float,
    *,
    longest: float = 80.0,
) -> float:
    """Distance (bohr) beyond which the overlap block of two shells has a Frobenius norm below ``tolerance``.

    The norm does not depend on the bond direction, so it is sampled along one axis, every 0.5 bohr up to
    ``longest`` and then every 0.01 bohr within the last step where it reaches ``tolerance``.

    Args:
        first: ``(l, exponents, coefficients)`` of one shell.
        second: The same for the other shell.
        tolerance: Norm below which the pair is negligible.
        longest: Largest distance considered, bohr.
    """
    coarse = np.arange(0.0, longest + 0.5, 0.5)
    significant = np.flatnonzero(_block_norms(first, second, coarse) >= tolerance)
    if not len(significant):
        return 0.0
    fine = coarse[significant[-1]] + np.arange(0.0, 0.51, 0.01)
    return float(fine[np.flatnonzero(_block_norms(first, second, fine) >= tolerance)[-1]] + 0.01)
