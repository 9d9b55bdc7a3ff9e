"""Featurization throughput: serial vs 2 Ray workers per tier, cold vs warm cache, peak memory, projections.

Nothing is timed on a cold process. After Ray starts, a few structures of each set that no measurement
uses are featurized with all three tiers, first in this process and then on 2 Ray workers into a
throwaway cache, so that this process and both workers have imported every tier's libraries (pymatgen's
analysis, tblite, PySCF: seconds per process, paid once per suite). Ray's start and this warm-up are
reported apart, without target. A probe task on each of the 2 workers confirms, before and after the
measured runs, that 2 distinct workers hold the tier modules and that the measured runs reused them.

Ray starts its workers at niceness 15 so that a driver keeps priority. The serial anchor runs in this
process, so here the workers get this process's niceness instead: on a machine shared with other work,
the serial and the parallel runs then compete for the cores on the same terms.

Speed-up, per tier: the same structures are built serially in this process and on 2 Ray workers, each
into an empty cache. The sets are sized so that the serial run of a slow tier takes about 5 s (quick) or
25 s (full) on an idle machine. Target ≥ 1.8× for the slow tiers (motif, orbital). Right before each
pair, the same pure-Python loop runs in one process and then in two at once: the speed-up that the
machine allows at that moment: about 2× on an idle 2-core machine, less while other work runs (with
Linux's autogroup scheduling, a job started from another session takes its share of the cores whatever
its niceness).

Cold vs warm: what a suite sees, per set: one ``featurize`` call with all three tiers on 2 Ray workers
into an empty cache, then the same call again on that cache (median of 3 warm runs). Target ≥ 100×.
Per tier, the 2-worker run and its warm rerun give a ratio without target: the atom tier builds in
1–2 ms per structure, about what the warm path spends computing keys and checking files.

Projection: the measured CPU seconds per structure of every tier, times the size of the full QM9
(130,831 molecules) and of the MP set (33,064 crystals), divided by 2 cores — the cold featurization
time of all three tiers on this machine (targets: ≤ 10 min and ≤ 1 h).

Run: ``.venv/bin/python benchmarks/perf/featurize.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from common import argument_parser, load, load_average, machine, measurement, profiled, require_datasets, write_json

TIERS = ("atom", "motif", "orbital")
SLOW_TIERS = ("motif", "orbital")
WORKERS = 2
SPECS = {
    "qm9": {"name": "qm9", "seed": 1, "targets": ["gap"]},
    "mp": {"name": "mp_mtcgcnn", "seed": 1, "targets": ["band_gap"]},
}
WARM_UP_STRUCTURES = 8
"""Per set, featurized before any timing and excluded from every measured set."""
SPEEDUP_SIZES = {
    "quick": {"qm9": {"atom": 450, "motif": 250, "orbital": 450}, "mp": {"atom": 150, "motif": 150, "orbital": 50}},
    "full": {"qm9": {"atom": 2000, "motif": 1300, "orbital": 2300}, "mp": {"atom": 800, "motif": 800, "orbital": 250}},
}
"""Structures per tier: serial motif and orbital runs of about 5 s (quick) and 25 s (full) on an idle machine."""
COLD_WARM_SIZES = {"quick": {"qm9": 200, "mp": 100}, "full": {"qm9": 600, "mp": 300}}
WARM_REPEATS = 3
WARM_MODULES = (
    "tierbench_tiers.atom.builder",
    "tierbench_tiers.motif.builder",
    "tierbench_tiers.orbital.builder",
    "tblite.interface",
    "pyscf.lib",
)
"""Modules a worker imports on its first builds; the probe checks that every worker holds them."""
PROBE_HOLD_S = 0.5
CEILING_ITERATIONS = 5_000_000
"""Loop length of the 2-process ceiling: about 0.4 s on one idle core of the development machine."""
WORKER_NICENESS_ENV = "RAY_worker_niceness"
FULL_SIZES = {"qm9": 130_831, "mp": 33_064}
SPEEDUP_TARGET = 1.8
WARM_TARGET = 100.0
PROJECTION_TARGETS_S = {"qm9": 600.0, "mp": 3600.0}


def _datasets(mode: str) -> dict[str, Any]:
    """Each set with the warm-up structures first, then enough for the largest measurement."""
    loaded = {}
    for name, spec in SPECS.items():
        largest = max(*SPEEDUP_SIZES[mode][name].values(), COLD_WARM_SIZES[mode][name])
        loaded[name] = load({**spec, "size": WARM_UP_STRUCTURES + largest})
    return loaded


def _measured(dataset: Any, size: int) -> Any:
    """The first ``size`` structures after the warm-up ones."""
    return dataset.subset(range(WARM_UP_STRUCTURES, WARM_UP_STRUCTURES + size), reason="measured set")


def _timed(
    dataset: Any, tiers: Sequence[str], cache: Path, workers: int, chunk_size: int | None = None
) -> tuple[float, Any]:
    from tierbench.featurization.engine import featurize

    started = time.perf_counter()
    result = featurize(dataset, list(tiers), cache=cache, workers=workers, chunk_size=chunk_size, progress=False)
    return time.perf_counter() - started, result


def _require_warm(result: Any, tiers: Sequence[str], size: int) -> None:
    rebuilt = {tier: size - result.cached.get(tier, 0) for tier in tiers if result.cached.get(tier, 0) != size}
    if rebuilt:
        raise RuntimeError(f"the warm run rebuilt graphs: {rebuilt}")


def _worker_state(modules: Sequence[str]) -> dict[str, Any]:
    """Process id, niceness and which of ``modules`` a Ray worker has imported (runs as a Ray task)."""
    time.sleep(PROBE_HOLD_S)  # holds the worker so that the other probe lands on the other worker
    return {
        "pid": os.getpid(),
        "niceness": os.nice(0),
        "imported": [module for module in modules if module in sys.modules],
    }


def _probe_workers() -> list[dict[str, Any]]:
    """One probe per worker, run at the same time: the pool's process ids and their imports."""
    import ray

    if __name__ != "__main__":  # imported by a runner: the workers cannot import this script by name
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    probe = ray.remote(num_cpus=1)(_worker_state)
    return sorted(ray.get([probe.remote(WARM_MODULES) for _ in range(WORKERS)]), key=lambda state: state["pid"])


def _warm_up(datasets: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Featurize the warm-up structures here and on the workers; the probes' view of the pool."""
    here_s = ray_s = 0.0
    for name, dataset in datasets.items():
        warm_up = dataset.subset(range(WARM_UP_STRUCTURES), reason="warm-up")
        here_s += _timed(warm_up, TIERS, folder / f"warm-up-{name}-here", 1)[0]
        ray_s += _timed(warm_up, TIERS, folder / f"warm-up-{name}-ray", WORKERS, chunk_size=1)[0]
    workers = _probe_workers()
    warm = len({state["pid"] for state in workers}) == WORKERS and all(
        len(state["imported"]) == len(WARM_MODULES) for state in workers
    )
    return {"driver_s": here_s, "ray_workers_s": ray_s, "workers": workers, "workers_warm": warm}


def _spin(iterations: int) -> int:
    """CPU-bound pure-Python work for the 2-process ceiling."""
    total = 0
    for value in range(iterations):
        total += value * value
    return total


def _ceiling(pool: ProcessPoolExecutor) -> float:
    """Speed-up of 2 processes over 1 on this machine now: the same loop alone, then twice at once."""
    started = time.perf_counter()
    pool.submit(_spin, CEILING_ITERATIONS).result()
    alone = time.perf_counter() - started
    started = time.perf_counter()
    list(pool.map(_spin, [CEILING_ITERATIONS] * WORKERS))
    return WORKERS * alone / (time.perf_counter() - started)


def _speedup(name: str, dataset: Any, tier: str, folder: Path, pool: ProcessPoolExecutor) -> dict[str, Any]:
    load_before = load_average()
    ceiling = _ceiling(pool)
    serial_s, serial = _timed(dataset, [tier], folder / f"{name}-{tier}-serial", 1)
    parallel_s, _ = _timed(dataset, [tier], folder / f"{name}-{tier}-ray", WORKERS)
    warm_s, warm = _timed(dataset, [tier], folder / f"{name}-{tier}-ray", WORKERS)
    _require_warm(warm, [tier], len(dataset))
    coverage = serial.coverage()[tier]
    return {
        "dataset": name,
        "tier": tier,
        "structures": len(dataset),
        "ok": coverage["ok"],
        "failed": coverage["failed"],
        "load_average": load_before,
        "ceiling": ceiling,
        "serial_s": serial_s,
        "serial_per_s": len(dataset) / serial_s,
        "ray2_per_s": len(dataset) / parallel_s,
        "speedup": serial_s / parallel_s,
        "cold_s": parallel_s,
        "warm_s": warm_s,
        "cold_over_warm": parallel_s / warm_s,
        "cpu_s_per_structure": serial.built_cpu_seconds[tier] / len(dataset),
    }


def _cold_warm(name: str, dataset: Any, folder: Path) -> dict[str, Any]:
    """All three tiers in one call on 2 Ray workers: empty cache, then reruns on that cache."""
    load_before = load_average()
    cache = folder / f"{name}-all-tiers"
    cold_s, _ = _timed(dataset, TIERS, cache, WORKERS)
    warm_runs = []
    for _ in range(WARM_REPEATS):
        warm_s, warm = _timed(dataset, TIERS, cache, WORKERS)
        _require_warm(warm, TIERS, len(dataset))
        warm_runs.append(warm_s)
    warm_median = statistics.median(warm_runs)
    return {
        "dataset": name,
        "structures": len(dataset),
        "load_average": load_before,
        "cold_s": cold_s,
        "warm_s": warm_runs,
        "cold_over_warm": cold_s / warm_median,
        "warm_ms_per_structure": warm_median / len(dataset) * 1e3,
    }


def _projections(rows: list[dict[str, Any]]) -> dict[str, float]:
    projected = {}
    for name, size in FULL_SIZES.items():
        per_structure = sum(row["cpu_s_per_structure"] for row in rows if row["dataset"] == name)
        projected[name] = per_structure * size / WORKERS
    return projected


def _speedup_measurements(row: dict[str, Any], workers_note: str) -> list[dict[str, Any]]:
    label = f"featurize {row['dataset']} × {row['tier']} ({row['structures']} structures)"
    slow = row["tier"] in SLOW_TIERS
    note = (
        f"serial run {row['serial_s']:.1f} s; 2-process ceiling at that moment {row['ceiling']:.2f}× "
        f"(speed-up / ceiling {row['speedup'] / row['ceiling']:.0%}); "
        f"load average {row['load_average']:.1f}; {workers_note}"
    )
    return [
        measurement(
            f"{label}: 2 warm Ray workers vs serial",
            unit="structures/s",
            tierbench=row["ray2_per_s"],
            anchor=row["serial_per_s"],
            anchor_name="serial, same process",
            ratio=row["speedup"],
            ratio_meaning="speed-up, 2 Ray workers / serial",
            target=("ratio", ">=", SPEEDUP_TARGET) if slow else None,
            note=note if slow else f"no target: the atom tier is too fast to gain from Ray; {note}",
        ),
        measurement(
            f"{label}: warm cache vs cold, this tier alone",
            unit="s",
            tierbench=row["warm_s"],
            anchor=row["cold_s"],
            anchor_name="cold cache, 2 Ray workers",
            ratio=row["cold_over_warm"],
            ratio_meaning="cold / warm",
            note="no target: the target is for all three tiers in one call",
        ),
    ]


def _measurements(result: dict[str, Any]) -> list[dict[str, Any]]:
    warm_up = result["warm_up"]
    workers_note = (
        "measured on the 2 warm-up workers" if result["workers_reused"] else "WORKER POOL CHANGED (see warm_up)"
    )
    rows = [row for speedup in result["rows"] for row in _speedup_measurements(speedup, workers_note)]
    for row in result["cold_warm"]:
        rows.append(
            measurement(
                f"featurize {row['dataset']} × all three tiers in one call ({row['structures']} structures): "
                "warm cache vs cold",
                unit="s",
                tierbench=row["warm_s"],
                anchor=row["cold_s"],
                anchor_name="cold cache, 2 warm Ray workers",
                ratio=row["cold_over_warm"],
                ratio_meaning="cold / median warm",
                target=("ratio", ">=", WARM_TARGET),
                note=f"warm path {row['warm_ms_per_structure']:.2f} ms per structure; "
                f"load average {row['load_average']:.1f}",
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
    structures = f"{WARM_UP_STRUCTURES} structures of each set, all three tiers"
    rows += [
        measurement(
            "Ray start-up, local 2-CPU cluster", unit="s", tierbench=result["ray_start_s"], note="once per suite"
        ),
        measurement(
            f"warm-up of the featurizing process ({structures}, first imports)",
            unit="s",
            tierbench=warm_up["driver_s"],
            note="once per process; kept out of every other row",
        ),
        measurement(
            f"warm-up of 2 Ray workers ({structures}, first imports)",
            unit="s",
            tierbench=warm_up["ray_workers_s"],
            note=f"once per worker; kept out of every other row; {workers_note}",
        ),
        measurement(
            "2-process ceiling during the speed-up runs: a pure-Python loop twice at once vs alone",
            unit="×",
            tierbench=[row["ceiling"] for row in result["rows"]],
            note="what the machine allowed at the time; about 2× on an idle 2-core machine",
        ),
        measurement("peak RSS of the featurizing driver", unit="MiB", tierbench=result["peak_rss_mib"]),
    ]
    return rows


def _print(result: dict[str, Any]) -> None:
    warm_up = result["warm_up"]
    print(
        f"Ray start-up: {result['ray_start_s']:.1f} s; warm-up: {warm_up['driver_s']:.1f} s here, "
        f"{warm_up['ray_workers_s']:.1f} s on {WORKERS} Ray workers (once per suite)"
    )
    for stage in ("workers", "workers_after"):
        states = ", ".join(
            f"pid {state['pid']} ({len(state['imported'])}/{len(WARM_MODULES)} tier modules, nice {state['niceness']})"
            for state in warm_up[stage]
        )
        print(f"Ray workers {'after warm-up' if stage == 'workers' else 'after measurements'}: {states}")
    print(f"measured runs reused the warm workers: {'yes' if result['workers_reused'] else 'NO'}")
    print(
        f"{'set':<5}{'tier':<9}{'n':>6}{'ok':>6}{'serial s':>10}{'serial/s':>10}{'2 Ray/s':>10}"
        f"{'speedup':>9}{'ceiling':>9}{'cold/warm':>11}{'load':>6}"
    )
    for row in result["rows"]:
        print(
            f"{row['dataset']:<5}{row['tier']:<9}{row['structures']:>6}{row['ok']:>6}{row['serial_s']:>10.1f}"
            f"{row['serial_per_s']:>10.1f}{row['ray2_per_s']:>10.1f}{row['speedup']:>9.2f}{row['ceiling']:>9.2f}"
            f"{row['cold_over_warm']:>11.0f}{row['load_average']:>6.1f}"
        )
    for row in result["cold_warm"]:
        print(
            f"{row['dataset']}, all three tiers, {row['structures']} structures: cold {row['cold_s']:.2f} s, "
            f"warm {statistics.median(row['warm_s']):.3f} s ({row['warm_ms_per_structure']:.2f} ms/structure), "
            f"cold/warm {row['cold_over_warm']:.0f}× (target ≥ {WARM_TARGET:.0f}×, load {row['load_average']:.1f})"
        )
    for name, seconds in result["projected_cold_s"].items():
        target = PROJECTION_TARGETS_S[name]
        print(
            f"projected cold, all tiers, full {name} on 2 cores: {seconds / 60:.1f} min "
            f"(target ≤ {target / 60:.0f} min)"
        )
    print(f"peak RSS of the driver: {result['peak_rss_mib']:.0f} MiB; load average {result['load_average']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the measurements and return them."""
    args = argument_parser(__doc__, "about 5 s instead of 25 s per serial run of a slow tier").parse_args(argv)
    require_datasets()
    from tierbench.ray_connection import connect_ray

    mode = "quick" if args.quick else "full"
    datasets = _datasets(mode)
    load_before = load_average()
    pool = ProcessPoolExecutor(WORKERS, mp_context=get_context("fork"))
    list(pool.map(_spin, [1] * WORKERS))  # both processes start here, before Ray's threads exist
    os.environ.setdefault(WORKER_NICENESS_ENV, str(os.nice(0)))  # read by the local cluster Ray starts
    started = time.perf_counter()
    connect_ray(num_cpus=WORKERS)
    ray_start = time.perf_counter() - started
    with pool, tempfile.TemporaryDirectory(prefix="tierbench-perf-") as temporary:
        folder = Path(temporary)
        warm_up = _warm_up(datasets, folder)
        with profiled():
            rows = [
                _speedup(name, _measured(data, size), tier, folder, pool)
                for name, data in datasets.items()
                for tier, size in SPEEDUP_SIZES[mode][name].items()
            ]
            cold_warm = [
                _cold_warm(name, _measured(data, COLD_WARM_SIZES[mode][name]), folder)
                for name, data in datasets.items()
            ]
        warm_up["workers_after"] = _probe_workers()
    same_pids = [state["pid"] for state in warm_up["workers"]] == [state["pid"] for state in warm_up["workers_after"]]
    result = {
        "machine": machine(),
        "quick": args.quick,
        "load_average": [round(load_before, 2), round(load_average(), 2)],
        "ray_start_s": ray_start,
        "warm_up": warm_up,
        "workers_reused": warm_up["workers_warm"] and same_pids,
        "rows": rows,
        "cold_warm": cold_warm,
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
