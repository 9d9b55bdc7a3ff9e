"""The whole tier contract in one call, :func:`check_tier`, and the cross-process cache-key check.

Example, in a plug-in's test suite::

    from tierbench.testing import check_tier
    from my_plugin import MyTier


    def test_my_tier_keeps_the_contract():
        check_tier(MyTier())                      # every reference structure of a kind MyTier accepts
        check_tier(MyTier(cutoff=4.0), [my_structure], atol=1e-4)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence

from pymatgen.core import Molecule, Structure

from tierbench.featurization.cache import cache_key
from tierbench.testing.checks import CHECKS, checks_for
from tierbench.testing.failure import TierContractError, contract_check, describe_tier, structure_name
from tierbench.testing.graphs import DEFAULT_ATOL, DEFAULT_RTOL
from tierbench.testing.reference import contract_structures
from tierbench.tier import Tier, structure_kind

ACROSS_PROCESSES = "cache_key_across_processes"
"""Name of the check that a fresh Python process computes the same cache keys."""

SUBPROCESS_TIMEOUT_S = 300.0

_KEY_SCRIPT = """
import json, sys
from monty.json import MontyDecoder
from tierbench.featurization.cache import cache_key
from tierbench.tier import load_tier_class
cases = json.load(sys.stdin)
tiers = [load_tier_class(case["tier"])(**case["params"]) for case in cases]
structures = [MontyDecoder().decode(case["structure"]) for case in cases]
print(json.dumps([cache_key(tier, structure) for tier, structure in zip(tiers, structures)]))
"""


def _describe_case(tier: Tier, structure: Structure | Molecule) -> dict[str, object]:
    tier_class = type(tier)
    if tier_class.__module__ == "__main__" or "<locals>" in tier_class.__qualname__:
        raise AssertionError(f"{tier_class.__qualname__} must be importable: define it at the top of a module")
    return {
        "tier": f"{tier_class.__module__}:{tier_class.__qualname__}",
        "params": dict(tier.params()),
        "structure": structure.to_json(),
    }


def check_cache_key_across_processes(
    cases: Iterable[tuple[Tier, Structure | Molecule]], *, names: Sequence[str | None] | None = None
) -> None:
    """A fresh Python process computes the same cache key for each (tier, structure) pair.

    All pairs go to one subprocess (it takes seconds to start, so not one per pair), as JSON: each tier
    as its class's import path and its ``params()`` (the subprocess rebuilds it with
    ``Class(**params)``), each structure as pymatgen JSON. The subprocess has this process's ``sys.path``
    and a random hash seed.

    Args:
        cases: ``(tier, structure)`` pairs.
        names: The structures' names for messages, one per pair (default: their formulas).

    Raises:
        TierContractError: A tier cannot be described, the subprocess fails, or a key differs; the
            message names the first such tier and structure.
    """
    pairs = list(cases)
    labels = list(names) if names is not None else [None] * len(pairs)
    if len(labels) != len(pairs):
        raise ValueError(f"{len(labels)} names for {len(pairs)} (tier, structure) pairs")
    if not pairs:
        return
    described = []
    for (tier, structure), name in zip(pairs, labels, strict=True):
        with contract_check(ACROSS_PROCESSES, tier, structure_name(structure, name)):
            described.append(_describe_case(tier, structure))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(entry for entry in sys.path if entry),
        "PYTHONHASHSEED": "random",
    }
    with contract_check(ACROSS_PROCESSES, pairs[0][0]):
        result = subprocess.run(
            [sys.executable, "-c", _KEY_SCRIPT],
            input=json.dumps(described, default=str),
            capture_output=True,
            text=True,
            env=env,
            timeout=SUBPROCESS_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            error = result.stderr.strip().splitlines()[-1:] or ["no output"]
            raise AssertionError(f"the subprocess computing cache keys failed: {error[0]}")
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
    for (tier, structure), name, their_key in zip(pairs, labels, theirs, strict=True):
        with contract_check(ACROSS_PROCESSES, tier, structure_name(structure, name)):
            ours = cache_key(tier, structure)
            if ours != their_key:
                raise AssertionError(f"the key is {ours} here and {their_key} in a fresh process")


def _named(
    tier: Tier, structures: Sequence[Structure | Molecule] | Mapping[str, Structure | Molecule] | None
) -> list[tuple[str, Structure | Molecule]]:
    kinds: Collection[str] = tier.kinds
    if structures is None:
        named = list(contract_structures(kinds).items())
        if not named:
            message = f"tier {describe_tier(tier)} accepts no known structure kind: kinds = {kinds!r}"
            raise TierContractError(message, tier=describe_tier(tier), structure=None, check="kinds")
        return named
    if isinstance(structures, Mapping):
        named = list(structures.items())
    else:
        named = [(structure_name(structure), structure) for structure in structures]
        if len({label for label, _ in named}) < len(named):
            named = [(f"{label} #{index}", structure) for index, (label, structure) in enumerate(named)]
    for label, structure in named:
        if structure_kind(structure) not in kinds:
            raise ValueError(
                f"structure {label!r} is a {structure_kind(structure)}; tier {tier.name!r} accepts {kinds}"
            )
    return named


def check_tier(
    tier: Tier,
    structures: Sequence[Structure | Molecule] | Mapping[str, Structure | Molecule] | None = None,
    *,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    checks: Collection[str] | None = None,
    across_processes: bool = True,
) -> list[tuple[str, str]]:
    """Check that a tier keeps the tier contract on some structures.

    For each structure, in the order of :data:`~tierbench.testing.CHECKS`: two builds are identical
    (``determinism``); the graph and the tier pickle (``pickling``); the tensors match ``tier.dims``
    (``dims``); ``atom_index`` points at real sites (``atom_index``); the cache key is rebuilt from
    ``params()`` and changes with params and version (``cache_key``); and the graph is the same up to node
    order when the sites are permuted (``permutation``), the structure is rotated (``rotation``) or
    translated (``translation``) and, for crystals, fractional coordinates are unwrapped (``wrapping``).
    Then a fresh process must compute the same cache keys (``cache_key_across_processes``).

    Args:
        tier: The tier instance to check.
        structures: Structures of kinds the tier accepts, as a sequence or by name. By default, the
            reference structures (:data:`tierbench.testing.reference.CONTRACT_STRUCTURES`) of every kind
            in ``tier.kinds``.
        rtol: Relative tolerance on float features in the invariance checks.
        atol: Absolute tolerance on float features in the invariance checks.
        checks: Names of the per-structure checks to run (default: all of them).
        across_processes: Whether to run the cross-process cache-key check (it starts a subprocess).

    Returns:
        The ``(structure name, check name)`` pairs that ran and passed.

    Raises:
        TierContractError: At the first check that fails; the message names the tier, the structure and
            the check.
        ValueError: A structure is of a kind the tier does not accept, or a check name is unknown.
    """
    selected = tuple(CHECKS) if checks is None else tuple(checks)
    unknown = sorted(set(selected) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; known: {list(CHECKS)}")
    named = _named(tier, structures)
    passed: list[tuple[str, str]] = []
    for label, structure in named:
        for check in checks_for(structure_kind(structure)):
            if check in selected:
                CHECKS[check](tier, structure.copy(), name=label, rtol=rtol, atol=atol)
                passed.append((label, check))
    if across_processes:
        check_cache_key_across_processes(
            [(tier, structure) for _, structure in named], names=[label for label, _ in named]
        )
        passed.extend((label, ACROSS_PROCESSES) for label, _ in named)
    return passed
