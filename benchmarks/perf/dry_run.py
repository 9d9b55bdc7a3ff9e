"""Planning cost: ``tierbench bench SUITE --dry-run`` for every shipped suite, each in a fresh process.

A dry run reads and validates the suite, plans its trials (loading each tier class for its version) and
looks up finished trials in the MLflow store; it imports neither torch, Lightning nor Ray. Where the
store does not exist yet (a fresh checkout) nothing can be done and MLflow is not imported; with an
existing store, importing MLflow alone costs about 2 s on 2 cores, which the last rows show. Figures are
wall times of the whole command, interpreter start included, as a user sees them; the anchor is the
interpreter alone (``python -c pass``) measured back to back in the same run.

Run: ``.venv/bin/python benchmarks/perf/dry_run.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO_ROOT, argument_parser, measurement, write_json

SUITES = REPO_ROOT / "benchmarks" / "suites"
TIERBENCH = Path(sys.executable).parent / "tierbench"
TARGET_SECONDS = 2.0
REPEATS = {"quick": 2, "full": 5}


def _seconds(command: list[str], folder: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=folder, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def _row(name: str, command: list[str], folder: Path, repeats: int, *, target: bool, note: str) -> dict[str, Any]:
    timings, interpreter = [], []
    for _ in range(repeats):
        timings.append(_seconds(command, folder))
        interpreter.append(_seconds([sys.executable, "-c", "pass"], folder))
    print(f"{name:<48} {statistics.median(timings):6.2f} s (python alone {min(interpreter):.2f} s)")
    return measurement(
        name,
        unit="s",
        tierbench=timings,
        anchor=interpreter,
        anchor_name="python -c pass",
        target=("tierbench", "<=", TARGET_SECONDS) if target else None,
        note=note,
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the dry run of every suite and return (and optionally write) the results."""
    args = argument_parser(__doc__, "2 repeats per suite instead of 5").parse_args(argv)
    repeats = REPEATS["quick" if args.quick else "full"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tierbench-dry-run-") as temporary:
        folder = Path(temporary)
        for suite in sorted(SUITES.glob("*.yaml")):
            command = [str(TIERBENCH), "bench", str(suite), "--dry-run"]
            note = "fresh checkout (no MLflow store): interpreter, imports, suite validation, planning"
            rows.append(_row(f"dry run of {suite.name}", command, folder, repeats, target=True, note=note))
        create_store = "from tierbench.tracking.store import Tracker; Tracker('dry-run')"
        subprocess.run([sys.executable, "-c", create_store], cwd=folder, check=True, capture_output=True)
        default = [str(TIERBENCH), "bench", str(SUITES / "default.yaml"), "--dry-run"]
        note = "an existing sqlite store: MLflow is imported to look up finished trials"
        rows.append(_row("dry run of default.yaml, existing store", default, folder, repeats, target=False, note=note))
        note = "the part of the row above that MLflow's own import costs"
        rows.append(
            _row("import mlflow", [sys.executable, "-c", "import mlflow"], folder, repeats, target=False, note=note)
        )
    result = {"config": {"repeats": repeats, "quick": args.quick}, "measurements": rows}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
