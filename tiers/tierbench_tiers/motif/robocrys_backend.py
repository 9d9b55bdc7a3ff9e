"""AMDNet's motif pipeline (ChemEnv + CrystalNN + robocrys), into the motif tier's graph layout.

AMDNet (Banjade et al., Sci. Adv. 7, eabf1754 (2021)) types each cation's motif with ChemEnv
(``LocalGeometryFinder`` with ``maximum_distance_factor=1.41`` and ``SimplestChemenvStrategy(
distance_cutoff=1.4, angle_cutoff=0.3, additional_condition=3)``: the lowest continuous symmetry measure
wins), connects motifs through robocrys' next-nearest neighbors on CrystalNN's bonded structure (two
cations connect when they share bonded atoms: 1 corner, 2 edge, ≥3 face, with the cation–atom–cation
angles), and describes each site by robocrys' order-parameter fingerprint. This backend does the same
with three generalizations that the released code lacks: centres and ligands come from
:mod:`~tierbench_tiers.motif.roles` (not "oxygen is the anion"), a site without a ChemEnv environment is
kept as a centre without ligands (not dropped), and the neighbor indices are tracked so that connections
land on motif nodes. Shared atoms are counted as robocrys counts them (any bonded atom, not only ligands).
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, cast

import numpy as np

from tierbench_tiers.motif.connectivity import Connection, bridge_angles, stored_direction
from tierbench_tiers.motif.crystal_nn import NeighborSet
from tierbench_tiers.motif.environments import Frame, Motif, Shape, split_neighbors
from tierbench_tiers.motif.labels import FINGERPRINT_LABELS, GEOMETRY_TYPES, NO_LIGANDS, OTHER

if TYPE_CHECKING:
    from pymatgen.analysis.graphs import StructureGraph
    from pymatgen.core import Structure

    from tierbench_tiers.motif.roles import Roles

MAXIMUM_DISTANCE_FACTOR = 1.41
DISTANCE_CUTOFF = 1.4
ANGLE_CUTOFF = 0.3
ONLY_ANION_CATION_BONDS_AND_NO_ELEMENT_TO_SAME_ELEMENT_BONDS = 3


def _valences(roles: Roles) -> list[int]:
    """Integer valences for ChemEnv: rounded oxidation states, signed by role (±1 where unknown)."""
    sign = np.where(roles.is_ligand, -1, 1)
    magnitude = np.where(np.isnan(roles.oxidation_states), 1.0, np.abs(roles.oxidation_states))
    return (sign * np.maximum(1, np.round(magnitude))).astype(int).tolist()


def chemenv_environments(
    structure: Structure, roles: Roles, centres: list[int]
) -> dict[int, tuple[str, float, NeighborSet]]:
    """ChemEnv's best environment of each centre, as AMDNet computes it.

    Returns:
        Centre → (ChemEnv symbol, continuous symmetry measure, neighbors), for centres ChemEnv types.
    """
    from pymatgen.analysis.chemenv.coordination_environments.chemenv_strategies import SimplestChemenvStrategy
    from pymatgen.analysis.chemenv.coordination_environments.coordination_geometry_finder import (
        LocalGeometryFinder,
    )
    from pymatgen.analysis.chemenv.coordination_environments.structure_environments import (
        LightStructureEnvironments,
    )

    finder = LocalGeometryFinder()
    finder.setup_structure(structure)
    environments = finder.compute_structure_environments(
        maximum_distance_factor=MAXIMUM_DISTANCE_FACTOR,
        only_cations=False,
        only_indices=centres,
        valences=_valences(roles),
    )
    strategy = SimplestChemenvStrategy(
        distance_cutoff=DISTANCE_CUTOFF,
        angle_cutoff=ANGLE_CUTOFF,
        additional_condition=ONLY_ANION_CATION_BONDS_AND_NO_ELEMENT_TO_SAME_ELEMENT_BONDS,
    )
    light = LightStructureEnvironments.from_structure_environments(
        strategy=strategy, structure_environments=environments
    )
    found = {}
    for centre in centres:
        candidates = light.coordination_environments[centre]
        if not candidates or not light.neighbors_sets[centre]:
            continue
        best = min(candidates, key=lambda candidate: math.inf if candidate["csm"] is None else candidate["csm"])
        neighbors = light.neighbors_sets[centre][0].neighb_indices_and_images
        sites = np.array([neighbor["index"] for neighbor in neighbors], dtype=np.int64)
        images = np.array([neighbor["image_cell"] for neighbor in neighbors], dtype=np.int64).reshape(-1, 3)
        measure = math.nan if best["csm"] is None else float(best["csm"])  # None: no measure for the symbol
        found[centre] = (best["ce_symbol"], measure, NeighborSet(sites, images))
    return found


Image = tuple[int, int, int]


def _bonded_neighbors(graph: StructureGraph, site: int, image: Image = (0, 0, 0)) -> set[tuple[int, Image]]:
    return {
        (neighbor.index, (int(neighbor.jimage[0]), int(neighbor.jimage[1]), int(neighbor.jimage[2])))
        for neighbor in graph.get_connected_sites(site, jimage=image)
    }


def next_nearest_connections(graph: StructureGraph, frame: Frame, motifs: list[Motif]) -> list[Connection]:
    """Connections between motif centres by robocrys' next-nearest-neighbor rule, site indices kept."""
    motif_of = {motif.centre: index for index, motif in enumerate(motifs)}
    found: dict[tuple[int, int, tuple[int, int, int]], Connection] = {}
    for index, motif in enumerate(motifs):
        nearest = _bonded_neighbors(graph, motif.centre)
        second = {far for near, image in nearest for far in _bonded_neighbors(graph, near, image)}
        for other, image in sorted(second):
            if other not in motif_of or (other == motif.centre and image == (0, 0, 0)):
                continue
            shared = sorted(nearest & _bonded_neighbors(graph, other, image))
            b = motif_of[other]
            key = stored_direction(index, b, image)
            if key in found:
                continue
            centre = frame.position(motif.centre)
            other_position = frame.positions(np.array([other]), np.array([image]))[0]
            middle = frame.positions(np.array([s for s, _ in shared]), np.array([i for _, i in shared]).reshape(-1, 3))
            ends = np.tile(centre, (len(middle), 1)), np.tile(other_position, (len(middle), 1))
            angles = tuple(sorted(bridge_angles(*ends, middle).tolist()))
            distance = float(np.linalg.norm(other_position - centre))
            found[key] = Connection(*key, len(shared), angles, distance, (other, image) in nearest)
    return [found[key] for key in sorted(found)]


def amdnet_motifs(structure: Structure, frame: Frame, roles: Roles) -> tuple[list[Motif], list[Connection]]:
    """Motifs and connections of a crystal by AMDNet's pipeline (see the module docstring).

    Args:
        structure: An ordered crystal.
        frame: Its coordinates.
        roles: Its centre and ligand sites.

    Returns:
        Motifs (one per centre, in site order) and their connections.
    """
    from pymatgen.analysis.local_env import CrystalNN
    from robocrys.condense.site import SiteAnalyzer

    centres = np.flatnonzero(~roles.is_ligand).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CrystalNN warns about every site without an oxidation state
        logging.disable(logging.WARNING)
        try:
            environments = chemenv_environments(structure, roles, centres)
            graph = cast("StructureGraph", CrystalNN().get_bonded_structure(structure))
            fingerprints = SiteAnalyzer(graph).site_fingerprints
        finally:
            logging.disable(logging.NOTSET)
    motifs = []
    for centre in centres:
        bonded_sites = sorted(_bonded_neighbors(graph, centre))
        bonded = NeighborSet(
            np.array([site for site, _ in bonded_sites], dtype=np.int64),
            np.array([image for _, image in bonded_sites], dtype=np.int64).reshape(-1, 3),
        )
        _, bonded_centres = split_neighbors(bonded, roles.is_ligand)
        fingerprint = np.array([fingerprints[centre].get(label, 0.0) for label in FINGERPRINT_LABELS])
        if centre in environments:
            symbol, measure, neighbors = environments[centre]
            ligands, _ = split_neighbors(neighbors, roles.is_ligand)
            geometry = symbol if symbol in GEOMETRY_TYPES else OTHER
        else:
            ligands = NeighborSet(np.empty(0, dtype=np.int64), np.empty((0, 3), dtype=np.int64))
            geometry, measure = NO_LIGANDS, float("nan")
        motifs.append(Motif(centre, ligands, bonded_centres, Shape(geometry, measure, fingerprint)))
    return motifs, next_nearest_connections(graph, frame, motifs)
