"""The label sets behind the motif tier's one-hot and fingerprint columns: geometries, shapes, sharing kinds.

Plain tuples, importable without NumPy or pymatgen, so that the feature layout
(:mod:`~tierbench_tiers.motif.features`) and the tier's class stay cheap to import.
"""

from __future__ import annotations

GEOMETRIES: tuple[str, ...] = (
    "S:1", "L:2", "A:2", "TL:3", "TY:3", "TS:3", "T:4", "S:4", "SY:4", "SS:4", "PP:5", "S:5", "T:5",
    "O:6", "T:6", "PP:6", "PB:7", "ST:7", "ET:7", "FO:7", "C:8", "SA:8", "SBT:8", "TBT:8", "DD:8",
    "DDPN:8", "HB:8", "BO_1:8", "BO_2:8", "BO_3:8", "TC:9", "TT_1:9", "TT_2:9", "TT_3:9", "HD:9",
    "TI:9", "SMA:9", "SS:9", "TO_1:9", "TO_2:9", "TO_3:9", "PP:10", "PA:10", "SBSA:10", "MI:10",
    "BS_1:10", "BS_2:10", "TBSA:10", "PCPA:11", "H:11", "DI:11", "I:12", "PBP:12", "TT:12", "C:12",
    "AC:12", "SC:12", "HP:12", "HA:12", "SH:13",
)  # fmt: skip
"""ChemEnv symbols (``"O:6"`` octahedron …) of every ideal polyhedron with at most 13 vertices."""

NO_LIGANDS = "none"
"""Geometry of a centre without ligands."""

OTHER = "other"
"""Geometry of a coordination number without an ideal polyhedron (above 13)."""

GEOMETRY_TYPES: tuple[str, ...] = (*GEOMETRIES, NO_LIGANDS, OTHER)
"""Every geometry label, in the order of the one-hot and shape-similarity features."""

TARGET_MOTIFS: dict[int, tuple[str, ...]] = {
    1: ("sgl_bd",),
    2: ("L-shaped", "water-like", "bent 120 degrees", "bent 150 degrees", "linear"),
    3: ("trigonal planar", "trigonal non-coplanar", "T-shaped"),
    4: ("square co-planar", "tetrahedral", "rectangular see-saw-like", "see-saw-like", "trigonal pyramidal"),
    5: ("pentagonal planar", "square pyramidal", "trigonal bipyramidal"),
    6: ("hexagonal planar", "octahedral", "pentagonal pyramidal"),
    7: ("hexagonal pyramidal", "pentagonal bipyramidal"),
    8: ("hexagonal bipyramidal",),
    9: ("q2", "q4", "q6"),
    10: ("q2", "q4", "q6"),
    11: ("q2", "q4", "q6"),
    12: ("cuboctahedral", "q2", "q4", "q6"),
}
"""matminer's ``load_cn_target_motif_op()`` (without ``"body-centered cubic"``): the shapes fingerprinted
for each coordination number (see :mod:`~tierbench_tiers.motif.order_parameters`)."""

FINGERPRINT_LABELS: tuple[str, ...] = tuple(
    f"{motif} CN_{count}" for count, motifs in TARGET_MOTIFS.items() for motif in motifs
)
"""Column names of the fingerprint, as in robocrys (``"octahedral CN_6"`` …)."""

SHARING_KINDS = ("corner", "edge", "face", "none")
"""Connection kinds, in the order of the edge one-hot."""
