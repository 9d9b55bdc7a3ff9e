"""Orbital tier: integrals against PySCF and tblite, the physics of water, benzene and crystals, invariance
on real QM9 molecules and Materials Project crystals, and the errors a chemist gets."""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
from pymatgen.core import Lattice, Molecule, Structure

from tierbench.testing import reference as reference_structures
from tierbench.tier import NumericalError, UnsupportedElementError, UnsupportedStructureError
from tierbench.tier.registry import get_tier
from tierbench_tiers.orbital import OrbitalTier
from tierbench_tiers.orbital.crystal_tb import TightBindingSettings, _solve, fermi_level, tight_binding_system
from tierbench_tiers.orbital.geometry import Geometry
from tierbench_tiers.orbital.gfn_parameters import STO3G_EXPANSIONS, gfn_parametrization, primitive_norms
from tierbench_tiers.orbital.overlap import shell_pair_overlaps
from tierbench_tiers.orbital.pyscf_backend import PySCFSettings, pyscf_system
from tierbench_tiers.orbital.xtb_backend import XTBSettings, xtb_system

BOHR = 0.52917721067
GFN_VALENCE_ELECTRONS = {"H": 1, "C": 4, "O": 6, "N": 5, "Ti": 4, "Sr": 2, "Na": 1, "Cl": 7, "Cu": 11, "Zn": 2}
"""Electrons in GFN2-xTB's valence shells (zinc's filled 3d shell is in its core, copper's is not)."""
XTB = XTBSettings(method="GFN2-xTB", accuracy=1.0, max_iterations=250, electronic_temperature=300.0)
PYSCF = PySCFSettings(basis="sto-3g", convergence=1e-10, max_iterations=100, max_orbitals=1000)


# ----------------------------------------------------------------------------- data


def _mp_crystals(datasets_dir: Path, count: int, max_sites: int = 12) -> list[Structure]:
    """The first ``count`` MP crystals with at most ``max_sites`` sites and elements GFN covers."""
    crystals = []
    with gzip.open(datasets_dir / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            cell = json.loads(line)["structure"]
            structure = Structure(cell["lattice"], cell["species"], cell["frac_coords"])
            if len(structure) <= max_sites and all(site.specie.Z <= 86 for site in structure):
                crystals.append(structure)
            if len(crystals) == count:
                break
    return crystals


def _qm9_molecules(datasets_dir: Path, count: int) -> list[Molecule]:
    from ase.io import read

    lines: list[str] = []
    with gzip.open(datasets_dir / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        for _ in range(count):  # the first molecules only: parsing the whole file takes seconds
            header = handle.readline()
            lines += [header, handle.readline()] + [handle.readline() for _ in range(int(header))]
    frames = read(io.StringIO("".join(lines)), index=":", format="extxyz")
    return [Molecule(frame.get_chemical_symbols(), frame.positions) for frame in frames]


def _symbols(structure) -> list[str]:
    return [site.specie.symbol for site in structure]


def _numbers(structure) -> np.ndarray:
    return np.array([site.specie.Z for site in structure])


# ----------------------------------------------------------------------------- invariance helpers


def _random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _moved(structure, seed: int):
    """A random permutation, rotation and translation (plus unwrapped fractional coordinates)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(structure))
    rotation = _random_rotation(seed)
    species = [structure[int(i)].species for i in order]
    if isinstance(structure, Structure):
        fractional = structure.frac_coords[order] + rng.integers(-2, 3, size=(len(structure), 3))
        return Structure(Lattice(structure.lattice.matrix @ rotation.T), species, fractional), order
    coordinates = structure.cart_coords[order] @ rotation.T + rng.normal(size=3) * 7
    return Molecule(species, coordinates, charge=structure.charge), order


def _tables(graph, site_of_node_site: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Nodes keyed by (site, node type) and edges keyed by their endpoints' keys, in full precision."""
    sites = site_of_node_site[graph.atom_index.numpy()]
    node_key = sites * 10_000 + graph.node_type.numpy()
    nodes = np.column_stack([node_key, graph.x.double().numpy()])
    source, target = node_key[graph.edge_index.numpy()]
    attr = graph.edge_attr.double().numpy()
    # distance first among the features: near-equal image edges then sort the same way in both graphs
    edges = np.column_stack([source, target, attr[:, -1], attr[:, :-1]])
    global_features = graph.u.double().numpy() if "u" in graph else None
    return nodes[np.lexsort(nodes.T[::-1])], edges[np.lexsort(edges.T[::-1])], global_features


def _assert_invariant(tier, structure, seed: int = 0, rtol: float = 1e-6, atol: float = 1e-9) -> None:
    moved, order = _moved(structure, seed)
    reference = _tables(tier.build(structure), np.arange(len(structure)))
    other = _tables(tier.build(moved), order)
    for name, keys, ours, theirs in zip(("nodes", "edges", "u"), (1, 2, 0), reference, other, strict=True):
        if ours is None:
            assert theirs is None
            continue
        assert ours.shape == theirs.shape, f"{name}: {ours.shape} vs {theirs.shape}"
        np.testing.assert_array_equal(ours[:, :keys], theirs[:, :keys], err_msg=f"{name} keys differ")
        np.testing.assert_allclose(ours[:, keys:], theirs[:, keys:], rtol=rtol, atol=atol, err_msg=f"{name} differ")


# ----------------------------------------------------------------------------- integrals


@pytest.mark.parametrize(("principal", "angular"), sorted(STO3G_EXPANSIONS))
def test_sto3g_expansions_fit_their_slater_functions(principal: int, angular: int) -> None:
    radius = np.linspace(1e-6, 80.0, 40_001)
    step = radius[1] - radius[0]
    slater = radius ** (principal - 1) * np.exp(-radius)
    slater /= math.sqrt(np.sum(slater**2 * radius**2) * step)
    exponents, coefficients = (np.array(values) for values in STO3G_EXPANSIONS[(principal, angular)])
    gaussians = (
        (coefficients * primitive_norms(angular, exponents))[:, None]
        * radius**angular
        * np.exp(-exponents[:, None] * radius**2)
    )
    expansion = gaussians.sum(axis=0)
    assert np.sum(expansion**2 * radius**2) * step == pytest.approx(1.0, abs=1e-4)
    assert np.sum(expansion * slater * radius**2) * step > 0.9998


def test_overlap_blocks_match_pyscf_integrals() -> None:
    from pyscf import gto

    elements = gfn_parametrization("GFN1-xTB").elements
    shells = [elements["Ti"].shells[0], elements["Ti"].shells[2], elements["O"].shells[0], elements["H"].shells[1]]
    rng = np.random.default_rng(4)
    for first in shells:
        for second in shells:
            vector = rng.normal(size=3) * 1.5
            ours = shell_pair_overlaps(
                (first.angular, first.exponents[None], first.coefficients[None]),
                (second.angular, second.exponents[None], second.coefficients[None]),
                vector[None],
            )[0]
            # the same contracted functions given to PySCF as raw (already normalized) coefficients
            raw = {
                label: [
                    [
                        shell.angular,
                        *(
                            [e, c / n]
                            for e, c, n in zip(
                                shell.exponents,
                                shell.coefficients,
                                primitive_norms(shell.angular, shell.exponents),
                                strict=True,
                            )
                        ),
                    ]
                ]
                for label, shell in (("X1", first), ("X2", second))
            }
            molecule = gto.M(atom=[["X1", (0, 0, 0)], ["X2", tuple(vector)]], unit="B", basis=raw, spin=None)
            size = 2 * first.angular + 1
            np.testing.assert_allclose(ours, molecule.intor("int1e_ovlp_sph")[:size, size:], atol=1e-12)


@pytest.mark.parametrize("method", ["GFN1-xTB", "GFN2-xTB"])
def test_gfn_basis_follows_tblite(method: str) -> None:
    from tblite.interface import Calculator

    elements = gfn_parametrization(method).elements
    assert len(elements) == 86
    for number, symbol in [(1, "H"), (6, "C"), (8, "O"), (16, "S"), (22, "Ti"), (55, "Cs"), (57, "La"), (83, "Bi")]:
        calculator = Calculator(method, np.array([number]), np.zeros((1, 3)), uhf=number % 2)
        assert [shell.angular for shell in elements[symbol].shells] == list(calculator.get("angular-momenta"))
    # overlap blocks of water agree with tblite's own integrals (tblite expands in 3–6 Gaussians, we in 3)
    water = reference_structures.water()
    calculator = Calculator(method, _numbers(water), water.cart_coords / BOHR)
    calculator.set("verbosity", 0)
    calculator.set("save-integrals", 1)
    tblite_overlap = calculator.singlepoint().get("overlap-matrix")
    system = tight_binding_system(
        Geometry.of(water, "orbital"), TightBindingSettings(method, 1e-6, 0.5, 300.0, 100), "orbital"
    )
    offsets = system.shells.offsets
    couplings = system.couplings
    norms = np.sqrt(np.bincount(couplings.element_coupling, weights=couplings.values["S"] ** 2))
    for source, target, norm in zip(couplings.source, couplings.target, norms, strict=True):
        block = tblite_overlap[offsets[source] : offsets[source + 1], offsets[target] : offsets[target + 1]]
        assert norm == pytest.approx(np.linalg.norm(block), abs=0.012)


# ----------------------------------------------------------------------------- physics


def _dense(system, name: str) -> np.ndarray:
    nao = int(system.shells.offsets[-1])
    return system.couplings.values[name].reshape(nao, nao)


@pytest.mark.parametrize(("make", "occupied"), [(reference_structures.water, 4), (reference_structures.benzene, 15)])
def test_xtb_water_and_benzene(make, occupied: int) -> None:
    molecule = make()
    system = xtb_system(Geometry.of(molecule, "orbital"), XTB, "orbital")
    overlap, density = _dense(system, "S"), _dense(system, "P")
    np.testing.assert_allclose(np.diag(overlap), 1.0, atol=1e-12)
    electrons = sum(GFN_VALENCE_ELECTRONS[symbol] for symbol in _symbols(molecule))
    assert np.sum(density * overlap) == pytest.approx(electrons, abs=1e-8)
    # a closed shell: S^½ P S^½ has eigenvalue 2 for each occupied orbital and 0 otherwise
    root = scipy.linalg.sqrtm(overlap).real
    occupations = np.sort(np.linalg.eigvalsh(root @ density @ root))[::-1]
    np.testing.assert_allclose(occupations[:occupied], 2.0, atol=1e-6)
    np.testing.assert_allclose(occupations[occupied:], 0.0, atol=1e-6)
    gap = system.global_features[1]
    assert 0.1 < gap < 1.0  # Hartree: water and benzene are closed shells with a clear gap

    graph = OrbitalTier().build(molecule)
    columns = OrbitalTier().feature_names()["x"]
    assert graph.x[:, columns.index("mulliken_population")].sum().item() == pytest.approx(electrons, abs=1e-4)
    np.testing.assert_allclose(graph.x[:, columns.index("S_mean_diagonal")].numpy(), 1.0, atol=1e-6)


@pytest.mark.parametrize(("make", "occupied"), [(reference_structures.water, 5), (reference_structures.benzene, 21)])
def test_pyscf_water_and_benzene(make, occupied: int) -> None:
    molecule = make()
    system = pyscf_system(Geometry.of(molecule, "orbital"), PYSCF, "orbital")
    overlap, density = _dense(system, "S"), _dense(system, "P")
    np.testing.assert_allclose(np.diag(overlap), 1.0, atol=1e-12)
    assert np.sum(density * overlap) == pytest.approx(_numbers(molecule).sum(), abs=1e-8)
    root = scipy.linalg.sqrtm(overlap).real
    occupations = np.sort(np.linalg.eigvalsh(root @ density @ root))[::-1]
    np.testing.assert_allclose(occupations[:occupied], 2.0, atol=1e-8)
    np.testing.assert_allclose(occupations[occupied:], 0.0, atol=1e-8)
    # F = H + J − K/2 and the RHF energy ½ tr P(H + F) + nuclear repulsion
    core, fock = _dense(system, "H"), _dense(system, "F")
    np.testing.assert_allclose(fock, core + _dense(system, "J") - 0.5 * _dense(system, "K"), atol=1e-12)
    from pyscf import gto

    nuclear = gto.M(
        atom=[[s, tuple(c)] for s, c in zip(_symbols(molecule), molecule.cart_coords, strict=True)]
    ).energy_nuc()
    energy = 0.5 * np.sum(density * (core + fock)) + nuclear
    assert energy / len(molecule) == pytest.approx(system.global_features[0], abs=1e-8)


@pytest.mark.parametrize("name", ["rock_salt", "rutile", "perovskite", "wurtzite"])
def test_crystal_tight_binding_counts_valence_electrons(name: str) -> None:
    crystal = getattr(reference_structures, name)()
    tier = OrbitalTier(global_features=True)
    graph = tier.build(crystal)
    electrons = sum(GFN_VALENCE_ELECTRONS[symbol] for symbol in _symbols(crystal))
    columns = tier.feature_names()
    assert graph.x[:, columns["x"].index("mulliken_population")].sum().item() == pytest.approx(electrons, abs=1e-3)
    assert graph.u[0, columns["u"].index("gap")].item() > 0.05  # these ionic solids are insulators


def test_crystal_tight_binding_copper_is_a_metal() -> None:
    graph = OrbitalTier(global_features=True).build(reference_structures.copper())
    assert graph.u[0, 1].item() == 0.0


def test_supercell_with_folded_kmesh_gives_the_same_bands() -> None:
    primitive = reference_structures.copper()
    supercell = primitive * (2, 2, 2)
    # spacing 0.8 Å⁻¹ gives a 4×4×4 mesh for the primitive cell and 2×2×2 for the supercell: the same k-points
    settings = TightBindingSettings("GFN2-xTB", 1e-4, 0.8, 1000.0, 4000)
    one = tight_binding_system(Geometry.of(primitive, "o"), settings, "o")
    eight = tight_binding_system(Geometry.of(supercell, "o"), settings, "o")
    np.testing.assert_allclose(eight.global_features, one.global_features, atol=1e-9)
    populations = []
    for system in (one, eight):
        couplings = system.couplings
        pair_population = np.bincount(couplings.element_coupling, weights=couplings.values["P"] * couplings.values["S"])
        per_shell = np.bincount(couplings.source, weights=pair_population, minlength=len(system.shells.atom))
        populations.append(per_shell.reshape(-1, 3))
    np.testing.assert_allclose(populations[1], np.repeat(populations[0], 8, axis=0), atol=1e-9)
    assert populations[0].sum() == pytest.approx(11.0, abs=1e-9)


def test_fermi_level_is_midgap_for_insulators_and_fills_metals() -> None:
    kt = 300.0 * 3.166808578545117e-6
    weights = np.array([0.25, 0.75])
    insulator = np.array([[-0.9, -0.5, 0.1], [-0.8, -0.4, 0.2]])
    assert fermi_level(insulator, weights, 4.0, kt) == pytest.approx(-0.15)
    metal = np.array([[-0.9, -0.31, 0.1], [-0.8, -0.29, 0.2]])
    mu = fermi_level(metal, weights, 3.0, kt)
    occupied = 2 * weights @ (1 / (1 + np.exp((metal - mu) / kt))).sum(axis=1)
    assert occupied == pytest.approx(3.0, abs=1e-9)
    assert -0.31 < mu < -0.29


def test_linear_dependence_falls_back_to_canonical_orthogonalization() -> None:
    rng = np.random.default_rng(2)
    basis = rng.normal(size=(6, 6))
    hamiltonian = basis + basis.T
    overlap = basis @ basis.T / 6 + np.eye(6)
    levels, vectors = _solve(hamiltonian[None], overlap[None])
    np.testing.assert_allclose(levels[0], scipy.linalg.eigh(hamiltonian, overlap, eigvals_only=True), atol=1e-10)
    np.testing.assert_allclose(vectors[0].T @ overlap @ vectors[0], np.eye(6), atol=1e-10)
    # a duplicated basis function: the overlap is singular, one combination is dropped (never occupied)
    duplicated = np.pad(overlap, ((0, 1), (0, 1)))
    duplicated[6, :6] = duplicated[:6, 6] = overlap[0]
    duplicated[6, 6] = overlap[0, 0]
    padded_hamiltonian = np.pad(hamiltonian, ((0, 1), (0, 1)))
    padded_hamiltonian[6, :6] = padded_hamiltonian[:6, 6] = hamiltonian[0]
    padded_hamiltonian[6, 6] = hamiltonian[0, 0]
    levels, vectors = _solve(padded_hamiltonian[None], duplicated[None])
    np.testing.assert_allclose(levels[0, :6], scipy.linalg.eigh(hamiltonian, overlap, eigvals_only=True), atol=1e-8)
    assert levels[0, 6] > 100


# ----------------------------------------------------------------------------- invariance on real data


def test_qm9_molecules_invariant_xtb(datasets_dir: Path) -> None:
    tier = OrbitalTier(global_features=True)
    for seed, molecule in enumerate(_qm9_molecules(datasets_dir, 10)):
        _assert_invariant(tier, molecule, seed)


def test_qm9_molecules_invariant_pyscf(datasets_dir: Path) -> None:
    tier = OrbitalTier(backend="pyscf", global_features=True)
    for seed, molecule in enumerate(m for m in _qm9_molecules(datasets_dir, 12) if len(m) <= 6):
        _assert_invariant(tier, molecule, seed)


def test_mp_crystals_invariant_tight_binding(datasets_dir: Path) -> None:
    tier = OrbitalTier(global_features=True)
    for seed, crystal in enumerate(_mp_crystals(datasets_dir, 4, max_sites=6)):
        _assert_invariant(tier, crystal, seed)


@pytest.mark.slow
def test_larger_qm9_molecules_invariant_pyscf(datasets_dir: Path) -> None:
    tier = OrbitalTier(backend="pyscf", global_features=True)
    larger = [molecule for molecule in _qm9_molecules(datasets_dir, 80) if len(molecule) >= 14][:4]
    assert len(larger) == 4
    for seed, molecule in enumerate(larger):
        _assert_invariant(tier, molecule, seed)


@pytest.mark.slow
def test_more_mp_crystals_invariant_tight_binding_and_periodic_xtb(datasets_dir: Path) -> None:
    for seed, crystal in enumerate(_mp_crystals(datasets_dir, 12, max_sites=16)):
        _assert_invariant(OrbitalTier(), crystal, seed)
    _assert_invariant(OrbitalTier(backend="xtb", method="GFN1-xTB"), reference_structures.rock_salt(), 1)


# ----------------------------------------------------------------------------- widths and params


def test_widths_depend_on_params_not_on_the_structure() -> None:
    tier = OrbitalTier(global_features=True)
    names = tier.feature_names()
    for structure in (reference_structures.water(), reference_structures.rutile()):
        graph = tier.build(structure)
        assert graph.x.shape[1] == tier.dims.node_dim == len(names["x"])
        assert graph.edge_attr.shape[1] == tier.dims.edge_dim == len(names["edge_attr"])
        assert graph.u.shape == (1, tier.dims.global_dim) == (1, len(names["u"]))
        assert names["edge_attr"][tier.dims.edge_distance_index] == "distance"
    pyscf = OrbitalTier(backend="pyscf")
    assert pyscf.kinds == ("molecule",) and OrbitalTier.kinds == ("crystal", "molecule")
    assert pyscf.dims.node_dim == len(pyscf.feature_names()["x"]) == 19
    assert "u" not in OrbitalTier().build(reference_structures.water())


def test_edges_follow_the_overlap_threshold() -> None:
    benzene = reference_structures.benzene()
    loose, tight = OrbitalTier(edge_threshold=0.02).build(benzene), OrbitalTier(edge_threshold=0.3).build(benzene)
    column = OrbitalTier().feature_names()["edge_attr"].index("S_norm")
    assert tight.edge_attr[:, column].min().item() >= 0.3
    assert loose.edge_index.shape[1] > tight.edge_index.shape[1] > 0
    # every edge joins different atoms, both directions present
    assert (loose.atom_index[loose.edge_index[0]] != loose.atom_index[loose.edge_index[1]]).all()
    pairs = {tuple(pair) for pair in loose.edge_index.T.tolist()}
    assert pairs == {(b, a) for a, b in pairs}


def test_registry_and_params_round_trip() -> None:
    tier = get_tier("orbital", backend="gfn-tb", kpoint_spacing=0.4)
    assert isinstance(tier, OrbitalTier)
    assert dict(OrbitalTier(**tier.params()).params()) == dict(tier.params())
    assert "pyscf_basis" not in tier.params() and "kpoint_spacing" in tier.params()
    description = OrbitalTier().describe(reference_structures.water())
    assert description["backend"] == "xtb" and description["shells"] == 4 and description["orbitals"] == 6
    assert description["gap"] > 0.1
    with pytest.raises(ValueError, match="backend"):
        OrbitalTier(backend="dft")
    with pytest.raises(ValueError, match="method"):
        OrbitalTier(method="GFN0-xTB")
    with pytest.raises(ValueError, match="no basis set"):
        OrbitalTier(backend="pyscf", pyscf_basis="not-a-basis")


# ----------------------------------------------------------------------------- errors


def test_elements_outside_the_parametrization() -> None:
    uranium_oxide = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.47), ["U", "O"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    with pytest.raises(UnsupportedElementError, match="U"):
        OrbitalTier().build(uranium_oxide)
    with pytest.raises(UnsupportedElementError, match="Z = 1–86"):
        OrbitalTier(backend="xtb").build(Molecule(["U", "F"], [[0, 0, 0], [0, 0, 2.0]], charge_spin_check=False))
    lanthanum_hydride = Molecule(["La", "H", "H", "H"], [[0, 0, 0], [2.1, 0, 0], [-1.05, 1.8, 0], [-1.05, -1.8, 0]])
    with pytest.raises(UnsupportedElementError, match="sto-3g basis has no functions for La"):
        OrbitalTier(backend="pyscf").build(lanthanum_hydride)
    OrbitalTier().build(lanthanum_hydride)  # GFN2 covers the lanthanides


def test_charged_and_open_shell_molecules() -> None:
    methyl = Molecule(["C", "H", "H", "H"], [[0, 0, 0], [1.08, 0, 0], [-0.54, 0.935, 0], [-0.54, -0.935, 0]])
    assert methyl.spin_multiplicity == 2
    with pytest.raises(UnsupportedStructureError, match="closed-shell"):
        OrbitalTier(backend="pyscf").build(methyl)
    column = OrbitalTier().feature_names()["x"].index("mulliken_population")
    assert OrbitalTier().build(methyl).x[:, column].sum().item() == pytest.approx(7.0, abs=1e-4)
    hydronium = Molecule(
        ["O", "H", "H", "H"], [[0, 0, 0.1], [0.95, 0, -0.2], [-0.47, 0.82, -0.2], [-0.47, -0.82, -0.2]], charge=1
    )
    assert OrbitalTier().build(hydronium).x[:, column].sum().item() == pytest.approx(8.0, abs=1e-4)
    pyscf_column = OrbitalTier(backend="pyscf").feature_names()["x"].index("mulliken_population")
    assert OrbitalTier(backend="pyscf").build(hydronium).x[:, pyscf_column].sum().item() == pytest.approx(
        10.0, abs=1e-4
    )
    impossible = Molecule(
        ["O", "H", "H"], reference_structures.water().cart_coords, spin_multiplicity=2, charge_spin_check=False
    )
    with pytest.raises(UnsupportedStructureError, match="impossible"):
        OrbitalTier().build(impossible)


def test_crystals_refused_by_pyscf_and_when_too_large() -> None:
    with pytest.raises(UnsupportedStructureError, match="molecular RHF"):
        OrbitalTier(backend="pyscf").build(reference_structures.rutile())
    with pytest.raises(UnsupportedStructureError, match="max_orbitals"):
        OrbitalTier(max_orbitals=20).build(reference_structures.spinel())
    with pytest.raises(UnsupportedStructureError, match="max_orbitals"):
        OrbitalTier(backend="xtb", max_orbitals=20).build(reference_structures.benzene())
    with pytest.raises(UnsupportedStructureError, match="max_orbitals"):
        OrbitalTier(backend="pyscf", max_orbitals=20).build(reference_structures.benzene())


def test_scf_failures_report_the_iteration_count() -> None:
    benzene = reference_structures.benzene()
    with pytest.raises(NumericalError, match="did not converge in 3 iterations"):
        OrbitalTier(backend="xtb", max_scf_iterations=3).build(benzene)
    with pytest.raises(NumericalError, match="did not converge in 2 iterations"):
        OrbitalTier(backend="pyscf", max_scf_iterations=2).build(reference_structures.water())
