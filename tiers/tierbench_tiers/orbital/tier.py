"""The orbital tier: OrbNet-style graphs of atomic-orbital shells from a cheap quantum-chemistry calculation.

**Backends** (``backend``):

* ``"xtb"``: self-consistent GFN1/GFN2-xTB single point with tblite (:mod:`.xtb_backend`): ``F``, ``P``,
  ``S``, ``H`` (the zeroth-order Hamiltonian). For crystals a periodic calculation at Γ (slow; an option).
* ``"gfn-tb"``: non-self-consistent GFN tight binding on a k-mesh (:mod:`.crystal_tb`): the method's
  zeroth-order Hamiltonian and overlap, diagonalized once, so it always finishes; ``F = H``.
* ``"pyscf"``: RHF in a minimal basis with PySCF (:mod:`.pyscf_backend`): ``F``, ``P``, ``S``, ``H``,
  ``J``, ``K`` — the full OrbNet set. Molecules only (the instance's ``kinds`` is ``("molecule",)``).
* ``"auto"`` (default): ``"xtb"`` for molecules, ``"gfn-tb"`` for crystals. Both use the GFN basis, so
  the node vocabulary and feature widths are the same for both kinds.

**Graph** (:mod:`.graph`): one node per shell (s, p, d of each atom), ``atom_index`` its site.
``node_type = (Z - 1) · slots + slot``: the element and the shell's position on the atom in the
method's shell order (GFN: 3 slots, e.g. titanium's 3d, 4s, 4p are slots 0, 1, 2; PySCF: as many slots
as the basis has shells on its richest element). Node features are rotation-invariant diagonal-block
invariants per matrix plus the Mulliken shell population; edges join shells on different atoms (or on
an atom's periodic image) whose overlap block norm reaches ``edge_threshold``, with block norms per
matrix, the overlap population, the bond energy and the distance (Å, last column) as features. Column
names: :meth:`OrbitalTier.feature_names`.

**Graph-level features** (``global_features=True``): energy per atom, HOMO–LUMO (band) gap and Fermi
level of the cheap method, in Hartree. Off by default: a suite predicting a gap or an energy should not
be handed the cheap method's value of the same quantity unless that is the experiment.

**Cost**: the graph cache records each build's CPU seconds (``build_cpu_seconds``), so accuracy can be
weighed against featurization cost. Builds run single-threaded (tblite gains only 1.1–1.2× from a second
thread): run one worker per core.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from tierbench.tier import TierDims
from tierbench_tiers.orbital.features import (
    EXTRA_EDGE_FEATURES,
    EXTRA_NODE_FEATURES,
    GFN_MATRICES,
    GLOBAL_FEATURE_NAMES,
    MAX_GFN_ATOMIC_NUMBER,
    MAX_SHELLS_PER_ATOM,
    NODE_FEATURES_PER_MATRIX,
    PYSCF_MATRICES,
    edge_feature_names,
    node_feature_names,
)
from tierbench_tiers.orbital.pyscf_basis import NODE_TYPE_ELEMENTS, shell_slots
from tierbench_tiers.orbital.settings import METHODS, PySCFSettings, TightBindingSettings, XTBSettings

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure
    from threadpoolctl import ThreadpoolController
    from torch_geometric.data import Data

BACKENDS: tuple[str, ...] = ("auto", "xtb", "gfn-tb", "pyscf")


@cache
def _thread_controller() -> ThreadpoolController:
    """Inspect the loaded BLAS and OpenMP libraries once (tblite, NumPy, SciPy and PySCF are imported)."""
    import pyscf.lib  # noqa: F401  (loads PySCF's OpenMP runtime before the inspection)
    import tblite.interface  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def single_threaded() -> Iterator[None]:
    """Limit BLAS and OpenMP to one thread for the duration of a build."""
    with _thread_controller().limit(limits=1):
        yield


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return value


class OrbitalTier:
    """Graphs of atomic-orbital shells coupled by Hamiltonian, density and overlap blocks.

    Args:
        backend: ``"auto"``, ``"xtb"``, ``"gfn-tb"`` or ``"pyscf"`` (module docstring).
        edge_threshold: Join two shells when the Frobenius norm of their overlap block reaches this.
        global_features: Attach ``u`` (energy per atom, gap, Fermi level of the cheap method).
        method: GFN parametrization for ``xtb`` and ``gfn-tb``: ``"GFN2-xTB"`` or ``"GFN1-xTB"``.
        electronic_temperature: Fermi smearing of ``xtb`` and ``gfn-tb``, K (tblite's default 300 K).
        xtb_accuracy: tblite's SCF accuracy (smaller is tighter; tblite's default is 1).
        max_scf_iterations: Most SCF iterations (``xtb``, ``pyscf``).
        overlap_cutoff: ``gfn-tb`` leaves out shell pairs whose overlap block norm is below this.
        kpoint_spacing: ``gfn-tb`` k-mesh spacing along each reciprocal vector, Å⁻¹ (2π included).
        pyscf_basis: Minimal basis of the ``pyscf`` backend.
        pyscf_convergence: RHF energy convergence, Hartree.
        max_orbitals: Structures with more orbitals are refused (cell too large).

    Raises:
        ValueError: A parameter is out of range or unknown.
    """

    name: ClassVar[str] = "orbital"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("tblite", "pyscf", "vesin")
    kinds: ClassVar[tuple[str, ...]] = ("crystal", "molecule")

    def __init__(
        self,
        *,
        backend: str = "auto",
        edge_threshold: float = 0.1,
        global_features: bool = False,
        method: str = "GFN2-xTB",
        electronic_temperature: float = 300.0,
        xtb_accuracy: float = 1.0,
        max_scf_iterations: int = 250,
        overlap_cutoff: float = 1e-4,
        kpoint_spacing: float = 0.5,
        pyscf_basis: str = "sto-3g",
        pyscf_convergence: float = 1e-10,
        max_orbitals: int = 4000,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if isinstance(max_scf_iterations, bool) or int(max_scf_iterations) < 1:
            raise ValueError(f"max_scf_iterations must be a positive integer, got {max_scf_iterations!r}")
        if isinstance(max_orbitals, bool) or int(max_orbitals) < 1:
            raise ValueError(f"max_orbitals must be a positive integer, got {max_orbitals!r}")
        if float(edge_threshold) < 0:
            raise ValueError(f"edge_threshold must not be negative, got {edge_threshold!r}")
        self.backend = backend
        self.edge_threshold = float(edge_threshold)
        self.global_features = bool(global_features)
        self.max_orbitals = int(max_orbitals)
        self.xtb = XTBSettings(
            method=method,
            accuracy=_positive("xtb_accuracy", xtb_accuracy),
            max_iterations=int(max_scf_iterations),
            electronic_temperature=_positive("electronic_temperature", electronic_temperature),
        )
        self.tight_binding = TightBindingSettings(
            method=method,
            overlap_cutoff=_positive("overlap_cutoff", overlap_cutoff),
            kpoint_spacing=_positive("kpoint_spacing", kpoint_spacing),
            electronic_temperature=self.xtb.electronic_temperature,
            max_orbitals=self.max_orbitals,
        )
        self.pyscf = PySCFSettings(
            basis=str(pyscf_basis),
            convergence=_positive("pyscf_convergence", pyscf_convergence),
            max_iterations=int(max_scf_iterations),
            max_orbitals=self.max_orbitals,
        )
        if backend == "pyscf":
            shell_slots(self.pyscf.basis)  # an unknown basis fails here, not at the first build
            # narrower than the class's kinds: there is no periodic RHF here
            object.__setattr__(self, "kinds", ("molecule",))

    @property
    def matrices(self) -> tuple[str, ...]:
        """Names of the matrices whose blocks make the features, in feature order."""
        return PYSCF_MATRICES if self.backend == "pyscf" else GFN_MATRICES

    @property
    def dims(self) -> TierDims:
        """Widths fixed by the backend and params, never by the structure."""
        matrices = len(self.matrices)
        edge_dim = matrices + EXTRA_EDGE_FEATURES
        if self.backend == "pyscf":
            node_types = NODE_TYPE_ELEMENTS * shell_slots(self.pyscf.basis)
        else:
            node_types = MAX_GFN_ATOMIC_NUMBER * MAX_SHELLS_PER_ATOM
        return TierDims(
            node_dim=NODE_FEATURES_PER_MATRIX * matrices + EXTRA_NODE_FEATURES,
            edge_dim=edge_dim,
            num_node_types=node_types,
            global_dim=len(GLOBAL_FEATURE_NAMES) if self.global_features else 0,
            edge_distance_index=edge_dim - 1,
        )

    def feature_names(self) -> dict[str, list[str]]:
        """Column names of ``x``, ``edge_attr`` and ``u``."""
        return {
            "x": node_feature_names(self.matrices),
            "edge_attr": edge_feature_names(self.matrices),
            "u": list(GLOBAL_FEATURE_NAMES) if self.global_features else [],
        }

    def params(self) -> Mapping[str, Any]:
        """The settings the chosen backend reads (others cannot change the graph)."""
        common = {
            "backend": self.backend,
            "edge_threshold": self.edge_threshold,
            "global_features": self.global_features,
            "max_orbitals": self.max_orbitals,
        }
        gfn = {"method": self.xtb.method, "electronic_temperature": self.xtb.electronic_temperature}
        xtb = {"xtb_accuracy": self.xtb.accuracy, "max_scf_iterations": self.xtb.max_iterations}
        tight_binding = {
            "overlap_cutoff": self.tight_binding.overlap_cutoff,
            "kpoint_spacing": self.tight_binding.kpoint_spacing,
        }
        pyscf = {
            "pyscf_basis": self.pyscf.basis,
            "pyscf_convergence": self.pyscf.convergence,
            "max_scf_iterations": self.pyscf.max_iterations,
        }
        by_backend = {
            "auto": {**gfn, **xtb, **tight_binding},
            "xtb": {**gfn, **xtb},
            "gfn-tb": {**gfn, **tight_binding},
            "pyscf": pyscf,
        }
        return {**common, **by_backend[self.backend]}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (dict(self.params()),))

    def build(self, structure: Structure | Molecule) -> Data:
        """Build the shell graph of a crystal or a molecule.

        Returns:
            ``Data`` with ``x``, ``node_type``, ``atom_index``, ``edge_index``, ``edge_attr`` (and ``u``
            when ``global_features``).

        Raises:
            UnsupportedElementError: An element outside the method's parametrization or the basis.
            UnsupportedStructureError: A partially occupied site, a partially periodic cell, a crystal
                given to ``pyscf``, an open-shell molecule given to ``pyscf``, an impossible spin, or
                more orbitals than ``max_orbitals``.
            NumericalError: The SCF did not converge (the message gives the iteration count).
        """
        from tierbench_tiers.orbital import builder  # the backends and torch load with the first build, not the class

        return builder.build(self, structure)

    def describe(self, structure: Structure | Molecule) -> dict[str, Any]:
        """The backend used, graph sizes, and the cheap method's energy per atom, gap and Fermi level (Hartree)."""
        from tierbench_tiers.orbital import builder

        return builder.describe(self, structure)


def _rebuild(params: dict[str, Any]) -> OrbitalTier:
    return OrbitalTier(**params)
