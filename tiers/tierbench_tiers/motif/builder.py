"""Building the motif graph (see :mod:`.tier`): motifs and connections, their feature rows, the tensors.

:meth:`~tierbench_tiers.motif.tier.MotifTier.build` imports this module on its first call, so that the
tier's class imports without torch, SciPy and pymatgen's analysis modules.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from pymatgen.core import Element, Structure
from scipy.spatial import ConvexHull, QhullError
from torch_geometric.data import Data

from tierbench_tiers.elements import atomic_numbers, descriptor_table
from tierbench_tiers.motif.connectivity import (
    Connection,
    find_connections,
    nearby_connections,
    network_dimensionality,
)
from tierbench_tiers.motif.environments import Frame, Motif, crystal_motifs
from tierbench_tiers.motif.features import EDGE_DIM, EDGE_DISTANCE_INDEX, GLOBAL_DIM, LIGAND_ELEMENTS, NODE_DIM
from tierbench_tiers.motif.labels import GEOMETRY_TYPES, SHARING_KINDS
from tierbench_tiers.motif.molecules import molecule_motifs
from tierbench_tiers.motif.roles import decide_roles
from tierbench_tiers.motif.shapes import geometry_name

if TYPE_CHECKING:
    from pymatgen.core import Molecule

    from tierbench_tiers.motif.tier import MotifTier


def build(tier: MotifTier, structure: Structure | Molecule) -> Data:
    """The motif graph of a crystal or molecule (see :meth:`MotifTier.build`)."""
    numbers = atomic_numbers(structure)
    frame = Frame.of(structure)
    motifs, connections, oxidation = _analyse(tier, structure, frame)
    edge_index, edge_attr = edge_features(connections)
    dimensionality = network_dimensionality(len(motifs), connections) if isinstance(structure, Structure) else 0
    centres = np.array([motif.centre for motif in motifs], dtype=np.int64)
    return Data(
        x=torch.from_numpy(node_features(frame, motifs, numbers, oxidation)),
        node_type=torch.from_numpy(numbers[centres]),
        edge_index=torch.from_numpy(edge_index),
        edge_attr=torch.from_numpy(edge_attr),
        atom_index=torch.from_numpy(centres),
        member_index=torch.from_numpy(member_index(motifs)),
        u=torch.from_numpy(global_features(dimensionality, motifs, len(structure))),
        num_nodes=len(motifs),
    )


def describe(tier: MotifTier, structure: Structure | Molecule) -> dict[str, list[dict[str, Any]]]:
    """The motifs and their connections, by site index (see :meth:`MotifTier.describe`)."""
    atomic_numbers(structure)  # partially occupied or dummy sites get the same error as in build
    motifs, connections, _ = _analyse(tier, structure, Frame.of(structure))
    return {
        "motifs": [
            {
                "index": motif.centre,
                "centre_element": structure[motif.centre].specie.symbol,
                "type": geometry_name(motif.shape.geometry),
                "cn": len(motif.ligands.sites),
                "ligands": sorted(int(site) for site in motif.ligands.sites),
            }
            for motif in motifs
        ],
        "connections": [
            {
                "a": motifs[connection.a].centre,
                "b": motifs[connection.b].centre,
                "kind": connection.kind,
                "shared": connection.shared,
                "distance": round(connection.distance, 6),
                "angles": [round(angle, 4) for angle in connection.angles],
            }
            for connection in connections
        ],
    }


def _analyse(
    tier: MotifTier, structure: Structure | Molecule, frame: Frame
) -> tuple[list[Motif], list[Connection], np.ndarray]:
    """Motifs, connections and per-site oxidation states (NaN where unknown)."""
    if not isinstance(structure, Structure):  # ChemEnv and CrystalNN need a lattice: both use bonds
        motifs = molecule_motifs(structure, frame)
        oxidation = np.full(len(structure), np.nan)
        connections = find_connections(frame, motifs)
    else:
        roles = decide_roles(structure)
        oxidation = roles.oxidation_states
        if tier.backend == "robocrys":
            from tierbench_tiers.motif.robocrys_backend import amdnet_motifs

            motifs, connections = amdnet_motifs(structure, frame, roles)
        else:
            motifs = crystal_motifs(structure, frame, roles, tier.symprec)
            connections = find_connections(frame, motifs)
    if tier.nonsharing_cutoff is not None:
        extra = nearby_connections(structure, motifs, tier.nonsharing_cutoff, connections)
        connections = sorted([*connections, *extra], key=lambda c: (c.a, c.b, c.image))
    return motifs, connections, oxidation


_GEOMETRY_COLUMN = {label: index for index, label in enumerate(GEOMETRY_TYPES)}
_LIGAND_COLUMN = {symbol: index for index, symbol in enumerate(LIGAND_ELEMENTS)}


@cache
def _electronegativity(symbol: str) -> float:
    value = Element(symbol).X
    return 0.0 if value is None or np.isnan(value) else float(value)


def _polyhedral_volume(points: np.ndarray) -> float:
    """Convex-hull volume of ligand positions (0 for fewer than 4 or coplanar ligands)."""
    if len(points) < 4:
        return 0.0
    try:
        return float(ConvexHull(points).volume)
    except QhullError:  # coplanar or collinear ligands enclose no volume
        return 0.0


def _motif_row(frame: Frame, motif: Motif, atomic_number: int, oxidation: float) -> np.ndarray:
    ligands = motif.ligands
    count = len(ligands.sites)
    positions = frame.positions(ligands.sites, ligands.images)
    lengths = np.linalg.norm(positions - frame.position(motif.centre), axis=1)
    symbols = [frame.symbols[site] for site in ligands.sites.tolist()]
    fractions = np.zeros(len(LIGAND_ELEMENTS) + 1)
    for symbol in symbols:
        fractions[_LIGAND_COLUMN.get(symbol, len(LIGAND_ELEMENTS))] += 1.0 / count
    geometry = np.zeros(len(GEOMETRY_TYPES))
    geometry[_GEOMETRY_COLUMN[motif.shape.geometry]] = 1.0
    measure = motif.shape.shape_measure
    if count:
        mean = float(lengths.mean())
        bond_lengths = [mean, float(lengths.min()), float(lengths.max())]
        distortion = float(np.abs(lengths - mean).mean() / mean)
        electronegativity = float(np.mean([_electronegativity(symbol) for symbol in symbols]))
    else:
        bond_lengths, distortion, electronegativity = [0.0, 0.0, 0.0], 0.0, 0.0
    known = not np.isnan(oxidation)
    return np.concatenate(
        [
            [count],
            geometry,
            [0.0 if np.isnan(measure) else measure / 100.0],
            motif.shape.fingerprint,
            descriptor_table()[atomic_number],
            [oxidation if known else 0.0, float(known)],
            fractions,
            [electronegativity],
            bond_lengths,
            [_polyhedral_volume(positions), distortion],
        ]
    )


def node_features(
    frame: Frame, motifs: list[Motif], atomic_numbers: np.ndarray, oxidation_states: np.ndarray
) -> np.ndarray:
    """``[N_motifs, NODE_DIM]`` float32 node features (columns: :mod:`.features`)."""
    rows = [
        _motif_row(frame, motif, int(atomic_numbers[motif.centre]), float(oxidation_states[motif.centre]))
        for motif in motifs
    ]
    return np.array(rows, dtype=np.float32).reshape(len(motifs), NODE_DIM)


def edge_features(connections: list[Connection]) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges (both directions of every connection) and their features.

    Returns:
        ``[2, 2C]`` int64 edge index (a → b then b → a for each connection, in connection order) and
        ``[2C, EDGE_DIM]`` float32 edge features (the same for both directions).
    """
    index = np.zeros((2, 2 * len(connections)), dtype=np.int64)
    features = np.zeros((2 * len(connections), EDGE_DIM), dtype=np.float32)
    for position, connection in enumerate(connections):
        index[:, 2 * position] = (connection.a, connection.b)
        index[:, 2 * position + 1] = (connection.b, connection.a)
        row = np.zeros(EDGE_DIM)
        row[SHARING_KINDS.index(connection.kind)] = 1.0
        row[len(SHARING_KINDS)] = connection.shared
        row[EDGE_DISTANCE_INDEX] = connection.distance
        if connection.angles:
            row[EDGE_DISTANCE_INDEX + 1 : EDGE_DISTANCE_INDEX + 4] = (
                np.mean(connection.angles),
                min(connection.angles),
                max(connection.angles),
            )
        row[-1] = float(connection.bonded)
        features[2 * position : 2 * position + 2] = row
    return index, features


def member_index(motifs: list[Motif]) -> np.ndarray:
    """``[2, M]`` int64 unique (motif, site) links of every motif's centre and ligand sites."""
    pairs = {(node, motif.centre) for node, motif in enumerate(motifs)}
    pairs |= {(node, int(site)) for node, motif in enumerate(motifs) for site in motif.ligands.sites}
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2).T


def global_features(dimensionality: int, motifs: list[Motif], site_count: int) -> np.ndarray:
    """``[1, GLOBAL_DIM]`` float32 graph features (columns: :mod:`.features`)."""
    features = np.zeros((1, GLOBAL_DIM), dtype=np.float32)
    features[0, dimensionality] = 1.0
    features[0, 4] = sum(1 for motif in motifs if len(motif.ligands.sites)) / site_count
    return features
