"""Orbital tier cost and coverage: molecules against a bare tblite single point, crystals against the 0.1 s target.

Three measurements, all single-threaded (one worker per core is how featurization runs) and in CPU
seconds (``time.process_time``), so load from other processes on the machine distorts them little:

1. **Molecules** (QM9): the tier's default (GFN2-xTB via tblite, then the shell graph) against the bare
   call a user would write — ``Calculator("GFN2-xTB", numbers, positions)`` with printing off, then
   ``singlepoint()`` — on the same molecules, interleaved molecule by molecule. Target: tier ≤ 1.2 ×
   bare tblite (ratio of the medians; the per-molecule median ratio is printed too).
2. **Crystals** (Materials Project, a seeded random sample of the shared set): the tier's default, the
   non-self-consistent GFN tight binding on a k-mesh. Target: median ≤ 0.1 s, every structure built or
   refused with a recorded reason.
3. **Crystal anchor**: periodic self-consistent GFN1-xTB at Γ with tblite (the SCF option) on the first
   crystals of the sample with at most 24 sites, next to the default on the same crystals.

Coverage: successes and failures by reason (``TierError.reason`` and the element or message) on the
molecule and crystal samples. Full mode uses 2,000 QM9 molecules and 2,000 MP crystals; ``--quick``
uses 200 of each.

Data: ``$TIERBENCH_DATASETS`` or ``../shared/datasets`` (``qm9_10k``, ``mp_mtcgcnn``).

Run: ``.venv/bin/python benchmarks/perf/orbital_tier.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Molecule, Structure

from tierbench.tier import TierError
from tierbench_tiers.orbital import OrbitalTier
from tierbench_tiers.orbital.tier import single_threaded

BOHR_IN_ANGSTROM = 0.52917721067
MOLECULE_RATIO_TARGET = 1.2
CRYSTAL_MEDIAN_TARGET_S = 0.1
ANCHOR_MAX_SITES = 24
SEED = 0


def _datasets_dir() -> Path:
    configured = os.environ.get("TIERBENCH_DATASETS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "datasets"
    if not (root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz").is_file():
        sys.exit(f"datasets not found under {root}: set TIERBENCH_DATASETS")
    return root


def _qm9(root: Path, count: int) -> list[tuple[str, Molecule]]:
    """A seeded random sample of the shared QM9 molecules."""
    from ase.io import read

    with gzip.open(root / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        frames = read(io.StringIO(handle.read()), index=":", format="extxyz")
    chosen = np.sort(np.random.default_rng(SEED).choice(len(frames), size=min(count, len(frames)), replace=False))
    return [
        (f"gdb {frames[i].info.get('gdb_idx', i)}", Molecule(frames[i].get_chemical_symbols(), frames[i].positions))
        for i in chosen
    ]


def _mp(root: Path, count: int) -> list[tuple[str, Structure]]:
    """A seeded random sample of the shared MP crystals."""
    with gzip.open(root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        lines = handle.readlines()
    chosen = np.sort(np.random.default_rng(SEED).choice(len(lines), size=min(count, len(lines)), replace=False))
    crystals = []
    for i in chosen:
        record = json.loads(lines[i])
        cell = record["structure"]
        crystals.append(
            (f"{record['mp_id']} {record['formula']}", Structure(cell["lattice"], cell["species"], cell["frac_coords"]))
        )
    return crystals


def _cpu_seconds(function: Callable[[], object]) -> float:
    start = time.process_time()
    function()
    return time.process_time() - start


def _failure_label(error: TierError) -> str:
    """The reason code, with the element for an unsupported element and the message otherwise."""
    message = str(error)
    element = re.search(r"\bfor ([A-Z][a-z]?)\b", message)
    if error.reason == "unsupported_element" and element:
        return f"{error.reason}: {element.group(1)}"
    return f"{error.reason}: {message[:90]}"


def _build_all(tier: OrbitalTier, structures: list[tuple[str, Any]]) -> tuple[dict[str, float], Counter[str]]:
    """CPU seconds of each successful build, and the failures counted by reason."""
    seconds: dict[str, float] = {}
    failures: Counter[str] = Counter()
    for label, structure in structures:
        try:
            graph = tier.build(structure)
        except TierError as error:
            failures[_failure_label(error)] += 1
            continue
        seconds[label] = float(graph.build_seconds)
    return seconds, failures


def _distribution(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    values = np.asarray(seconds)
    return {
        "median_s": float(np.median(values)),
        "p90_s": float(np.percentile(values, 90)),
        "max_s": float(values.max()),
        "total_s": float(values.sum()),
    }


def _bare_tblite(molecule: Molecule) -> Callable[[], object]:
    from tblite.interface import Calculator

    numbers = np.array([site.specie.Z for site in molecule])
    positions = molecule.cart_coords / BOHR_IN_ANGSTROM

    def run() -> object:
        calculator = Calculator("GFN2-xTB", numbers, positions)
        calculator.set("verbosity", 0)
        return calculator.singlepoint()

    return run


def _molecules(molecules: list[tuple[str, Molecule]]) -> dict[str, Any]:
    tier = OrbitalTier()
    for _, molecule in molecules[:5]:  # warm-up: imports, parameter tables, thread controller
        tier.build(molecule)
    tier_seconds, bare_seconds, failures = [], [], Counter()
    for index, (_, molecule) in enumerate(molecules):
        bare = _bare_tblite(molecule)
        try:
            with single_threaded():
                if index % 2:  # alternate the order so drifting load hits both alike
                    bare_time, graph = _cpu_seconds(bare), tier.build(molecule)
                else:
                    graph = tier.build(molecule)
                    bare_time = _cpu_seconds(bare)
        except TierError as error:
            failures[_failure_label(error)] += 1
            continue
        tier_seconds.append(float(graph.build_seconds))
        bare_seconds.append(bare_time)
    paired = [t / b for t, b in zip(tier_seconds, bare_seconds, strict=True) if b > 0]
    tier_stats, bare_stats = _distribution(tier_seconds), _distribution(bare_seconds)
    return {
        "molecules": len(molecules),
        "built": len(tier_seconds),
        "failures": dict(failures),
        "tier": tier_stats,
        "bare_tblite": bare_stats,
        "ratio_of_medians": tier_stats["median_s"] / bare_stats["median_s"],
        "ratio_of_totals": tier_stats["total_s"] / bare_stats["total_s"],
        "median_paired_ratio": statistics.median(paired),
        "meets_target": tier_stats["median_s"] / bare_stats["median_s"] <= MOLECULE_RATIO_TARGET,
    }


def _crystals(crystals: list[tuple[str, Structure]], anchor_count: int) -> dict[str, Any]:
    tier = OrbitalTier()
    _build_all(tier, crystals[:5])  # warm-up: imports, parameter tables, coupling radii
    seconds, failures = _build_all(tier, crystals)
    stats = _distribution(list(seconds.values()))
    small = [(label, s) for label, s in crystals if len(s) <= ANCHOR_MAX_SITES and label in seconds][:anchor_count]
    scf_seconds, scf_failures = _build_all(OrbitalTier(backend="xtb", method="GFN1-xTB"), small)
    sizes = [len(structure) for _, structure in crystals]
    return {
        "crystals": len(crystals),
        "median_sites": float(np.median(sizes)),
        "built": len(seconds),
        "coverage": len(seconds) / len(crystals),
        "failures": dict(failures),
        "tight_binding": stats,
        "meets_target": stats["median_s"] <= CRYSTAL_MEDIAN_TARGET_S
        and len(seconds) + sum(failures.values()) == len(crystals),
        "anchor": {
            "crystals": len(small),
            "max_sites": ANCHOR_MAX_SITES,
            "periodic_gfn1_scf": _distribution(list(scf_seconds.values())),
            "scf_failures": dict(scf_failures),
            "tight_binding_same_crystals": _distribution([seconds[label] for label, _ in small]),
        },
    }


def _print(result: dict[str, Any]) -> None:
    molecules, crystals = result["molecules"], result["crystals"]
    print(f"orbital tier, single-threaded CPU seconds (load average {result['load_average_1min']})")
    print(f"\nQM9 molecules: {molecules['built']}/{molecules['molecules']} built, failures {molecules['failures']}")
    print(f"{'':24}{'median ms':>10}{'p90 ms':>9}{'max ms':>9}{'total s':>9}")
    for label, key in (("tier (GFN2-xTB + graph)", "tier"), ("bare tblite single point", "bare_tblite")):
        row = molecules[key]
        print(
            f"{label:24}{row['median_s'] * 1e3:>10.2f}{row['p90_s'] * 1e3:>9.2f}{row['max_s'] * 1e3:>9.2f}"
            f"{row['total_s']:>9.2f}"
        )
    print(
        f"ratio of medians {molecules['ratio_of_medians']:.3f}, of totals {molecules['ratio_of_totals']:.3f}, "
        f"median per-molecule ratio {molecules['median_paired_ratio']:.3f} (target ≤ {MOLECULE_RATIO_TARGET})"
    )
    print(
        f"\nMP crystals: {crystals['built']}/{crystals['crystals']} built "
        f"(median {crystals['median_sites']:.0f} sites), coverage {crystals['coverage']:.1%}"
    )
    stats = crystals["tight_binding"]
    print(
        f"gfn-tb default: median {stats['median_s'] * 1e3:.1f} ms, p90 {stats['p90_s'] * 1e3:.1f} ms, "
        f"max {stats['max_s'] * 1e3:.0f} ms (target median ≤ {CRYSTAL_MEDIAN_TARGET_S * 1e3:.0f} ms)"
    )
    for reason, count in sorted(crystals["failures"].items(), key=lambda item: -item[1]):
        print(f"  refused {count:>4} × {reason}")
    anchor = crystals["anchor"]
    scf, same = anchor["periodic_gfn1_scf"], anchor["tight_binding_same_crystals"]
    if scf and same:
        print(
            f"anchor on {anchor['crystals']} crystals ≤ {anchor['max_sites']} sites: periodic GFN1-xTB SCF median "
            f"{scf['median_s'] * 1e3:.0f} ms (failures {anchor['scf_failures']}), gfn-tb median "
            f"{same['median_s'] * 1e3:.1f} ms"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print a table, return (and optionally write) the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 molecules and 200 crystals instead of 2,000 each")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)

    count, anchor_count = (200, 10) if args.quick else (2000, 40)
    root = _datasets_dir()
    load_before = os.getloadavg()[0]
    molecules = _molecules(_qm9(root, count))
    crystals = _crystals(_mp(root, count), anchor_count)
    result = {
        "benchmark": "orbital_tier",
        "mode": "quick" if args.quick else "full",
        "seed": SEED,
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "molecules": molecules,
        "crystals": crystals,
        "meets_targets": bool(molecules["meets_target"] and crystals["meets_target"]),
    }
    _print(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
