"""Featurization throughput: serial vs 2 Ray workers per tier, cold vs warm cache, peak memory, projections.

For each tier, the same structures are built three times through ``tierbench.featurize``: serially in
this process into an empty cache, on 2 Ray workers into another empty cache, and again on that warm
cache. Ray's start-up is measured once and kept out of the per-tier rates (a suite pays it once).
Targets: ≥ 1.8× from 1 to 2 workers for the slow tiers (motif, orbital), ≥ 100× cold vs warm.

Projection: the measured CPU seconds per structure of every tier, times the size of the full QM9
(130,831 molecules) and of the MP set (33,064 crystals), divided by 2 cores — the cold featurization
time of all three tiers on this machine (targets: ≤ 10 min and ≤ 1 h).

Run: ``.venv/bin/python benchmarks/perf/featurize.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from common import argument_parser, load, machine, measurement, profiled, require_datasets, write_json

TIERS = ("atom", "motif", "orbital")
SLOW_TIERS = ("motif", "orbital")
FULL_SIZES = {"qm9": 130_831, "mp": 33_064}
SPEEDUP_TARGET = 1.8
WARM_TARGET = 100.0
PROJECTION_TARGETS_S = {"qm9": 600.0, "mp": 3600.0}


def _datasets(quick: bool) -> dict[str, Any]:
    size = 60 if quick else 400
    return {
        "qm9": load({"name": "qm9", "size": size, "seed": 1, "targets": ["gap"]}),
        "mp": load({"name": "mp_mtcgcnn", "size": size, "seed": 1, "targets": ["band_gap"]}),
    }


def _timed(dataset: Any, tier: str, cache: Path, workers: int) -> tuple[float, Any]:
    from tierbench.featurize import featurize

    started = time.perf_counter()
    result = featurize(dataset, [tier], cache=cache, workers=workers, progress=False)
    return time.perf_counter() - started, result


def _measure(name: str, dataset: Any, tier: str, folder: Path) -> dict[str, Any]:
    serial_s, serial = _timed(dataset, tier, folder / f"{name}-{tier}-serial", 1)
    parallel_s, _ = _timed(dataset, tier, folder / f"{name}-{tier}-ray", 2)
    warm_s, warm = _timed(dataset, tier, folder / f"{name}-{tier}-ray", 2)
    assert warm.cached[tier] == len(dataset), "the warm run rebuilt graphs"
    coverage = serial.coverage()[tier]
    return {
        "dataset": name,
        "tier": tier,
        "structures": len(dataset),
        "ok": coverage["ok"],
        "failed": coverage["failed"],
        "serial_per_s": len(dataset) / serial_s,
        "ray2_per_s": len(dataset) / parallel_s,
        "speedup": serial_s / parallel_s,
        "cold_s": parallel_s,
        "warm_s": warm_s,
        "cold_over_warm": parallel_s / warm_s,
        "cpu_s_per_structure": serial.built_cpu_seconds[tier] / len(dataset),
    }


def _projections(rows: list[dict[str, Any]]) -> dict[str, float]:
    projected = {}
    for name, size in FULL_SIZES.items():
        per_structure = sum(row["cpu_s_per_structure"] for row in rows if row["dataset"] == name)
        projected[name] = per_structure * size / 2
    return projected


def _measurements(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in result["rows"]:
        label = f"featurize {row['dataset']} × {row['tier']} ({row['structures']} structures)"
        rows.append(
            measurement(
                f"{label}: 2 Ray workers vs serial",
                unit="structures/s",
                tierbench=row["ray2_per_s"],
                anchor=row["serial_per_s"],
                anchor_name="serial, same process",
                ratio=row["speedup"],
                ratio_meaning="speed-up, 2 Ray workers / serial",
                target=("ratio", ">=", SPEEDUP_TARGET) if row["tier"] in SLOW_TIERS else None,
                note="" if row["tier"] in SLOW_TIERS else "no target: the atom tier is too fast to gain from Ray",
            )
        )
        rows.append(
            measurement(
                f"{label}: warm cache vs cold",
                unit="s",
                tierbench=row["warm_s"],
                anchor=row["cold_s"],
                anchor_name="cold cache, 2 Ray workers",
                ratio=row["cold_over_warm"],
                ratio_meaning="cold / warm",
                target=("ratio", ">=", WARM_TARGET),
            )
        )
    for name, seconds in result["projected_cold_s"].items():
        rows.append(
            measurement(
                f"projected cold featurization, all three tiers, full {name} ({FULL_SIZES[name]:,}) on 2 cores",
                unit="min",
                tierbench=seconds / 60,
                target=("tierbench", "<=", PROJECTION_TARGETS_S[name] / 60),
                note="serial CPU seconds per structure × set size / 2 cores",
            )
        )
    rows.append(measurement("peak RSS of the featurizing driver", unit="MiB", tierbench=result["peak_rss_mib"]))
    return rows


def _print(result: dict[str, Any]) -> None:
    print(f"Ray start-up: {result['ray_start_s']:.1f} s (once per suite)")
    print(f"{'set':<5}{'tier':<9}{'n':>5}{'ok':>5}{'serial/s':>10}{'2 Ray/s':>10}{'speedup':>9}{'cold/warm':>11}")
    for row in result["rows"]:
        print(
            f"{row['dataset']:<5}{row['tier']:<9}{row['structures']:>5}{row['ok']:>5}{row['serial_per_s']:>10.1f}"
            f"{row['ray2_per_s']:>10.1f}{row['speedup']:>9.2f}{row['cold_over_warm']:>11.0f}"
        )
    for name, seconds in result["projected_cold_s"].items():
        target = PROJECTION_TARGETS_S[name]
        print(
            f"projected cold, all tiers, full {name} on 2 cores: {seconds / 60:.1f} min "
            f"(target ≤ {target / 60:.0f} min)"
        )
    print(f"peak RSS of the driver: {result['peak_rss_mib']:.0f} MiB")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the measurements and return them."""
    args = argument_parser(__doc__, "60 structures per set instead of 400").parse_args(argv)
    require_datasets()
    from tierbench.distributed import connect_ray

    datasets = _datasets(args.quick)
    started = time.perf_counter()
    connect_ray(num_cpus=2)
    ray_start = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="tierbench-perf-") as folder, profiled():
        rows = [_measure(name, data, tier, Path(folder)) for name, data in datasets.items() for tier in TIERS]
    result = {
        "machine": machine(),
        "quick": args.quick,
        "ray_start_s": ray_start,
        "rows": rows,
        "projected_cold_s": _projections(rows),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "targets": {"speedup": SPEEDUP_TARGET, "cold_over_warm": WARM_TARGET, "projected_s": PROJECTION_TARGETS_S},
    }
    result["measurements"] = _measurements(result)
    _print(result)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
