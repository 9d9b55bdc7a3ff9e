r"""Coordination geometry by continuous shape measures against ChemEnv's ideal polyhedra.

The shape measure of a centre and its ``n`` ligands against an ideal polyhedron with ``n`` vertices is
the continuous symmetry measure of Pinsky & Avnir (Inorg. Chem. 37, 5575 (1998)) as ChemEnv uses it
(Waroquiers et al., Chem. Mater. 29, 8346 (2017)):

.. math::
    S = 100 \cdot \min_{\pi, R, s} \frac{\sum_i |s R q_i - p_{\pi(i)}|^2}{\sum_i |p_i|^2}

over ligand permutations ``π``, proper rotations ``R`` and scalings ``s``, with both point sets
(centre included, matched to the ideal centre) centred on their centroid. ``S = 0`` is the ideal shape,
``S = 100`` no resemblance. The ideal polyhedra are ChemEnv's own (:data:`GEOMETRIES` lists their
symbols), so the geometry names agree with ChemEnv and with AMDNet's motif types.

For up to :data:`EXHAUSTIVE_LIMIT` ligands every permutation is tried, which gives the exact measure
(identical to ChemEnv's). For more, candidate rotations map each of the :data:`ANCHORS` shortest bonds,
with the bond closest to 90° from it, onto every pair of ideal vertices at a similar angle; a
candidate's permutation sends each rotated ligand to its nearest ideal vertex, the :data:`SHORTLIST`
closest fits per polyhedron get the exact optimal rotation and scaling, and alternating assignment and
rotation refines them. Every value is attained by an actual permutation, so it is an upper bound of the
exact measure. Against ChemEnv's own measures on 272 environments of 30 Materials Project crystals
(1,103 measures), the best geometry always agreed; the measures are identical up to 4 ligands, and above
that most agree, a few are higher by at most 7 and some lower by up to 54, where ChemEnv's own
(non-exhaustive) search stops early.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from tierbench_tiers.motif.labels import GEOMETRIES, NO_LIGANDS, OTHER

EXHAUSTIVE_LIMIT = 4
ANCHOR_ANGLE_TOLERANCE = np.deg2rad(25.0)
"""Ideal vertex pairs whose angle is this close to an anchor pair's angle give candidate rotations."""
ANCHOR_ANGLE_SLACK = np.deg2rad(10.0)
"""When no pair is within the tolerance, pairs this close to the nearest angle are used instead."""
MIN_FRAME_SINE = 1e-3
"""Pairs of bonds closer than this (sine of their angle) to collinear cannot anchor a rotation."""
REFINEMENT_ROUNDS = 3
ANCHORS = 4
"""Ligand pairs of the actual environment used as anchors."""
SHORTLIST = 4
"""Candidate rotations per polyhedron (closest nearest-vertex fit first) that get an exact measure."""


@dataclass(frozen=True)
class IdealPolyhedron:
    """One of ChemEnv's ideal coordination polyhedra.

    Attributes:
        symbol: ChemEnv symbol, e.g. ``"T:6"``.
        name: Lower-case name, e.g. ``"trigonal prism"``.
        points: ``[n + 1, 3]`` centre then vertices, centred on their centroid, unit sum of squares.
    """

    symbol: str
    name: str
    points: np.ndarray


@dataclass(frozen=True)
class ShapeMatch:
    """How a centre's environment compares with the ideal polyhedra of its coordination number.

    Attributes:
        geometry: Best-matching symbol from :data:`~.labels.GEOMETRY_TYPES`.
        measures: Symbol → shape measure ``S`` for every ideal polyhedron with the same vertex count.
    """

    geometry: str
    measures: dict[str, float]


def _normalized(points: np.ndarray) -> np.ndarray:
    centred = points - points.mean(axis=0)
    return centred / np.sqrt(np.sum(centred**2))


@cache
def ideal_polyhedra() -> dict[int, tuple[IdealPolyhedron, ...]]:
    """ChemEnv's ideal polyhedra of :data:`GEOMETRIES`, grouped by coordination number (loaded once)."""
    from pymatgen.analysis.chemenv.coordination_environments.coordination_geometries import (
        AllCoordinationGeometries,
    )

    catalogue = AllCoordinationGeometries()
    grouped: dict[int, list[IdealPolyhedron]] = {}
    for symbol in GEOMETRIES:
        geometry = catalogue.get_geometry_from_mp_symbol(symbol)
        points = np.vstack([geometry.central_site, np.asarray(geometry.points, dtype=float)])
        polyhedron = IdealPolyhedron(symbol, geometry.name.lower(), _normalized(points))
        grouped.setdefault(geometry.coordination_number, []).append(polyhedron)
    return {count: tuple(polyhedra) for count, polyhedra in grouped.items()}


def geometry_name(symbol: str) -> str:
    """Readable name of a geometry label (``"O:6"`` → ``"octahedron"``)."""
    if symbol in (NO_LIGANDS, OTHER):
        return symbol
    count = int(symbol.split(":")[1])
    return next(polyhedron.name for polyhedron in ideal_polyhedra()[count] if polyhedron.symbol == symbol)


def _kabsch(cross_covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best overlap ``max_R tr(Rᵀ H)`` and the rotation ``R`` (applied as ``q @ R``), batched.

    Args:
        cross_covariance: ``[K, 3, 3]`` matrices ``H = Σ q pᵀ``.
    """
    u, singular, vt = np.linalg.svd(cross_covariance)
    handedness = np.sign(np.linalg.det(np.matmul(u, vt)))
    overlap = singular[:, 0] + singular[:, 1] + handedness * singular[:, 2]
    u = u.copy()
    u[:, :, 2] *= handedness[:, None]
    return overlap, np.matmul(u, vt)


def _measures(actual: np.ndarray, ideals: np.ndarray, permutations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shape measure and optimal rotation of each candidate.

    Args:
        actual: ``[n + 1, 3]`` normalized points, centre first.
        ideals: ``[K, n + 1, 3]`` the ideal polyhedron of each candidate.
        permutations: ``[K, n]`` the ideal vertex of each ligand.
    """
    ordered = np.take_along_axis(ideals[:, 1:], permutations[:, :, None], axis=1)
    cross = np.einsum("ni,knj->kij", actual[1:], ordered) + np.einsum("i,kj->kij", actual[0], ideals[:, 0])
    overlap, rotations = _kabsch(cross)
    return 100.0 * (1.0 - np.clip(overlap, 0.0, None) ** 2), rotations


@cache
def _all_permutations(count: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(count))), dtype=np.int64)


def _frames(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Orthonormal frames (rows) spanned by pairs of vectors, batched over the leading axis."""
    x = first / np.linalg.norm(first, axis=-1, keepdims=True)
    z = np.cross(x, second)
    z = z / np.linalg.norm(z, axis=-1, keepdims=True)
    return np.stack([x, np.cross(z, x), z], axis=-2)


def _nearest_vertices(
    actual: np.ndarray, ideals: np.ndarray, rotations: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared distances from each rotated ligand to each ideal vertex, for each candidate rotation.

    Args:
        actual: ``[n + 1, 3]`` normalized points, centre first.
        ideals: ``[K, n + 1, 3]`` the ideal polyhedron of each candidate.
        rotations: ``[K, 3, 3]`` candidate rotations.

    Returns:
        ``[K, n, n]`` costs (up to a constant per ligand), ``[K, n]`` nearest vertex of each ligand and
        ``[K]`` whether those nearest vertices are one-to-one.
    """
    rotated = np.einsum("nj,kji->kni", actual[1:], rotations)
    vertices = ideals[:, 1:]
    costs = np.einsum("kmi,kmi->km", vertices, vertices)[:, None, :] - 2.0 * np.einsum(
        "kni,kmi->knm", rotated, vertices
    )
    nearest = costs.argmin(axis=2)
    one_to_one = np.all(np.sort(nearest, axis=1) == np.arange(nearest.shape[1]), axis=1)
    return costs, nearest, one_to_one


def _hungarian(costs: np.ndarray) -> np.ndarray:
    """Optimal one-to-one assignment for one ``[n, n]`` cost matrix."""
    return linear_sum_assignment(costs)[1]


def _anchor_rotations(actual: np.ndarray, ideals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rotations mapping pairs of ligands of ``actual`` onto ideal vertex pairs at a similar angle.

    The anchor pairs are each of the :data:`ANCHORS` shortest bonds with the bond closest to 90° from it.

    Returns:
        ``[K, 3, 3]`` rotations and ``[K]`` the polyhedron (index into ``ideals``) of each.
    """
    bonds = actual[1:] - actual[0]
    lengths = np.linalg.norm(bonds, axis=1)
    cosines = (bonds @ bonds.T) / np.outer(lengths, lengths)
    np.fill_diagonal(cosines, np.inf)
    firsts = np.argsort(lengths, kind="stable")[:ANCHORS]
    seconds = np.argmin(np.abs(cosines[firsts]), axis=1)
    anchor_angles = np.arccos(np.clip(cosines[firsts, seconds], -1.0, 1.0))
    ideal_bonds = ideals[:, 1:] - ideals[:, :1]  # [G, n, 3]
    unit = ideal_bonds / np.linalg.norm(ideal_bonds, axis=2, keepdims=True)
    angles = np.arccos(np.clip(np.einsum("gik,gjk->gij", unit, unit), -1.0, 1.0))
    # collinear pairs span no frame
    usable = (np.abs(np.sin(angles)) > MIN_FRAME_SINE)[None] & (np.abs(np.sin(anchor_angles)) > MIN_FRAME_SINE)[
        :, None, None, None
    ]
    mismatch = np.where(usable, np.abs(angles[None] - anchor_angles[:, None, None, None]), np.inf)
    # every polyhedron gets candidates: the pairs within the tolerance, or else those nearest in angle
    nearest = mismatch.min(axis=(2, 3), keepdims=True)
    matches = np.isfinite(mismatch) & (mismatch <= np.maximum(ANCHOR_ANGLE_TOLERANCE, nearest + ANCHOR_ANGLE_SLACK))
    anchor, polyhedron, i, j = np.nonzero(matches)
    actual_frames = _frames(bonds[firsts], bonds[seconds])[anchor]
    ideal_frames = _frames(ideal_bonds[polyhedron, i], ideal_bonds[polyhedron, j])
    return np.einsum("kji,kjl->kil", actual_frames, ideal_frames), polyhedron


def _best_per_group(groups: np.ndarray, scores: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` lowest finite scores of each group."""
    order = np.lexsort((scores, groups))
    starts = np.r_[True, groups[order][1:] != groups[order][:-1]]
    start_position = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - start_position
    chosen = order[rank < keep]
    return chosen[np.isfinite(scores[chosen])]


def _anchored_measures(actual: np.ndarray, ideals: np.ndarray) -> np.ndarray:
    """Shape measure against each of ``ideals`` (``[G, n + 1, 3]``) by anchored rotations (many ligands)."""
    best = np.full(len(ideals), 100.0)
    rotations, polyhedron = _anchor_rotations(actual, ideals)
    if len(rotations) == 0:  # all ligands on one line
        return best
    costs, permutations, valid = _nearest_vertices(actual, ideals[polyhedron], rotations)
    # where no candidate of a polyhedron has one-to-one nearest vertices, the Hungarian algorithm
    # assigns the candidate whose nearest vertices lie closest
    spread = np.take_along_axis(costs, permutations[:, :, None], axis=2).sum(axis=(1, 2))
    for missing in np.setdiff1d(polyhedron, polyhedron[valid]):
        members = np.flatnonzero(polyhedron == missing)
        closest = members[np.argmin(spread[members])]
        permutations[closest] = _hungarian(costs[closest])
        spread[closest] = costs[closest][np.arange(costs.shape[1]), permutations[closest]].sum()
        valid[closest] = True
    shortlist = _best_per_group(polyhedron, np.where(valid, spread, np.inf), SHORTLIST)
    measures, _ = _measures(actual, ideals[polyhedron[shortlist]], permutations[shortlist])
    found, permutation, measure = polyhedron[shortlist], permutations[shortlist], measures
    for _ in range(REFINEMENT_ROUNDS):  # alternate optimal rotation and optimal assignment
        _, rotation = _measures(actual, ideals[found], permutation)
        costs, refined, one_to_one = _nearest_vertices(actual, ideals[found], rotation)
        for candidate in np.flatnonzero(~one_to_one):
            refined[candidate] = _hungarian(costs[candidate])
        refined_measure, _ = _measures(actual, ideals[found], refined)
        better = refined_measure < measure - 1e-12
        if not better.any():
            break
        permutation = np.where(better[:, None], refined, permutation)
        measure = np.where(better, refined_measure, measure)
    np.minimum.at(best, found, measure)
    return best


def _shape_measures(points: np.ndarray, polyhedra: tuple[IdealPolyhedron, ...]) -> np.ndarray:
    """Shape measure of normalized ``points`` (centre first) against each of ``polyhedra``."""
    ideals = np.stack([polyhedron.points for polyhedron in polyhedra])
    count = len(points) - 1
    if count > EXHAUSTIVE_LIMIT:
        return _anchored_measures(points, ideals)
    permutations = _all_permutations(count)
    polyhedron = np.repeat(np.arange(len(polyhedra)), len(permutations))
    measures, _ = _measures(points, ideals[polyhedron], np.tile(permutations, (len(polyhedra), 1)))
    return measures.reshape(len(polyhedra), len(permutations)).min(axis=1)


def match_shape(centre: np.ndarray, ligands: np.ndarray) -> ShapeMatch:
    """Best ideal polyhedron for a centre and its ligand positions.

    Args:
        centre: ``[3]`` Cartesian position of the centre.
        ligands: ``[n, 3]`` Cartesian positions of the ligands (periodic images unfolded).

    Returns:
        The best geometry and the measures of all candidates; ``"none"`` for no ligand and ``"other"``
        when no ideal polyhedron has ``n`` vertices.
    """
    count = len(ligands)
    if count == 0:
        return ShapeMatch(NO_LIGANDS, {})
    candidates = ideal_polyhedra().get(count, ())
    if not candidates:
        return ShapeMatch(OTHER, {})
    values = _shape_measures(_normalized(np.vstack([centre, ligands])), candidates)
    measures = {polyhedron.symbol: float(value) for polyhedron, value in zip(candidates, values, strict=True)}
    return ShapeMatch(min(measures, key=measures.__getitem__), measures)
