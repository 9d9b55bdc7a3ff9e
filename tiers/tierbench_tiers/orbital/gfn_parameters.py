"""The GFN-xTB parametrization exported by the installed tblite, and the Gaussian basis built from it.

tblite exports its built-in GFN1-xTB and GFN2-xTB parameter tables (``export_gfn*_param``), so the
non-self-consistent tight-binding path uses exactly the shells, Slater exponents, shell energies
(levels), reference occupations and Hamiltonian constants of the installed version: the orbital graph
of a crystal and of a molecule share one basis and one node vocabulary whichever backend builds them.

Basis functions: every shell is a Slater function ``r^(n-1) exp(-ζ r)`` with tblite's ``ζ``, expanded
in three Gaussians (:data:`STO3G_EXPANSIONS`; tblite itself uses 3 to 6, so overlaps differ from
tblite's by ~1e-2 at most). A second shell of the same angular momentum on an atom (GFN1's hydrogen 2s)
is Schmidt-orthogonalized to the first, as tblite does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from tierbench.errors import UnsupportedElementError
from tierbench_tiers.orbital.features import MAX_GFN_ATOMIC_NUMBER
from tierbench_tiers.orbital.settings import METHODS

HARTREE_IN_EV = 27.211386245988
ANGULAR_LETTERS = "spdf"

STO3G_EXPANSIONS: dict[tuple[int, int], tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    (1, 0): ((2.227660, 0.405771, 0.109817), (0.154329, 0.535328, 0.444634)),
    (2, 0): ((2.581578, 0.156762, 0.060183), (-0.059945, 0.596039, 0.458178)),
    (3, 0): ((0.564149, 0.069244, 0.032695), (-0.178258, 0.861276, 0.226185)),
    (4, 0): ((0.226794, 0.044482, 0.021953), (-0.334905, 1.056746, 0.125665)),
    (5, 0): ((0.113491, 0.034542, 0.017271), (-0.578878, 1.252163, 0.126746)),
    (6, 0): ((0.236642, 0.085300, 0.025013), (0.089448, -0.779220, 1.457092)),
    (2, 1): ((0.919238, 0.235919, 0.080098), (0.162395, 0.566171, 0.422307)),
    (3, 1): ((2.692879, 0.148936, 0.057396), (-0.010619, 0.521856, 0.545001)),
    (4, 1): ((0.485969, 0.074302, 0.036533), (-0.061478, 0.660417, 0.393264)),
    (5, 1): ((0.218712, 0.045202, 0.022601), (-0.133104, 0.898681, 0.176382)),
    (6, 1): ((0.119487, 0.033399, 0.016700), (-0.238728, 1.031051, 0.107814)),
    (3, 2): ((0.522911, 0.163960, 0.063866), (0.168660, 0.584799, 0.405678)),
    (4, 2): ((0.177772, 0.080407, 0.039499), (0.230855, 0.604241, 0.259577)),
    (5, 2): ((0.491335, 0.073291, 0.035942), (-0.020102, 0.589937, 0.465845)),
}
"""Three-Gaussian expansions of the Slater function ``r^(n-1) exp(-r)`` (ζ = 1), keyed by ``(n, l)``.

Exponents (bohr⁻²) and coefficients of normalized primitives ``r^l exp(-α r²)``, chosen to maximize the
overlap with the Slater function (Stewart, J. Chem. Phys. 52, 431 (1970)); exponents scale with ζ². The
1s and 2s rows reproduce Stewart's published values; every row overlaps its Slater function by more
than 0.9998 (``tests/unit/tier/test_orbital_tier.py`` checks it). Adjacent exponents differ by at least a factor
of two, which keeps the high-n fits well conditioned.
"""


def radial_integral(angular: int, exponent: np.ndarray | float) -> np.ndarray:
    """``∫ r^(2l+2) exp(-α r²) dr`` over ``[0, ∞)``, the overlap of two radial Gaussians ``r^l``."""
    return math.gamma(angular + 1.5) / (2.0 * np.asarray(exponent, dtype=float) ** (angular + 1.5))


def primitive_norms(angular: int, exponents: np.ndarray) -> np.ndarray:
    """Factors that normalize the radial Gaussians ``r^l exp(-α r²)``."""
    return 1.0 / np.sqrt(radial_integral(angular, 2.0 * exponents))


def _radial_overlap(angular: int, first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]) -> float:
    """Overlap of two contracted radial functions ``(exponents, coefficients)`` on one centre."""
    pair_exponents = first[0][:, None] + second[0][None, :]
    return float(first[1] @ radial_integral(angular, pair_exponents) @ second[1])


@dataclass(frozen=True)
class Shell:
    """One shell of an element in the GFN basis.

    Attributes:
        principal: Principal quantum number ``n`` of the Slater function.
        angular: Angular momentum ``l``.
        level: Shell energy (diagonal of the zeroth-order Hamiltonian), Hartree.
        reference_occupation: Electrons in the shell of the free neutral atom.
        valence: Whether it is the first shell of its angular momentum on the atom (else a polarization
            shell, coupled with the polarization scaling).
        slater_exponent: ζ, bohr⁻¹.
        exponents: Gaussian exponents, bohr⁻².
        coefficients: Contraction coefficients, including the primitive normalization, such that the
            radial function is normalized.
    """

    principal: int
    angular: int
    level: float
    reference_occupation: float
    valence: bool
    slater_exponent: float
    exponents: np.ndarray
    coefficients: np.ndarray


@dataclass(frozen=True)
class ElementParameters:
    """The GFN basis and constants of one element.

    Attributes:
        symbol: Element symbol.
        shells: Shells in tblite's order (which fixes the node type slot of each shell).
        electronegativity: Pauling electronegativity used by the Hamiltonian.
    """

    symbol: str
    shells: tuple[Shell, ...]
    electronegativity: float

    @property
    def orbitals(self) -> int:
        """Number of orbitals (``Σ 2l + 1`` over the shells)."""
        return sum(2 * shell.angular + 1 for shell in self.shells)


@dataclass(frozen=True)
class GFNParametrization:
    """What the zeroth-order GFN Hamiltonian needs.

    Attributes:
        method: ``"GFN1-xTB"`` or ``"GFN2-xTB"``.
        elements: Symbol → parameters, for every element the method covers.
        shell_scaling: ``(l, l')`` → Hückel constant ``K_ll'`` for two valence shells.
        polarization_scaling: Constant for a pair that involves a polarization shell.
        electronegativity_scaling: ``k_EN`` of the factor ``1 + k_EN ΔEN²``.
        slater_weight_exponent: Exponent of the factor ``(2 √(ζ ζ') / (ζ + ζ'))``.
        element_pair_scaling: ``(symbol, symbol)`` → extra factor for specific element pairs (GFN1).
    """

    method: str
    elements: dict[str, ElementParameters]
    shell_scaling: dict[tuple[int, int], float]
    polarization_scaling: float
    electronegativity_scaling: float
    slater_weight_exponent: float
    element_pair_scaling: dict[tuple[str, str], float]

    def element(self, symbol: str, *, tier: str | None = None) -> ElementParameters:
        """Parameters of one element.

        Raises:
            UnsupportedElementError: The method has no parameters for the element.
        """
        try:
            return self.elements[symbol]
        except KeyError:
            raise UnsupportedElementError(
                f"{self.method} has no parameters for {symbol} (it covers Z = 1–{MAX_GFN_ATOMIC_NUMBER})", tier=tier
            ) from None

    def pair_scaling(self, first: str, second: str) -> float:
        """The element-pair factor of the Hückel constant (1 for most pairs)."""
        return self.element_pair_scaling.get((first, second), self.element_pair_scaling.get((second, first), 1.0))


def _exported_table(method: str) -> dict:
    from tblite import library

    exporters = {"GFN1-xTB": library.export_gfn1_param, "GFN2-xTB": library.export_gfn2_param}
    parameters = library.new_param()
    exporters[method](parameters)
    table = library.new_table()
    library.dump_param(parameters, table)
    return library.table_to_dict(table)


def _contracted_shell(principal: int, angular: int, slater_exponent: float) -> tuple[np.ndarray, np.ndarray]:
    unit_exponents, unit_coefficients = STO3G_EXPANSIONS[(principal, angular)]
    exponents = np.asarray(unit_exponents) * slater_exponent**2
    coefficients = np.asarray(unit_coefficients) * primitive_norms(angular, exponents)
    norm = _radial_overlap(angular, (exponents, coefficients), (exponents, coefficients))
    return exponents, coefficients / math.sqrt(norm)


def _orthogonalized(
    angular: int, shell: tuple[np.ndarray, np.ndarray], against: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``shell`` made orthogonal to ``against`` on the same centre, renormalized (Schmidt)."""
    overlap = _radial_overlap(angular, shell, against)
    scale = 1.0 / math.sqrt(1.0 - overlap**2)
    return np.concatenate([shell[0], against[0]]), np.concatenate([shell[1], -overlap * against[1]]) * scale


def _element(symbol: str, entry: dict) -> ElementParameters:
    shells: list[Shell] = []
    first_of_angular: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for label, slater, level, occupation in zip(
        entry["shells"], entry["slater"], entry["levels"], entry["refocc"], strict=True
    ):
        principal, angular = int(label[0]), ANGULAR_LETTERS.index(label[1])
        radial = _contracted_shell(principal, angular, float(slater))
        valence = angular not in first_of_angular
        if valence:
            first_of_angular[angular] = radial
        else:
            radial = _orthogonalized(angular, radial, first_of_angular[angular])
        shells.append(
            Shell(
                principal=principal,
                angular=angular,
                level=float(level) / HARTREE_IN_EV,
                reference_occupation=float(occupation),
                valence=valence,
                slater_exponent=float(slater),
                exponents=radial[0],
                coefficients=radial[1],
            )
        )
    return ElementParameters(symbol=symbol, shells=tuple(shells), electronegativity=float(entry["en"]))


def _shell_scaling(constants: dict) -> dict[tuple[int, int], float]:
    """Pair constants; a pair tblite does not list takes the mean of the two diagonal constants."""
    given = {
        (ANGULAR_LETTERS.index(key[0]), ANGULAR_LETTERS.index(key[1])): float(value) for key, value in constants.items()
    }
    scaling = {}
    for first in range(3):
        for second in range(3):
            value = given.get((first, second), given.get((second, first)))
            if value is None:
                value = 0.5 * (given[(first, first)] + given[(second, second)])
            scaling[(first, second)] = value
    return scaling


@cache
def gfn_parametrization(method: str) -> GFNParametrization:
    """The parametrization of ``method`` from the installed tblite (read once per process).

    Raises:
        ValueError: ``method`` is not one of :data:`METHODS`.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    table = _exported_table(method)
    hamiltonian = table["hamiltonian"]["xtb"]
    pairs: dict[tuple[str, str], float] = {}
    for key, value in hamiltonian.get("kpair", {}).items():
        first, second = key.split("-")
        pairs[(first, second)] = float(value)
    return GFNParametrization(
        method=method,
        elements={symbol: _element(symbol, entry) for symbol, entry in table["element"].items()},
        shell_scaling=_shell_scaling(hamiltonian["shell"]),
        polarization_scaling=float(hamiltonian["kpol"]),
        electronegativity_scaling=float(hamiltonian["enscale"]),
        slater_weight_exponent=float(hamiltonian["wexp"]),
        element_pair_scaling=pairs,
    )
