"""How motifs connect: shared ligands (corner, edge, face), direct bonds, and nearby motifs.

Two motifs are connected when their polyhedra share ligand atoms — one shared ligand is a **corner**,
two an **edge**, three or more a **face** — with the centre–ligand–centre angle at every shared ligand
(Ti–O–Ti = 180° in cubic SrTiO3). Centres bonded to each other directly (metal–metal bonds; bonded
heavy atoms of a molecule) are connected too, with kind ``"none"`` when they share no ligand. Optionally,
centres closer than a cutoff that share nothing are connected with kind ``"none"``.

Periodic images count separately: a connection is a motif, another motif and the lattice translation
of the second one's centre (a motif may connect to its own images). Each connection is stored once;
graphs carry it in both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Structure

from tierbench_tiers.motif.environments import Frame, Motif
from tierbench_tiers.motif.labels import SHARING_KINDS

if TYPE_CHECKING:
    from pymatgen.core import Molecule


@dataclass(frozen=True)
class Connection:
    """One connection between two motifs.

    Attributes:
        a: Index of the first motif (into the motif list).
        b: Index of the second motif (``a <= b``).
        image: Lattice translation of ``b``'s centre relative to its own cell, as seen from ``a``.
        shared: Number of shared ligand atoms.
        angles: Centre–ligand–centre angle (degrees) at each shared ligand, ascending.
        distance: Centre–centre distance (Å).
        bonded: Whether the two centres are bonded to each other.
    """

    a: int
    b: int
    image: tuple[int, int, int]
    shared: int
    angles: tuple[float, ...]
    distance: float
    bonded: bool

    @property
    def kind(self) -> str:
        """``"corner"``, ``"edge"``, ``"face"`` (by shared ligand count) or ``"none"``."""
        return SHARING_KINDS[min(self.shared, 3) - 1] if self.shared else "none"


def _canonical(a: np.ndarray, b: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Whether each directed link (a → b at ``image``) is the stored direction of its connection."""
    first_nonzero = np.argmax(image != 0, axis=1)
    leading = image[np.arange(len(image)), first_nonzero]
    return (a < b) | ((a == b) & (leading > 0))


def stored_direction(a: int, b: int, image: tuple[int, int, int]) -> tuple[int, int, tuple[int, int, int]]:
    """The (a, b, image) key under which the connection between two motifs is stored."""
    if _canonical(np.array([a]), np.array([b]), np.array([image]))[0]:
        return a, b, image
    return b, a, (-image[0], -image[1], -image[2])


def _ligand_rows(motifs: list[Motif]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (motif, ligand site, ligand image) of the structure, as three arrays."""
    owner = np.concatenate([np.full(len(m.ligands.sites), index) for index, m in enumerate(motifs)])
    sites = np.concatenate([m.ligands.sites for m in motifs])
    images = np.concatenate([m.ligands.images for m in motifs]).reshape(-1, 3)
    return owner.astype(np.int64), sites.astype(np.int64), images.astype(np.int64)


def _shared_ligand_links(motifs: list[Motif]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of motif rows holding the same ligand atom, in stored direction.

    Returns:
        First motif, second motif, second motif's image, shared ligand site and its image in the first
        motif's frame, one row per (connection, shared ligand).
    """
    owner, sites, images = _ligand_rows(motifs)
    order = np.argsort(sites, kind="stable")
    boundaries = np.flatnonzero(np.diff(sites[order])) + 1
    firsts, seconds = [], []
    for group in np.split(order, boundaries):
        if len(group) > 1:
            first, second = np.meshgrid(group, group, indexing="ij")
            firsts.append(first.ravel())
            seconds.append(second.ravel())
    if not firsts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty((0, 3), dtype=np.int64), empty, np.empty((0, 3), dtype=np.int64)
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    image = images[first] - images[second]
    keep = (first != second) & _canonical(owner[first], owner[second], image)
    first, second, image = first[keep], second[keep], image[keep]
    return owner[first], owner[second], image, sites[first], images[first]


def bridge_angles(centre_a: np.ndarray, centre_b: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """Angles (degrees) at ``middle`` between the directions to ``centre_a`` and ``centre_b``, row by row."""
    to_a = centre_a - middle
    to_b = centre_b - middle
    cosine = np.einsum("ij,ij->i", to_a, to_b) / (np.linalg.norm(to_a, axis=1) * np.linalg.norm(to_b, axis=1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _bonded_links(motifs: list[Motif]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directly bonded centre pairs, in stored direction (either centre may list the other)."""
    motif_of = {motif.centre: index for index, motif in enumerate(motifs)}
    rows = [
        (index, motif_of[int(site)], *image.tolist())
        for index, motif in enumerate(motifs)
        for site, image in zip(motif.bonded_centres.sites, motif.bonded_centres.images, strict=True)
        if int(site) in motif_of
    ]
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.int64)
    table = np.array(rows, dtype=np.int64)
    table = np.vstack([table, np.column_stack([table[:, 1], table[:, 0], -table[:, 2:]])])
    table = table[_canonical(table[:, 0], table[:, 1], table[:, 2:])]
    table = np.unique(table, axis=0)
    return table[:, 0], table[:, 1], table[:, 2:]


def _centre_positions(frame: Frame, motifs: list[Motif], index: np.ndarray, image: np.ndarray) -> np.ndarray:
    centres = np.array([motifs[i].centre for i in index.tolist()], dtype=np.int64)
    return frame.positions(centres, image)


def find_connections(frame: Frame, motifs: list[Motif]) -> list[Connection]:
    """All ligand-sharing and bonded connections between motifs.

    Args:
        frame: Coordinates of the crystal or molecule the motifs belong to.
        motifs: Its motifs.

    Returns:
        Connections sorted by (a, b, image).
    """
    a, b, image, ligand, ligand_image = _shared_ligand_links(motifs)
    zero = np.zeros((len(a), 3), dtype=np.int64)
    angles = bridge_angles(
        _centre_positions(frame, motifs, a, zero),
        _centre_positions(frame, motifs, b, image),
        frame.positions(ligand, ligand_image),
    )
    grouped: dict[tuple[int, int, tuple[int, int, int]], list[float]] = {}
    for first, second, shift, angle in zip(a.tolist(), b.tolist(), image.tolist(), angles.tolist(), strict=True):
        grouped.setdefault((first, second, tuple(shift)), []).append(angle)
    bonded_a, bonded_b, bonded_image = _bonded_links(motifs)
    bonded = {
        (first, second, tuple(shift))
        for first, second, shift in zip(bonded_a.tolist(), bonded_b.tolist(), bonded_image.tolist(), strict=True)
    }
    for key in bonded:
        grouped.setdefault(key, [])
    connections = []
    for (first, second, shift), shared_angles in sorted(grouped.items()):
        start = frame.position(motifs[first].centre)
        end = frame.positions(np.array([motifs[second].centre]), np.array([shift]))[0]
        connections.append(
            Connection(
                first, second, shift, len(shared_angles), tuple(sorted(shared_angles)),
                float(np.linalg.norm(end - start)), (first, second, shift) in bonded,
            )
        )  # fmt: skip
    return connections


def nearby_connections(
    structure: Structure | Molecule, motifs: list[Motif], cutoff: float, existing: list[Connection]
) -> list[Connection]:
    """Connections of kind ``"none"`` between centres closer than ``cutoff`` that are not yet connected.

    Args:
        structure: The crystal or molecule the motifs belong to.
        motifs: Its motifs.
        cutoff: Largest centre–centre distance (Å).
        existing: Connections already found (not repeated).

    Returns:
        The new connections, sorted by (a, b, image).
    """
    motif_of = np.full(len(structure), -1, dtype=np.int64)
    centres = np.array([motif.centre for motif in motifs], dtype=np.int64)
    motif_of[centres] = np.arange(len(motifs))
    if isinstance(structure, Structure):
        source, target, image, distance = structure.get_neighbor_list(cutoff, sites=[structure[i] for i in centres])
        first, second, shift = source.astype(np.int64), motif_of[target], image.astype(np.int64)
    else:
        from scipy.spatial import cKDTree

        pairs = cKDTree(structure.cart_coords[centres]).query_pairs(cutoff, output_type="ndarray").astype(np.int64)
        first, second = pairs[:, 0], pairs[:, 1]
        shift = np.zeros((len(pairs), 3), dtype=np.int64)
        distance = np.linalg.norm(
            structure.cart_coords[centres[first]] - structure.cart_coords[centres[second]], axis=1
        )
    keep = (second >= 0) & _canonical(first, second, shift)
    taken = {(c.a, c.b, c.image) for c in existing}
    found = {}
    for a, b, image, length in zip(
        first[keep].tolist(), second[keep].tolist(), shift[keep].tolist(), distance[keep].tolist(), strict=True
    ):
        key = (a, b, tuple(image))
        if key not in taken:
            found[key] = Connection(a, b, key[2], 0, (), float(length), False)
    return [found[key] for key in sorted(found)]


def network_dimensionality(count: int, connections: list[Connection]) -> int:
    """Largest number of lattice directions along which a connected set of motifs extends (0–3).

    The motif network is periodic; a connected component extends along the lattice translations it
    reaches by going around closed paths (Larsen et al., Phys. Rev. Mater. 3, 034003 (2019)). Its
    dimensionality is the rank of those translations.

    Args:
        count: Number of motifs.
        connections: Connections between them (``image`` = lattice translation of ``b``).

    Returns:
        0 for isolated clusters (and molecules), up to 3 for a framework.
    """
    adjacency: dict[int, list[tuple[int, np.ndarray]]] = {index: [] for index in range(count)}
    for connection in connections:
        shift = np.array(connection.image)
        adjacency[connection.a].append((connection.b, shift))
        adjacency[connection.b].append((connection.a, -shift))
    offset: dict[int, np.ndarray] = {}
    best = 0
    for root in range(count):
        if root in offset:
            continue
        offset[root] = np.zeros(3)
        cycles = []
        stack = [root]
        while stack:
            node = stack.pop()
            for neighbor, shift in adjacency[node]:
                reached = offset[node] + shift
                if neighbor not in offset:
                    offset[neighbor] = reached
                    stack.append(neighbor)
                elif np.any(reached != offset[neighbor]):
                    cycles.append(reached - offset[neighbor])
        if cycles:
            best = max(best, int(np.linalg.matrix_rank(np.array(cycles))))
    return best
