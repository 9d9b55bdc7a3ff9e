"""Columns of the motif graph's features: nodes, connection edges and the whole motif network.

The values are computed by :mod:`~tierbench_tiers.motif.builder`; this module holds only the layout,
so that the tier's class reads its widths without importing the analysis.

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

from tierbench_tiers.elements import DESCRIPTOR_NAMES
from tierbench_tiers.motif.labels import FINGERPRINT_LABELS, GEOMETRY_TYPES, SHARING_KINDS

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
