"""Settings of the orbital tier's backends: plain dataclasses, importable without NumPy or the backends."""

from __future__ import annotations

from dataclasses import dataclass

METHODS: tuple[str, ...] = ("GFN1-xTB", "GFN2-xTB")


@dataclass(frozen=True)
class XTBSettings:
    """Settings of the tblite single point (all part of the tier's params).

    Attributes:
        method: ``"GFN1-xTB"`` or ``"GFN2-xTB"``.
        accuracy: tblite's accuracy (smaller is tighter; 1 is tblite's default).
        max_iterations: Most SCF iterations.
        electronic_temperature: Fermi smearing, K.
    """

    method: str
    accuracy: float
    max_iterations: int
    electronic_temperature: float


@dataclass(frozen=True)
class TightBindingSettings:
    """Settings of the non-self-consistent calculation (all part of the tier's params).

    Attributes:
        method: GFN parametrization, ``"GFN1-xTB"`` or ``"GFN2-xTB"``.
        overlap_cutoff: Shell pairs whose overlap block norm is below this at their distance are left out.
        kpoint_spacing: Largest spacing of the k-mesh along each reciprocal vector, Å⁻¹ (2π included).
        electronic_temperature: Fermi smearing, K.
        max_orbitals: Larger structures are refused.
    """

    method: str
    overlap_cutoff: float
    kpoint_spacing: float
    electronic_temperature: float
    max_orbitals: int


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
