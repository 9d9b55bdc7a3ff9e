"""Motif tier: fast backend against AMDNet's ChemEnv + CrystalNN + robocrys pipeline, and MP coverage.

**Speed and agreement.** The same Materials Project crystals (a seeded random sample of the shared
``mp_mtcgcnn`` set) are built by ``MotifTier()`` (default, fast backend) and by
``MotifTier(backend="robocrys")``, AMDNet's pipeline (ChemEnv types and neighbors with AMDNet's
strategy, CrystalNN bonded structure, robocrys site fingerprints and next-nearest-neighbor
connectivity) into the same graph layout. The two are interleaved structure by structure in one
process so that load from other processes hits both alike; each is warmed up first (imports, ChemEnv's
tables). Target: fast ≥ 20× faster per structure. Agreement between the two graphs: the share of
centres with the same geometry label (ChemEnv symbol) and the same number of ligands, the share of
connections (centre pair, kind, centre–centre distance) found alike by both, and the share of
structures whose connections are all identical — overall and split by how the centres were chosen
(oxidation states for ionic compounds, electronegativity for intermetallics).

**Coverage and total time.** The fast backend builds a second sample (``--coverage N``, 0 = all
33,064 crystals) in two worker processes, one per core. Reported: the share of structures with at least
one motif (a centre with ligands), the failures by reason (invalid input by validation reason, tier
errors by ``TierError.reason``, anything else by exception type), and the wall time (worker start-up
included, which dominates small samples), from which the time for all 33,064 crystals on 2 cores is
extrapolated (and, from the per-structure ratio, the same
for AMDNet's pipeline).

Run: ``.venv/bin/python benchmarks/perf/motif_tier.py [--quick] [--structures N] [--coverage N]
[--json PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Data

from tierbench.structures import validate_structure
from tierbench.tier import InvalidStructureError, TierError
from tierbench_tiers.motif import MotifTier
from tierbench_tiers.motif.features import EDGE_FEATURE_NAMES, NODE_FEATURE_NAMES
from tierbench_tiers.motif.roles import decide_roles
from tierbench_tiers.motif.shapes import GEOMETRY_TYPES

MP_TOTAL = 33_064
TARGET_SPEEDUP = 20.0
SEED = 0
GEOMETRY_COLUMNS = slice(NODE_FEATURE_NAMES.index(f"geometry={GEOMETRY_TYPES[0]}"), len(GEOMETRY_TYPES) + 1)
CN_COLUMN = NODE_FEATURE_NAMES.index("coordination_number")
KIND_COLUMNS = slice(0, 4)
DISTANCE_COLUMN = EDGE_FEATURE_NAMES.index("distance")


def _dataset() -> Path:
    configured = os.environ.get("TIERBENCH_DATASETS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "datasets"
    path = root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz"
    if not path.is_file():
        sys.exit(f"{path} not found: set TIERBENCH_DATASETS to the folder holding mp_mtcgcnn/")
    return path


def _records(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()


def _structure(line: str) -> tuple[str, Structure]:
    record = json.loads(line)
    data = record["structure"]
    return record["mp_id"], Structure(Lattice(data["lattice"]), data["species"], data["frac_coords"])


def _samples(lines: list[str], speed_count: int, coverage_count: int) -> tuple[list[int], list[int]]:
    """Seeded, disjoint samples of line numbers for the speed comparison and the coverage run."""
    order = np.random.default_rng(SEED).permutation(len(lines))
    speed = sorted(order[:speed_count].tolist())
    rest = order[speed_count:] if coverage_count else order
    coverage = sorted(rest[: coverage_count or len(order)].tolist())
    return speed, coverage


def _summary(graph: Data) -> tuple[dict[int, tuple[int, int]], Counter]:
    """Per centre site (geometry label, ligand count); multiset of (site, site, kind, distance)."""
    sites = graph.atom_index.tolist()
    geometry = graph.x[:, GEOMETRY_COLUMNS].argmax(dim=1).tolist()
    count = graph.x[:, CN_COLUMN].round().int().tolist()
    nodes = {site: (label, cn) for site, label, cn in zip(sites, geometry, count, strict=True)}
    kinds = graph.edge_attr[:, KIND_COLUMNS].argmax(dim=1).tolist()
    distances = graph.edge_attr[:, DISTANCE_COLUMN].tolist()
    source, target = graph.edge_index.tolist()
    edges = Counter(
        (sites[a], sites[b], kind, round(distance, 3))
        for a, b, kind, distance in zip(source, target, kinds, distances, strict=True)
    )
    return nodes, edges


def _timed(tier: MotifTier, structure: Structure) -> tuple[float, Data | None, str | None]:
    start = time.perf_counter()
    try:
        graph = tier.build(structure)
    except TierError as error:
        return time.perf_counter() - start, None, error.reason
    return time.perf_counter() - start, graph, None


def compare_backends(lines: list[str], indices: list[int]) -> dict[str, Any]:
    """Time both backends on the same structures, interleaved, and compare their graphs."""
    fast, amdnet = MotifTier(), MotifTier(backend="robocrys")
    warm = _structure(lines[indices[0]])[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast.build(warm)
        amdnet.build(warm)
    rows = []
    for index in indices:
        mp_id, structure = _structure(lines[index])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast_seconds, fast_graph, fast_error = _timed(fast, structure)
            amdnet_seconds, amdnet_graph, amdnet_error = _timed(amdnet, structure)
        row: dict[str, Any] = {
            "mp_id": mp_id,
            "formula": structure.composition.reduced_formula,
            "sites": len(structure),
            "fast_seconds": fast_seconds,
            "amdnet_seconds": amdnet_seconds,
            "errors": [fast_error, amdnet_error],
            "roles": "electronegativity" if decide_roles(structure).rule == "electronegativity" else "oxidation",
        }
        if fast_graph is not None and amdnet_graph is not None:
            fast_nodes, fast_edges = _summary(fast_graph)
            amdnet_nodes, amdnet_edges = _summary(amdnet_graph)
            row["centres"] = len(fast_nodes)
            row["same_geometry"] = sum(fast_nodes[s][0] == amdnet_nodes[s][0] for s in fast_nodes)
            row["same_cn"] = sum(fast_nodes[s][1] == amdnet_nodes[s][1] for s in fast_nodes)
            row["same_connections"] = fast_edges == amdnet_edges
            row["connections_alike"] = sum((fast_edges & amdnet_edges).values())
            row["connections_either"] = sum((fast_edges | amdnet_edges).values())
        rows.append(row)
        print(
            f"  {mp_id:<12} {row['formula']:<18} {len(structure):>4} sites  fast {fast_seconds * 1e3:8.1f} ms  "
            f"AMDNet {amdnet_seconds:7.2f} s",
            flush=True,
        )
    return _speed_report(rows)


def _agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    compared = [row for row in rows if "centres" in row]
    centres = max(sum(row["centres"] for row in compared), 1)
    return {
        "structures": len(compared),
        "same_geometry_share": sum(row["same_geometry"] for row in compared) / centres,
        "same_cn_share": sum(row["same_cn"] for row in compared) / centres,
        "connections_alike_share": sum(row["connections_alike"] for row in compared)
        / max(sum(row["connections_either"] for row in compared), 1),
        "identical_connections_share": sum(row["same_connections"] for row in compared) / max(len(compared), 1),
    }


def _speed_report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fast = [row["fast_seconds"] for row in rows]
    amdnet = [row["amdnet_seconds"] for row in rows]
    return {
        "structures": len(rows),
        "fast_mean_seconds": statistics.fmean(fast),
        "fast_median_seconds": statistics.median(fast),
        "amdnet_mean_seconds": statistics.fmean(amdnet),
        "amdnet_median_seconds": statistics.median(amdnet),
        "speedup_of_means": statistics.fmean(amdnet) / statistics.fmean(fast),
        "speedup_median_per_structure": statistics.median(a / f for a, f in zip(amdnet, fast, strict=True)),
        "target_speedup": TARGET_SPEEDUP,
        "agreement": {
            "all": _agreement(rows),
            **{
                rule: _agreement([row for row in rows if row["roles"] == rule])
                for rule in ("oxidation", "electronegativity")
            },
        },
        "rows": rows,
    }


def _coverage_one(line: str) -> dict[str, Any]:
    mp_id, structure = _structure(line)
    start = time.perf_counter()
    try:
        validate_structure(structure)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = MotifTier().build(structure)
    except InvalidStructureError as error:
        return {"mp_id": mp_id, "status": f"invalid:{error.reason}", "seconds": time.perf_counter() - start}
    except TierError as error:
        return {"mp_id": mp_id, "status": f"tier:{error.reason}", "message": str(error), "seconds": 0.0}
    except Exception as error:  # counted by type: the coverage report must see every failure
        return {"mp_id": mp_id, "status": f"exception:{type(error).__name__}", "message": str(error), "seconds": 0.0}
    with_ligands = int((graph.x[:, CN_COLUMN] > 0).sum())
    return {
        "mp_id": mp_id,
        "status": "ok" if with_ligands else "no_motif",
        "motifs": with_ligands,
        "seconds": time.perf_counter() - start,
    }


def coverage(lines: list[str], indices: list[int], workers: int) -> dict[str, Any]:
    """Build the fast backend over a sample in ``workers`` processes; coverage and extrapolated time."""
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_coverage_one, [lines[i] for i in indices], chunksize=16))
    wall = time.perf_counter() - start
    statuses = Counter(result["status"] for result in results)
    failures = {status: count for status, count in statuses.items() if status not in {"ok", "no_motif"}}
    return {
        "structures": len(results),
        "workers": workers,
        "with_motif_share": statuses["ok"] / len(results),
        "no_motif": statuses["no_motif"],
        "failures_by_reason": failures,
        "failure_examples": [r for r in results if r["status"] in failures][:10],
        "wall_seconds": wall,
        "estimated_all_mp_hours_on_2_cores": wall / len(results) * MP_TOTAL / 3600 * workers / 2,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table; return (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 structures and a 100-structure coverage sample")
    parser.add_argument("--structures", type=int, default=50, help="structures for the speed comparison")
    parser.add_argument("--coverage", type=int, default=2000, help="coverage sample size (0: all 33,064)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the coverage run")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    speed_count, coverage_count = (8, 100) if args.quick else (args.structures, args.coverage)
    lines = _records(_dataset())
    speed_indices, coverage_indices = _samples(lines, speed_count, coverage_count)

    print(f"Fast backend vs AMDNet's pipeline on {speed_count} MP crystals (seed {SEED}):")
    speed = compare_backends(lines, speed_indices)
    print(f"Coverage of the fast backend on {len(coverage_indices)} MP crystals, {args.workers} processes:")
    covered = coverage(lines, coverage_indices, args.workers)
    amdnet_hours = covered["estimated_all_mp_hours_on_2_cores"] * speed["speedup_of_means"]
    results = {
        "benchmark": "motif_tier",
        "speed": speed,
        "coverage": covered,
        "estimated_all_mp_hours_on_2_cores": {
            "fast": covered["estimated_all_mp_hours_on_2_cores"],
            "amdnet": amdnet_hours,
        },
    }
    _print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def _print_table(results: dict[str, Any]) -> None:
    speed, covered = results["speed"], results["coverage"]
    hours = results["estimated_all_mp_hours_on_2_cores"]
    print()
    print(f"{'':<34}{'fast':>12}{'AMDNet':>12}")
    print(f"{'mean per structure (s)':<34}{speed['fast_mean_seconds']:>12.4f}{speed['amdnet_mean_seconds']:>12.3f}")
    print(
        f"{'median per structure (s)':<34}{speed['fast_median_seconds']:>12.4f}{speed['amdnet_median_seconds']:>12.3f}"
    )
    print(f"{'all 33,064 MP crystals, 2 cores (h)':<34}{hours['fast']:>12.2f}{hours['amdnet']:>12.1f}")
    print(
        f"speedup: {speed['speedup_of_means']:.1f}x (ratio of means), "
        f"{speed['speedup_median_per_structure']:.1f}x (median per structure); target {TARGET_SPEEDUP:.0f}x"
    )
    print("agreement with AMDNet's pipeline   geometry  ligand count  connections  identical structures")
    for group, agreement in speed["agreement"].items():
        print(
            f"  {group} ({agreement['structures']} structures)".ljust(36)
            + f"{agreement['same_geometry_share']:>8.1%}{agreement['same_cn_share']:>14.1%}"
            f"{agreement['connections_alike_share']:>13.1%}{agreement['identical_connections_share']:>22.1%}"
        )
    print(
        f"coverage: {covered['with_motif_share']:.2%} of {covered['structures']} structures have a motif; "
        f"{covered['no_motif']} without; failures {covered['failures_by_reason'] or 'none'}"
    )


if __name__ == "__main__":
    main()
