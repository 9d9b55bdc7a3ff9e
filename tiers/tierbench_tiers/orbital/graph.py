"""From matrix blocks between atomic-orbital shells to a rotation-invariant shell graph.

Every backend describes its calculation as an :class:`OrbitalSystem`: the shells (nodes) and a list of
*couplings*, each a block ``M_AB(T)`` of every matrix ``M`` between shell ``A`` of the home cell and
shell ``B`` displaced by the lattice translation ``T`` (always ``T = 0`` for a molecule), stored as the
flat list of its matrix elements. A shell's block with itself at ``T = 0`` is its *self* coupling.

Under a rotation a block transforms as ``D(l) M_AB D(l')ᵀ`` with orthogonal ``D`` (real spherical
harmonics), so only its invariants are used: the Frobenius norm, the trace of a self block and the
element-wise sums ``Σ P·S`` and ``Σ P·F`` (the Mulliken overlap population and the band-energy share of
the pair). Individual p or d components never appear.

Node features (``x``), per matrix ``M`` in the backend's order: ``tr M_AA / (2l+1)`` (mean diagonal,
e.g. the shell energy for ``F``), ``‖M_AA‖ / √(2l+1)``, and ``√Σ_B ‖M_AB‖²`` over the other shells ``B``
of the same atom at ``T = 0`` (on-site hybridization); then the Mulliken gross population of the shell,
``Σ_B,T Σ P_AB(T)·S_AB(T)``.

Edges: every coupling between two different shells that are not on the same atom in the same cell
(intra-atom couplings live in the node features, so every edge has a positive distance), kept when
``‖S_AB‖ ≥ overlap_threshold``. The overlap alone decides, because a crystal's real-space density
blocks come from a finite k-mesh and repeat with its Born–von Kármán supercell: far images would pass a
density criterion spuriously. Both directions are present (the blocks of ``B → A`` are the transposes).
Edge features (``edge_attr``): ``‖M_AB‖`` per matrix, the overlap population ``Σ P·S``, the bond energy
``Σ P·F``, and the distance between the two shells' atoms in Å (last column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Data


@dataclass(frozen=True)
class ShellTable:
    """The shells of a structure, in backend order.

    Attributes:
        atom: ``[S]`` site each shell sits on.
        angular: ``[S]`` angular momentum ``l``.
        node_type: ``[S]`` categorical label of the shell (element and slot, see the tier docs).
    """

    atom: np.ndarray
    angular: np.ndarray
    node_type: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """``[S]`` number of orbitals of each shell (``2l + 1``)."""
        return 2 * self.angular + 1

    @property
    def offsets(self) -> np.ndarray:
        """``[S + 1]`` index of each shell's first orbital, then the orbital count."""
        return np.concatenate([[0], np.cumsum(self.sizes)])

    @property
    def orbital_shell(self) -> np.ndarray:
        """``[nao]`` shell of each orbital."""
        return np.repeat(np.arange(len(self.angular)), self.sizes)


@dataclass(frozen=True)
class Couplings:
    """Blocks between shells, as flat lists of matrix elements.

    Attributes:
        source: ``[C]`` shell ``A`` (home cell).
        target: ``[C]`` shell ``B``.
        distance: ``[C]`` distance between the atoms of ``A`` and of ``B``'s image, Å.
        element_coupling: ``[nnz]`` coupling that each stored matrix element belongs to.
        element_diagonal: ``[nnz]`` whether the element is a diagonal element of a self block.
        values: Matrix name → ``[nnz]`` elements (``"F"``, ``"P"`` and ``"S"`` are always present).
    """

    source: np.ndarray
    target: np.ndarray
    distance: np.ndarray
    element_coupling: np.ndarray
    element_diagonal: np.ndarray
    values: dict[str, np.ndarray]


@dataclass(frozen=True)
class OrbitalSystem:
    """What a backend computed for one structure.

    Attributes:
        shells: The nodes.
        couplings: All blocks, self blocks included.
        matrices: Matrix names in feature order.
        global_features: Values of :data:`~.features.GLOBAL_FEATURE_NAMES`.
    """

    shells: ShellTable
    couplings: Couplings
    matrices: tuple[str, ...]
    global_features: np.ndarray


def dense_couplings(shells: ShellTable, matrices: dict[str, np.ndarray], atom_distances: np.ndarray) -> Couplings:
    """Every shell pair of dense ``[nao, nao]`` matrices (a molecule, or a crystal's Γ-point matrices).

    Args:
        shells: The shells the orbitals belong to.
        matrices: Name → symmetric matrix in the orbital order of ``shells``.
        atom_distances: ``[N, N]`` distances between atoms (minimum-image ones for a crystal), Å.
    """
    count = len(shells.angular)
    orbital_shell = shells.orbital_shell
    source, target = np.repeat(np.arange(count), count), np.tile(np.arange(count), count)
    return Couplings(
        source=source,
        target=target,
        distance=atom_distances[shells.atom[source], shells.atom[target]],
        element_coupling=(orbital_shell[:, None] * count + orbital_shell[None, :]).ravel(),
        element_diagonal=np.eye(len(orbital_shell), dtype=bool).ravel(),
        values={name: np.ascontiguousarray(matrix).ravel() for name, matrix in matrices.items()},
    )


def _per_coupling(couplings: Couplings, weights: np.ndarray) -> np.ndarray:
    return np.bincount(couplings.element_coupling, weights=weights, minlength=len(couplings.source))


def build_graph(
    system: OrbitalSystem,
    *,
    overlap_threshold: float,
    include_global: bool,
) -> Data:
    """The shell graph of ``system`` (see the module docstring for every column).

    Args:
        system: Shells and couplings from a backend.
        overlap_threshold: Keep an edge when the overlap block norm reaches this.
        include_global: Attach ``u`` with :data:`~.features.GLOBAL_FEATURE_NAMES`.
    """
    shells, couplings = system.shells, system.couplings
    count = len(shells.angular)
    sizes = shells.sizes.astype(np.float64)
    norms = {name: np.sqrt(_per_coupling(couplings, values**2)) for name, values in couplings.values.items()}
    density, overlap, fock = couplings.values["P"], couplings.values["S"], couplings.values["F"]
    overlap_population = _per_coupling(couplings, density * overlap)
    bond_energy = _per_coupling(couplings, density * fock)

    same_shell = (couplings.source == couplings.target) & (couplings.distance == 0)
    same_site = shells.atom[couplings.source] == shells.atom[couplings.target]
    onsite = same_site & (couplings.distance == 0) & ~same_shell
    self_index = np.full(count, -1)
    self_index[couplings.source[same_shell]] = np.flatnonzero(same_shell)
    node_columns = []
    for name in system.matrices:
        diagonal = np.bincount(
            couplings.element_coupling[couplings.element_diagonal],
            weights=couplings.values[name][couplings.element_diagonal],
            minlength=len(couplings.source),
        )
        hybridization = np.bincount(couplings.source[onsite], weights=norms[name][onsite] ** 2, minlength=count)
        node_columns += [
            diagonal[self_index] / sizes,
            norms[name][self_index] / np.sqrt(sizes),
            np.sqrt(hybridization),
        ]
    node_columns.append(np.bincount(couplings.source, weights=overlap_population, minlength=count))

    edges = ~(same_shell | onsite)
    edges &= norms["S"] >= overlap_threshold
    edge_columns = [norms[name][edges] for name in system.matrices]
    edge_columns += [overlap_population[edges], bond_energy[edges], couplings.distance[edges]]
    graph = Data(
        x=torch.from_numpy(np.column_stack(node_columns).astype(np.float32)),
        node_type=torch.from_numpy(shells.node_type.astype(np.int64)),
        atom_index=torch.from_numpy(shells.atom.astype(np.int64)),
        edge_index=torch.from_numpy(np.stack([couplings.source[edges], couplings.target[edges]]).astype(np.int64)),
        edge_attr=torch.from_numpy(np.column_stack(edge_columns).astype(np.float32).reshape(-1, len(edge_columns))),
    )
    if include_global:
        graph.u = torch.from_numpy(system.global_features.astype(np.float32)[None, :])
    return graph
