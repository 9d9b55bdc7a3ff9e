"""Run every performance benchmark in its own fresh process and write ``REPORT.md`` (+ ``REPORT.json``).

Each benchmark (``dry_run``, ``atom_tier``, ``motif_tier``, ``orbital_tier``, ``featurize``, ``train_throughput``,
``ray_overhead``) runs as ``python benchmarks/perf/<name>.py [--quick] --json FILE`` in a new process,
so denormal flushing, thread settings and Ray sessions never leak from one into the next. A benchmark
that is missing, fails or times out is listed as such in the report; the others still run. Where a
target is missed, the benchmark is rerun under cProfile and the report shows where its time goes
(in quick mode only while the 5-minute budget allows).

``make bench`` wall time (default suite): in full mode, ``tierbench bench`` runs twice in a temporary
folder with its own graph cache and MLflow store, cold and then warm (the rerun finds every trial
done); ``--bench-times COLD_S,WARM_S`` reports figures measured elsewhere instead.

Times on the 2-core development machine: quick mode about 5 minutes; full mode about 25 minutes, plus
``make bench`` (about 4 min cold and 3½ min warm) when it is timed here.

Run: ``.venv/bin/python benchmarks/perf/run_all.py [--quick] [--only NAME,…] [--bench-times COLD_S,WARM_S]
[--skip-bench] [--no-profile] [--output DIR]`` (``make perf``, ``make perf QUICK=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import PROFILE_ENV, REPO_ROOT, load_average, machine, write_json
from render_report import measurements_of, missed, profile_summary, render

PERF_DIR = Path(__file__).resolve().parent
BENCHMARKS = ("dry_run", "atom_tier", "motif_tier", "orbital_tier", "featurize", "train_throughput", "ray_overhead")
QUICK_BUDGET_S = 300.0
TIMEOUT_S = {"quick": 600, "full": 4 * 3600}
PROFILE_ARGS = {"train_throughput": ["--quick", "--no-combinations"]}
"""Arguments of the profiled rerun (default ``--quick``): enough work to show where the time goes."""
FULL_MODE_TIME = "19.9 min on 2026-11-27 without `make bench`, plus about 5 min since the featurization benchmark grew"
"""Wall time of the last full-mode run on the 2-core development machine (quick reports quote it)."""
DEFAULT_SUITE = REPO_ROOT / "benchmarks" / "suites" / "default.yaml"
LOG_TAIL_LINES = 25


def _run(
    command: list[str], log: Path, timeout: float, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None
) -> str:
    """Run a command in a new session, output to ``log``; its status: ``ok``, ``failed (exit N)`` or ``timed out``."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            return f"timed out after {timeout:.0f} s"
    return "ok" if code == 0 else f"failed (exit {code})"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a timed-out run and everything it started (its session: Ray's processes included)."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sent)
            process.wait(10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(no output)"


def run_benchmark(name: str, quick: bool, folder: Path) -> dict[str, Any]:
    """Run one benchmark in a fresh process; its status, wall time, result and measurements."""
    script = PERF_DIR / f"{name}.py"
    if not script.is_file():
        return {"status": f"missing ({script.relative_to(REPO_ROOT)} not found)", "seconds": 0.0, "log_tail": ""}
    output, log = folder / f"{name}.json", folder / f"{name}.log"
    command = [sys.executable, str(script), *(["--quick"] if quick else []), "--json", str(output)]
    started = time.perf_counter()
    status = _run(command, log, TIMEOUT_S["quick" if quick else "full"])
    run: dict[str, Any] = {"status": status, "seconds": time.perf_counter() - started, "log_tail": _tail(log)}
    if status == "ok" and not output.is_file():
        run["status"] = "failed (no result file)"
    elif status == "ok":
        run["result"] = json.loads(output.read_text())
        try:
            run["measurements"] = measurements_of(name, run["result"])
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:  # a result in another layout
            run["status"] = f"ran, but its result could not be read ({type(error).__name__}: {error})"
        else:
            if not run["measurements"]:
                run["status"] = "ran, but its result holds no measurements"
    return run


def profile_benchmark(name: str, folder: Path, timeout: float) -> dict[str, str]:
    """Rerun a benchmark under cProfile; the summary of where its time goes, or why there is none."""
    dump, log = folder / f"{name}.prof", folder / f"{name}.profile.log"
    arguments = [*PROFILE_ARGS.get(name, ["--quick"]), "--json", str(folder / f"{name}.profiled.json")]
    script = str(PERF_DIR / f"{name}.py")
    env = {**os.environ, PROFILE_ENV: str(dump)}
    status = _run([sys.executable, script, *arguments], log, timeout, env=env)
    if status != "ok" or not dump.is_file():
        return {"profile_error": f"profiled rerun {status}: {_tail(log)}"}
    scope = "measured part, without data loading"
    return {"profile": f"{name}.py {' '.join(arguments[:-2])} ({scope})\n\n{profile_summary(dump)}"}


def time_default_suite(folder: Path) -> dict[str, Any]:
    """Wall time of ``tierbench bench`` on the default suite: cold (empty cache and store), then warm."""
    workdir = folder / "make_bench"
    workdir.mkdir()
    env = {
        **os.environ,
        "TIERBENCH_CACHE": str(workdir / "cache"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
    }
    command = [str(Path(sys.executable).with_name("tierbench")), "bench", str(DEFAULT_SUITE), "--quiet"]
    seconds = {}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        status = _run(command, folder / f"make_bench_{label}.log", TIMEOUT_S["full"], cwd=workdir, env=env)
        if status != "ok":
            return {"error": f"{label} run {status}: {_tail(folder / f'make_bench_{label}.log')}"}
        seconds[f"{label}_s"] = time.perf_counter() - started
    return {**seconds, "source": "this run"}


def _bench_times(text: str) -> dict[str, Any]:
    cold, _, warm = text.partition(",")
    try:
        return {"cold_s": float(cold), "warm_s": float(warm), "source": "measured separately"}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected COLD_S,WARM_S in seconds, got {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick mode (≤ 5 minutes in all)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--bench-times", type=_bench_times, help="`make bench` cold and warm seconds measured elsewhere"
    )
    parser.add_argument("--skip-bench", action="store_true", help="full mode without timing `make bench`")
    parser.add_argument("--no-profile", action="store_true", help="no profiled rerun where a target is missed")
    parser.add_argument("--output", type=Path, default=PERF_DIR, help="folder for REPORT.md and REPORT.json")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmarks, write the report, return it."""
    args = _parser().parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    started, load_before = time.perf_counter(), load_average()
    report: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "full_mode_time": FULL_MODE_TIME,
        "machine": machine(),
        "benchmarks": {},
    }
    with tempfile.TemporaryDirectory(prefix="tierbench-perf-") as temporary:
        folder = Path(temporary)
        for name in names:
            print(f"{name}: running{' (quick)' if args.quick else ''} …", flush=True)
            run = report["benchmarks"][name] = run_benchmark(name, args.quick, folder)
            print(f"{name}: {run['status']} in {run['seconds']:.0f} s", flush=True)
            if run["status"] != "ok":
                print(run["log_tail"], file=sys.stderr)
        for name, run in report["benchmarks"].items():
            if args.no_profile or not missed(run.get("measurements", [])):
                continue
            elapsed = time.perf_counter() - started
            if args.quick and elapsed + run["seconds"] > QUICK_BUDGET_S:
                run["profile_error"] = f"skipped to keep quick mode within {QUICK_BUDGET_S / 60:.0f} min"
                continue
            print(f"{name}: missed a target, profiling a rerun …", flush=True)
            run.update(profile_benchmark(name, folder, TIMEOUT_S["quick" if args.quick else "full"]))
        if args.bench_times:
            report["make_bench"] = args.bench_times
        elif not (args.quick or args.only or args.skip_bench):
            print("make bench: default suite, cold then warm …", flush=True)
            report["make_bench"] = time_default_suite(folder)
    report["wall_seconds"] = time.perf_counter() - started
    report["load_average"] = [load_before, load_average()]
    if "error" in report.get("make_bench", {}):
        report["make_bench_error"] = report.pop("make_bench")["error"]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "REPORT.md").write_text(render(report))
    write_json(args.output / "REPORT.json", report)
    print(f"wrote {args.output / 'REPORT.md'} in {report['wall_seconds'] / 60:.1f} min")
    return report


if __name__ == "__main__":
    main()
