"""Ray's cost per trial: plain ``run_trial`` against the same trial scheduled on Ray, on the same data.

The anchor is :func:`tierbench.trial.run.run_trial` in this process (one torch thread). The same trial then
runs through :func:`tierbench.cluster.scheduler.run_trials`:

* as single-worker Ray tasks, one at a time (``max_concurrent_trials=1``): the first lands in a fresh
  worker process (cold: Python, torch and Lightning imports), the others reuse it (warm);
* unless ``--quick``, on Ray Train (``TorchTrainer``, DDP on CPU) with 2 workers and with 1 worker
  (launched directly: :func:`~tierbench.cluster.scheduler.run_trials` runs a single CPU worker as a task, and
  this row shows what Ray Train would cost instead).

Per trial: the driver's wall time from submission to result, the trial's own time inside the worker
(``timings["total"]``), Ray's share (wall − in worker) and the difference to the anchor's median wall.
Warm tasks and anchor runs alternate, so that load from other processes hits both alike. The Ray Train trials also give
the test MAE of a 2-worker DDP fit against the 1-process fit of the same config (each worker steps
with ``batch_size`` samples, so DDP takes half as many, twice as large steps per epoch). Ray's own start
(``ray.init`` of a local 2-CPU cluster, or joining ``--address``) is reported apart. Data: embedded QM9
molecules, atom tier, HOMO-LUMO gap (eV).

Run: ``.venv/bin/python benchmarks/perf/ray_overhead.py [--quick] [--json PATH] [--address HOST:PORT]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import argument_parser, measurement, profiled, write_json

QUICK = {"size": 60, "epochs": 3, "repeats": 3, "ray_train_workers": ()}
FULL = {"size": 300, "epochs": 10, "repeats": 5, "ray_train_workers": (1, 2)}


def _parser() -> argparse.ArgumentParser:
    parser = argument_parser(__doc__, "60 molecules, 3 epochs, 3 repeats, no Ray Train")
    parser.add_argument("--address", help="Ray cluster to join (default: a local 2-CPU cluster)")
    return parser


def _config(size: int, epochs: int, folder: Path) -> Any:
    from tierbench.config.trial import TrialConfig

    return TrialConfig.model_validate(
        {
            "dataset": {"name": "qm9", "size": size, "targets": ["gap"], "seed": 0},
            "target": "gap",
            "tiers": ["atom"],
            "trainer": {"max_epochs": epochs, "batch_size": 16, "early_stopping_patience": None},
            "model": {"hidden_dim": 16},
            "cache": str(folder / "cache"),
        }
    )


def _paired(config: Any, dataset: Any, repeats: int, folder: Path) -> dict[str, Any]:
    """Plain ``run_trial`` and a warm single-worker Ray task, alternated so that noise hits both alike."""
    from tierbench.config.suite import Resources
    from tierbench.trial.run import run_trial

    run_trial(config, dataset=dataset)  # fills the graph cache; not timed
    [cold] = _scheduled(config, dataset, Resources(), ["cold"], folder)
    local, tasks = [], []
    for index in range(repeats):
        started = time.perf_counter()
        anchor = run_trial(config, dataset=dataset)
        local.append(time.perf_counter() - started)
        tasks.extend(_scheduled(config, dataset, Resources(), [f"warm{index}"], folder))
    walls = [result.wall_seconds for result in tasks]
    return {
        "local": {"walls": local, "median_wall": statistics.median(local), "test_mae": anchor.metrics["test_mae"]},
        "ray_task": {
            "cold_wall": cold.wall_seconds,
            "cold_in_worker": cold.timings["total"],
            "warm_walls": walls,
            "warm_in_worker": [result.timings["total"] for result in tasks],
            "median_wall": statistics.median(walls),
            "median_ray_seconds": statistics.median(r.wall_seconds - r.timings["total"] for r in tasks),
            "overhead_vs_local": statistics.median(walls) - statistics.median(local),
            "test_mae": tasks[-1].metrics["test_mae"],
        },
    }


def _scheduled(config: Any, dataset: Any, resources: Any, names: list[str], folder: Path) -> list[Any]:
    from tierbench.cluster.jobs import TrialJob
    from tierbench.cluster.scheduler import run_trials

    results: list[Any] = []
    jobs = [TrialJob(name, config, str(folder / "runs")) for name in names]
    run_trials(jobs, resources, dataset=dataset, on_result=lambda job, result: results.append(result))
    failed = [result.failure_message for result in results if result.status != "ok"]
    if failed:
        raise RuntimeError(f"trials failed: {failed}")
    return results


def _ray_train(config: Any, dataset: Any, workers: int, anchor: float, folder: Path) -> dict[str, Any]:
    import ray

    from tierbench.cluster.jobs import TrialJob
    from tierbench.cluster.ray_train import run_ddp_trial
    from tierbench.config.suite import Resources

    resources = Resources(workers_per_trial=workers, max_failures=0)
    storage = folder / f"ray_train_{workers}"
    if workers > 1:
        [result] = _scheduled(config, dataset, resources, [f"ddp{workers}"], storage)
    else:
        # run_trials gives a single CPU worker a plain task; launch Ray Train directly to see what it would cost
        started = time.perf_counter()
        job = TrialJob("ray_train_1", config, str(storage))
        result = ray.get(ray.remote(run_ddp_trial).options(num_cpus=0).remote(job, resources, [ray.put(dataset)]))
        result.wall_seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "wall": result.wall_seconds,
        "in_worker": result.timings["total"],
        "ray_seconds": result.wall_seconds - result.timings["total"],
        "overhead_vs_local": result.wall_seconds - anchor,
        "test_mae": result.metrics["test_mae"],
        "epochs": result.epochs,
    }


def _row(label: str, seconds: tuple[float | None, ...], mae: float) -> str:
    """A table row: wall, in-worker, Ray and versus-anchor seconds (blank where ``None``), then the MAE."""
    cells = [f"{value:>12.3f}" if value is not None else f"{'':>12}" for value in seconds]
    return f"{label:<26}{''.join(cells)}{mae:>13.4f}"


def _measurements(result: dict[str, Any]) -> list[dict[str, Any]]:
    local, tasks = result["local"], result["ray_task"]
    anchor = "plain run_trial in this process"
    rows = [
        measurement(
            "trial on Ray, first task in a cold worker",
            unit="s",
            tierbench=tasks["cold_wall"],
            anchor=local["walls"],
            anchor_name=anchor,
            note=f"{tasks['cold_wall'] - tasks['cold_in_worker']:.1f} s outside the trial",
        ),
        measurement(
            "trial on Ray, warm worker",
            unit="s",
            tierbench=tasks["warm_walls"],
            anchor=local["walls"],
            anchor_name=anchor,
            note=f"Ray's share {tasks['median_ray_seconds']:.2f} s per trial",
        ),
    ]
    rows.extend(
        measurement(
            f"trial on Ray Train, {run['workers']} DDP worker(s)",
            unit="s",
            tierbench=run["wall"],
            anchor=local["walls"],
            anchor_name=anchor,
            note=f"test MAE {run['test_mae']:.3f} eV vs {local['test_mae']:.3f} eV in one process",
        )
        for run in result["ray_train"]
    )
    rows.append(measurement("Ray start (once per suite)", unit="s", tierbench=result["ray_start_seconds"]))
    return rows


def _print_table(result: dict[str, Any]) -> None:
    local, tasks = result["local"], result["ray_task"]
    config = result["config"]
    print(f"\nRay overhead per trial ({config['size']} QM9 molecules, {config['epochs']} epochs, atom tier)")
    print(f"{'path':<26}{'wall s':>12}{'in worker s':>12}{'Ray s':>12}{'vs anchor s':>12}{'test MAE eV':>13}")
    print(_row("run_trial (anchor)", (local["median_wall"], None), local["test_mae"]))
    cold = (tasks["cold_wall"], tasks["cold_in_worker"], tasks["cold_wall"] - tasks["cold_in_worker"])
    print(_row("Ray task, cold worker", (*cold, tasks["cold_wall"] - local["median_wall"]), tasks["test_mae"]))
    warm_in_worker = statistics.median(tasks["warm_in_worker"])
    warm = (tasks["median_wall"], warm_in_worker, tasks["median_ray_seconds"], tasks["overhead_vs_local"])
    print(_row("Ray task, warm (median)", warm, tasks["test_mae"]))
    for run in result["ray_train"]:
        label = f"Ray Train, {run['workers']} worker{'s' if run['workers'] > 1 else ''}"
        seconds = (run["wall"], run["in_worker"], run["ray_seconds"], run["overhead_vs_local"])
        print(_row(label, seconds, run["test_mae"]))
    print(f"Ray start (once, not per trial): {result['ray_start_seconds']:.1f} s")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the table, and return (and optionally write) the results."""
    args = _parser().parse_args(argv)
    settings = QUICK if args.quick else FULL
    torch.set_flush_denormal(True)
    torch.set_num_threads(1)
    import tierbench
    from tierbench.ray_connection import connect_ray

    with tempfile.TemporaryDirectory(prefix="tierbench-ray-overhead-") as temporary:
        folder = Path(temporary)
        config = _config(settings["size"], settings["epochs"], folder)
        dataset = tierbench.load_dataset(config.dataset)
        started = time.perf_counter()
        connect_ray(args.address, num_cpus=2)
        ray_start = time.perf_counter() - started
        with profiled():
            paired = _paired(config, dataset, settings["repeats"], folder)
            anchor = paired["local"]["median_wall"]
            ray_train = [_ray_train(config, dataset, n, anchor, folder) for n in settings["ray_train_workers"]]
        result: dict[str, Any] = {
            "config": {key: settings[key] for key in ("size", "epochs", "repeats")} | {"quick": args.quick},
            **paired,
            "ray_start_seconds": ray_start,
            "ray_train": ray_train,
        }
    result["measurements"] = _measurements(result)
    _print_table(result)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
