"""Motif tier: coordination polyhedra and how they share corners, edges and faces (AMDNet's motif graph).

**Crystals.** Sites are split into motif centres (cations) and ligands (anions) by
:mod:`~tierbench_tiers.motif.roles` (given or guessed oxidation states, else electronegativity). Each
centre's neighbors are CrystalNN's (:mod:`~tierbench_tiers.motif.crystal_nn`); the ligands among them
form its polyhedron, typed by the continuous shape measure against ChemEnv's ideal polyhedra
(:mod:`~tierbench_tiers.motif.shapes`: ``"O:6"`` octahedron, ``"T:4"`` tetrahedron, ``"T:6"`` trigonal
prism …) and fingerprinted with robocrys' order parameters. Motifs connect when they share ligands
(corner / edge / face, with the centre–ligand–centre angles), when their centres are bonded, and
optionally when their centres are closer than ``nonsharing_cutoff``
(:mod:`~tierbench_tiers.motif.connectivity`). The analysis runs once per crystallographic orbit
(``symprec``); see :mod:`~tierbench_tiers.motif.environments`.

**Molecules.** Every heavy atom is a centre and all atoms bonded to it are its ligands
(:mod:`~tierbench_tiers.motif.molecules`): sp3 carbons are tetrahedra, carbonyl carbons trigonal planes.

**Structures without motifs.** A crystal of a single element (a metal, a noble-gas solid) has no
ligand: every site becomes a centre of geometry ``"none"`` with no ligands, joined only to the centres
it is bonded to (CrystalNN). The graph is well defined and counts as "no motif" in coverage reports; no
structure is refused for lacking motifs.

**Graph.** One node per centre, in site order: ``node_type`` is the centre's atomic number (an
embedding shared with the atom tier), ``x`` the motif features of :mod:`~tierbench_tiers.motif.features`,
``atom_index`` the centre site and ``member_index`` the (motif, site) links of centre and ligands.
Edges carry both directions of every connection; periodic images are separate connections. ``u`` holds
the dimensionality of the motif network and the share of sites that are centres with ligands.

**Backends.** ``"fast"`` (default) is the pipeline above. ``"robocrys"`` reproduces AMDNet's
pipeline — ChemEnv motif types and neighbors, CrystalNN bonding and robocrys' next-nearest-neighbor
connectivity and site fingerprints — into the same graph layout, for side-by-side comparisons; it is
about two orders of magnitude slower. ChemEnv and CrystalNN need a lattice, so both backends treat
molecules alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from tierbench.tier import TierDims
from tierbench_tiers.elements import NUM_ELEMENT_TYPES
from tierbench_tiers.motif.features import EDGE_DIM, EDGE_DISTANCE_INDEX, GLOBAL_DIM, NODE_DIM

if TYPE_CHECKING:
    from pymatgen.core import Molecule, Structure
    from torch_geometric.data import Data

Backend = Literal["fast", "robocrys"]
BACKENDS: tuple[str, ...] = ("fast", "robocrys")


class MotifTier:
    """Graph of coordination motifs (see the module docstring).

    Args:
        backend: ``"fast"`` or ``"robocrys"`` (AMDNet's ChemEnv + CrystalNN + robocrys pipeline).
        symprec: Symmetry tolerance (Å) for analysing one site per crystallographic orbit; ``None``
            analyses every site (fast backend).
        nonsharing_cutoff: Also connect centres closer than this (Å) that share no ligand; ``None`` for
            none.
    """

    name: ClassVar[str] = "motif"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("pymatgen", "spglib", "scipy", "numpy", "matminer", "robocrys")
    kinds: ClassVar[tuple[str, ...]] = ("crystal", "molecule")

    def __init__(
        self, backend: Backend = "fast", symprec: float | None = 0.01, nonsharing_cutoff: float | None = None
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if symprec is not None and not symprec > 0:
            raise ValueError(f"symprec must be a positive distance in Å or None, not {symprec!r}")
        if nonsharing_cutoff is not None and not nonsharing_cutoff > 0:
            raise ValueError(f"nonsharing_cutoff must be a positive distance in Å or None, not {nonsharing_cutoff!r}")
        self.backend = backend
        self.symprec = None if symprec is None else float(symprec)
        self.nonsharing_cutoff = None if nonsharing_cutoff is None else float(nonsharing_cutoff)

    @property
    def dims(self) -> TierDims:
        """Feature widths (see :mod:`~tierbench_tiers.motif.features`)."""
        return TierDims(
            node_dim=NODE_DIM,
            edge_dim=EDGE_DIM,
            num_node_types=NUM_ELEMENT_TYPES,
            global_dim=GLOBAL_DIM,
            edge_distance_index=EDGE_DISTANCE_INDEX,
        )

    def params(self) -> Mapping[str, Any]:
        """Every setting that changes the output."""
        return {"backend": self.backend, "symprec": self.symprec, "nonsharing_cutoff": self.nonsharing_cutoff}

    def build(self, structure: Structure | Molecule) -> Data:
        """Build the motif graph of a crystal or molecule.

        Raises:
            UnsupportedStructureError: A partially occupied site, or a crystal too sparse for a Voronoi
                analysis.
            UnsupportedElementError: A dummy species.
        """
        from tierbench_tiers.motif import builder  # torch and the analysis load with the first build, not the class

        return builder.build(self, structure)

    def describe(self, structure: Structure | Molecule) -> dict[str, list[dict[str, Any]]]:
        """What the tier sees: the motifs and their connections, by site index.

        Returns:
            ``{"motifs": [{"index", "centre_element", "type", "cn", "ligands"}], "connections": [{"a",
            "b", "kind", "shared", "distance", "angles"}]}``: ``index``, ``a`` and ``b`` are the site
            indices of centres, ``ligands`` the ligand site indices (one per ligand, a site repeated when
            several of its images coordinate the centre), ``type`` the geometry name (``"octahedron"``
            …, ``"none"`` without ligands, ``"other"`` above 13 ligands), ``distance`` the centre–centre
            distance in Å and ``angles`` the centre–ligand–centre angles in degrees. Connections are
            listed once each; periodic images are separate connections.
        """
        from tierbench_tiers.motif import builder

        return builder.describe(self, structure)
