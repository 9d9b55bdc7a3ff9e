"""Feature vectors of motif nodes, connection edges and the whole motif network.

Node features (``NODE_FEATURE_NAMES``, in order; 168 in all):

=====================================  =====  =======================================================
block                                  width  value
=====================================  =====  =======================================================
``coordination_number``                1      number of ligands
``geometry=<label>``                   62     one-hot geometry (ChemEnv symbol, ``none``, ``other``)
``shape_measure``                      1      continuous shape measure / 100 (0 = ideal polyhedron)
``op:<shape> CN_<n>``                  36     order-parameter fingerprint (robocrys' site fingerprint)
``centre:<descriptor>``                45     element descriptors of the centre (atom tier's table)
``oxidation_state``, ``…_known``       2      given or guessed oxidation state of the centre
``ligand_fraction=<element>``          15     share of ligands of each element (last: any other)
``ligand_electronegativity``           1      mean Pauling electronegativity of the ligands
``bond_length_mean/min/max``           3      centre–ligand distances (Å)
``polyhedral_volume``                  1      volume of the ligands' convex hull (Å³; 0 below 4 ligands)
``distortion_index``                   1      mean relative deviation of the bond lengths (Baur 1974)
=====================================  =====  =======================================================

Edge features: one-hot kind ``corner/edge/face/none``, number of shared ligands, centre–centre
distance (Å, column :data:`EDGE_DISTANCE_INDEX`), mean/min/max centre–ligand–centre angle (degrees, 0
without a shared ligand), and 1 when the centres are bonded to each other.

Graph features: one-hot dimensionality (0–3) of the connected motif network and the share of sites that
are centres with at least one ligand.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pymatgen.core import Element
from scipy.spatial import ConvexHull, QhullError

from tierbench_tiers.elements import DESCRIPTOR_NAMES, descriptor_table
from tierbench_tiers.motif.connectivity import SHARING_KINDS, Connection
from tierbench_tiers.motif.environments import Frame, Motif
from tierbench_tiers.motif.order_parameters import FINGERPRINT_LABELS
from tierbench_tiers.motif.shapes import GEOMETRY_TYPES

LIGAND_ELEMENTS = ("H", "C", "N", "O", "F", "P", "S", "Cl", "As", "Se", "Br", "Sb", "Te", "I")

NODE_FEATURE_NAMES: tuple[str, ...] = (
    "coordination_number",
    *(f"geometry={label}" for label in GEOMETRY_TYPES),
    "shape_measure",
    *(f"op:{label}" for label in FINGERPRINT_LABELS),
    *(f"centre:{name}" for name in DESCRIPTOR_NAMES),
    "oxidation_state",
    "oxidation_state_known",
    *(f"ligand_fraction={symbol}" for symbol in (*LIGAND_ELEMENTS, "other")),
    "ligand_electronegativity",
    "bond_length_mean",
    "bond_length_min",
    "bond_length_max",
    "polyhedral_volume",
    "distortion_index",
)
NODE_DIM = len(NODE_FEATURE_NAMES)

EDGE_FEATURE_NAMES: tuple[str, ...] = (
    *(f"kind={kind}" for kind in SHARING_KINDS),
    "shared_ligands",
    "distance",
    "angle_mean",
    "angle_min",
    "angle_max",
    "bonded",
)
EDGE_DIM = len(EDGE_FEATURE_NAMES)
EDGE_DISTANCE_INDEX = EDGE_FEATURE_NAMES.index("distance")

GLOBAL_FEATURE_NAMES = ("dimensionality=0", "dimensionality=1", "dimensionality=2", "dimensionality=3", "centre_share")
GLOBAL_DIM = len(GLOBAL_FEATURE_NAMES)

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
    """``[N_motifs, NODE_DIM]`` float32 node features (see the module docstring)."""
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
    """``[1, GLOBAL_DIM]`` float32 graph features (see the module docstring)."""
    features = np.zeros((1, GLOBAL_DIM), dtype=np.float32)
    features[0, dimensionality] = 1.0
    features[0, 4] = sum(1 for motif in motifs if len(motif.ligands.sites)) / site_count
    return features
