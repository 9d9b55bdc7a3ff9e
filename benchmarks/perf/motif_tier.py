"""Motif tier: fast backend against AMDNet's ChemEnv + CrystalNN + robocrys pipeline, and MP coverage.

**Speed and agreement.** The same Materials Project crystals (a seeded random sample of the shared
``mp_mtcgcnn`` set, read with ``tierbench.load_dataset``) are built by ``MotifTier()`` (default, fast
backend) and by ``MotifTier(backend="robocrys")``, AMDNet's pipeline (ChemEnv types and neighbors with
AMDNet's strategy, CrystalNN bonded structure, robocrys site fingerprints and next-nearest-neighbor
connectivity) into the same graph layout. The two are interleaved structure by structure in one
process so that load from other processes hits both alike; each is warmed up first (imports, ChemEnv's
tables). Target: fast ≥ 20× faster per structure (ratio of mean times). Agreement between the two
graphs: the share of centres with the same geometry label (ChemEnv symbol) and the same number of
ligands, the share of connections (centre pair, kind, centre–centre distance) found alike by both, and
the share of structures whose connections are all identical — overall and split by how the centres
were chosen (oxidation states for ionic compounds, electronegativity for intermetallics).

**Coverage and total time.** The fast backend builds a second sample (``--coverage N``, 0 = all
33,064 crystals) in two worker processes, one per core. Reported: the share of structures with at least
one motif (a centre with ligands), the failures by reason (tier errors by ``TierError.reason``,
anything else by exception type; invalid input is quarantined by the loader, by validation reason,
before sampling), and the wall time (worker start-up included, which dominates small samples), from
which the time for all 33,064 crystals on 2 cores is extrapolated (and, from the ratio of mean times,
the same for AMDNet's pipeline).

Run: ``.venv/bin/python benchmarks/perf/motif_tier.py [--quick] [--structures N] [--coverage N]
[--workers N] [--json PATH]``.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from common import argument_parser, load, measurement, profiled, write_json
from pymatgen.core import Structure
from torch_geometric.data import Data

from tierbench.tier import TierError
from tierbench_tiers.motif import MotifTier
from tierbench_tiers.motif.features import EDGE_FEATURE_NAMES, NODE_FEATURE_NAMES
from tierbench_tiers.motif.labels import GEOMETRY_TYPES
from tierbench_tiers.motif.roles import decide_roles

if TYPE_CHECKING:
    from tierbench.datasets import Dataset
    from tierbench.datasets.table import StructureTable

MP_TOTAL = 33_064
TARGET_SPEEDUP = 20.0
SEED = 0
CHUNK = 16
"""Structures per task of the coverage run."""
GEOMETRY_COLUMNS = slice(NODE_FEATURE_NAMES.index(f"geometry={GEOMETRY_TYPES[0]}"), len(GEOMETRY_TYPES) + 1)
CN_COLUMN = NODE_FEATURE_NAMES.index("coordination_number")
KIND_COLUMNS = slice(0, 4)
DISTANCE_COLUMN = EDGE_FEATURE_NAMES.index("distance")
ROLE_RULES = ("oxidation", "electronegativity")
AGREEMENT_FIGURES = {
    "same_geometry_share": ("same geometry label", "% of centres"),
    "same_cn_share": ("same ligand count", "% of centres"),
    "connections_alike_share": ("connections alike", "% of connections"),
    "identical_connections_share": ("all connections identical", "% of structures"),
}
"""Agreement figure → (what it compares, unit of the report row)."""


def _samples(count: int, speed_count: int, coverage_count: int) -> tuple[list[int], list[int]]:
    """Seeded, disjoint samples of dataset positions for the speed comparison and the coverage run."""
    order = np.random.default_rng(SEED).permutation(count)
    speed = sorted(order[:speed_count].tolist())
    rest = order[speed_count:] if coverage_count else order
    coverage = sorted(rest[: coverage_count or count].tolist())
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


def compare_backends(dataset: Dataset, positions: list[int]) -> dict[str, Any]:
    """Time both backends on the same structures, interleaved, and compare their graphs."""
    fast, amdnet = MotifTier(), MotifTier(backend="robocrys")
    warm = dataset.structure(positions[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast.build(warm)
        amdnet.build(warm)
    rows = []
    for position in positions:
        mp_id, structure = dataset.ids[position], dataset.structure(position)
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
            **{rule: _agreement([row for row in rows if row["roles"] == rule]) for rule in ROLE_RULES},
        },
        "rows": rows,
    }


def _coverage_one(mp_id: str, structure: Structure) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = MotifTier().build(structure)
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


def _coverage_chunk(table: StructureTable) -> list[dict[str, Any]]:
    """Build the structures of a slice of the dataset (run in a worker process)."""
    return [_coverage_one(str(table.ids[row]), table.structure(row)) for row in range(len(table))]


def coverage(dataset: Dataset, positions: list[int], workers: int) -> dict[str, Any]:
    """Build the fast backend over a sample in ``workers`` processes; coverage and extrapolated time."""
    chunks = [dataset.table.take(np.array(positions[i : i + CHUNK])) for i in range(0, len(positions), CHUNK)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = [result for chunk in pool.map(_coverage_chunk, chunks) for result in chunk]
    wall = time.perf_counter() - start
    statuses = Counter(result["status"] for result in results)
    failures = {status: count for status, count in statuses.items() if status not in {"ok", "no_motif"}}
    return {
        "structures": len(results),
        "workers": workers,
        "quarantined_at_load": dataset.quarantine.counts(),
        "with_motif_share": statuses["ok"] / len(results),
        "no_motif": statuses["no_motif"],
        "failures_by_reason": failures,
        "failure_examples": [r for r in results if r["status"] in failures][:10],
        "wall_seconds": wall,
        "estimated_all_mp_hours_on_2_cores": wall / len(results) * MP_TOTAL / 3600 * workers / 2,
    }


def _measurements(speed: dict[str, Any], covered: dict[str, Any], hours: dict[str, float]) -> list[dict[str, Any]]:
    """The report rows: speed against the target, agreement figures, coverage, extrapolated total time."""
    agreement = speed["agreement"]
    rows = [
        measurement(
            f"motif tier vs AMDNet pipeline ({speed['structures']} MP crystals)",
            unit="s",
            tierbench=[row["fast_seconds"] for row in speed["rows"]],
            anchor=[row["amdnet_seconds"] for row in speed["rows"]],
            anchor_name="AMDNet ChemEnv + CrystalNN + robocrys",
            ratio=speed["speedup_of_means"],
            ratio_meaning="speed-up, anchor mean / tierbench mean",
            target=("ratio", ">=", TARGET_SPEEDUP),
            note=f"median per-structure speed-up {speed['speedup_median_per_structure']:.0f}×",
        )
    ]
    for figure, (compared, unit) in AGREEMENT_FIGURES.items():
        split = ", ".join(
            f"{rule} centres {agreement[rule][figure]:.1%} ({agreement[rule]['structures']})" for rule in ROLE_RULES
        )
        rows.append(
            measurement(
                f"motif tier agreement with AMDNet pipeline: {compared} ({agreement['all']['structures']} MP crystals)",
                unit=unit,
                tierbench=agreement["all"][figure] * 100,
                note=f"by how centres were chosen: {split}",
            )
        )
    quarantined = covered["quarantined_at_load"]
    rows += [
        measurement(
            f"motif tier coverage ({covered['structures']} MP crystals)",
            unit="% with a motif",
            tierbench=covered["with_motif_share"] * 100,
            note=f"failures: {covered['failures_by_reason'] or 'none'}; quarantined at load: {quarantined or 'none'}",
        ),
        measurement(
            f"motif tier, all {MP_TOTAL:,} MP crystals on 2 cores (extrapolated)",
            unit="h",
            tierbench=hours["fast"],
            anchor=hours["amdnet"],
            anchor_name="AMDNet pipeline",
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print a table; return (and optionally write) the result."""
    parser = argument_parser(__doc__, "8 structures and a 100-structure coverage sample")
    parser.add_argument("--structures", type=int, default=50, help="structures for the speed comparison")
    parser.add_argument("--coverage", type=int, default=2000, help="coverage sample size (0: all 33,064)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the coverage run")
    args = parser.parse_args(argv)
    speed_count, coverage_count = (8, 100) if args.quick else (args.structures, args.coverage)
    dataset = load({"name": "mp_mtcgcnn"})
    speed_positions, coverage_positions = _samples(len(dataset), speed_count, coverage_count)

    with profiled():
        print(f"Fast backend vs AMDNet's pipeline on {speed_count} MP crystals (seed {SEED}):")
        speed = compare_backends(dataset, speed_positions)
        print(f"Coverage of the fast backend on {len(coverage_positions)} MP crystals, {args.workers} processes:")
        covered = coverage(dataset, coverage_positions, args.workers)
    hours = {
        "fast": covered["estimated_all_mp_hours_on_2_cores"],
        "amdnet": covered["estimated_all_mp_hours_on_2_cores"] * speed["speedup_of_means"],
    }
    result = {
        "benchmark": "motif_tier",
        "speed": speed,
        "coverage": covered,
        "estimated_all_mp_hours_on_2_cores": hours,
        "measurements": _measurements(speed, covered, hours),
        "meets_target": speed["speedup_of_means"] >= TARGET_SPEEDUP,
    }
    _print_table(result)
    write_json(args.json, result)
    return result


def _print_table(result: dict[str, Any]) -> None:
    speed, covered = result["speed"], result["coverage"]
    hours = result["estimated_all_mp_hours_on_2_cores"]
    print()
    print(f"{'':<34}{'fast':>12}{'AMDNet':>12}")
    print(f"{'mean per structure (s)':<34}{speed['fast_mean_seconds']:>12.4f}{speed['amdnet_mean_seconds']:>12.3f}")
    print(
        f"{'median per structure (s)':<34}{speed['fast_median_seconds']:>12.4f}{speed['amdnet_median_seconds']:>12.3f}"
    )
    print(f"{'all 33,064 MP crystals, 2 cores (h)':<34}{hours['fast']:>12.2f}{hours['amdnet']:>12.1f}")
    print(
        f"speedup: {speed['speedup_of_means']:.1f}x (ratio of means), "
        f"{speed['speedup_median_per_structure']:.1f}x (median per structure); target {TARGET_SPEEDUP:.0f}x: "
        f"{'met' if result['meets_target'] else 'MISSED'}"
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
        f"{covered['no_motif']} without; failures {covered['failures_by_reason'] or 'none'}; "
        f"quarantined at load {covered['quarantined_at_load'] or 'none'}"
    )


if __name__ == "__main__":
    main()
