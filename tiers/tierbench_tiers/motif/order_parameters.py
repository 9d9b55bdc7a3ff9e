"""Order-parameter fingerprint of a coordination environment (robocrys' and AMDNet's site fingerprint).

matminer's ``CrystalNNFingerprint`` ``"ops"`` preset (used by robocrys, whose site fingerprints are
AMDNet's motif features) lists, for each coordination number 1–12, the
:class:`~pymatgen.analysis.local_env.LocalStructOrderParams` that recognise its ideal shapes
(``"tetrahedral"``, ``"octahedral"``, ``"cuboctahedral"`` …) with tuned parameters. The preset weights
every coordination number by its CrystalNN probability; here the environment has one coordination
number, so only that number's order parameters are computed (the others are 0): the same values for a
site whose coordination is unambiguous, at a fraction of the cost.

Each order parameter gets its own ``LocalStructOrderParams`` object, as matminer does: pymatgen's
south-pole term reads loop variables left over from the previous type, so types computed together in
one object differ from the same types computed alone.

The preset's ``"body-centered cubic"`` parameter is left out: pymatgen's ``bcc`` order parameter
counts neighbor pairs ``j < k`` only, so its value changes with the order in which the same neighbors
are listed (by up to 0.17 on ideal bicapped octahedra), which would make the features depend on site
order. The cube itself is recognised by the shape measure (``"C:8"``).
"""

from __future__ import annotations

from functools import cache
from typing import cast

import numpy as np
from pymatgen.analysis.local_env import LocalStructOrderParams
from pymatgen.core import Site, Structure

from tierbench_tiers.motif.labels import FINGERPRINT_LABELS, TARGET_MOTIFS

FINGERPRINT_DIM = len(FINGERPRINT_LABELS)

_OFFSETS = {
    count: sum(len(motifs) for number, motifs in TARGET_MOTIFS.items() if number < count) for count in TARGET_MOTIFS
}


@cache
def _order_parameters(count: int) -> tuple[LocalStructOrderParams, ...]:
    """One order-parameter object per target shape of a coordination number, with matminer's parameters."""
    from matminer.featurizers.site.fingerprint import load_cn_motif_op_params

    tuned = load_cn_motif_op_params().get(count, {})
    objects = []
    for motif in TARGET_MOTIFS[count]:
        kind, *parameters = tuned.get(motif, [motif])
        objects.append(LocalStructOrderParams([kind], parameters=[parameters[0] if parameters else None]))
    return tuple(objects)


def order_parameter_fingerprint(species: list[str], points: np.ndarray) -> np.ndarray:
    """Fingerprint of a centre and its ligands.

    Args:
        species: Element symbols, centre first.
        points: ``[n + 1, 3]`` Cartesian coordinates, centre first (periodic images unfolded).

    Returns:
        ``[FINGERPRINT_DIM]`` float64; only the entries of coordination number ``n`` can be non-zero (all
        are 0 when ``n`` is 0 or above 12).
    """
    fingerprint = np.zeros(FINGERPRINT_DIM)
    count = len(points) - 1
    if count not in TARGET_MOTIFS:
        return fingerprint
    # LocalStructOrderParams reads only sites' coordinates when the neighbors are given explicitly
    sites = [Site(symbol, point) for symbol, point in zip(species, points, strict=True)]
    neighbors = list(range(1, count + 1))
    offset = _OFFSETS[count]
    for position, parameter in enumerate(_order_parameters(count)):
        value = parameter.get_order_parameters(cast("Structure", sites), 0, indices_neighs=neighbors)[0]
        fingerprint[offset + position] = value or 0.0  # None: not defined for this environment
    return fingerprint
