"""REPORT.md of ``run_all.py``: targets first, then every other measurement, missed targets with profiles.

Each benchmark's result carries ``measurements``: the rows built by :func:`common.measurement`.

Run on its own, it renders a ``REPORT.json`` again (e.g. after a benchmark's result in it was replaced),
reading each benchmark's rows from its result where it holds them: ``.venv/bin/python benchmarks/perf/render_report.py
REPORT.json [--output REPORT.md]`` (default: print).
"""

from __future__ import annotations

import argparse
import json
import pstats
from io import StringIO
from pathlib import Path
from typing import Any

PROFILE_ENTRIES = 15
OWN_CODE = ("/platform/tierbench/", "/tiers/tierbench_tiers/")


def measurements_of(name: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The report rows of one benchmark's result (none when it holds no ``measurements``).

    Args:
        name: The benchmark, e.g. ``"motif_tier"`` (named in the error).
        result: What the benchmark wrote with ``--json``.

    Raises:
        TypeError: ``measurements`` is not a list.
    """
    rows = result.get("measurements", [])
    if not isinstance(rows, list):
        raise TypeError(f"{name}: 'measurements' is a {type(rows).__name__}, not a list")
    return list(rows)


def missed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose target is not met."""
    return [row for row in rows if "target" in row and not row["target"]["met"]]


def profile_summary(path: Path) -> str:
    """Top functions of a cProfile dump by own time, then tierbench's own functions by cumulative time."""
    stats = pstats.Stats(str(path))
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values()) or 1.0

    def lines(keys: list[Any]) -> list[str]:
        found = []
        for key in keys:
            filename, line, function = key
            calls, _, own, cumulative, _ = entries[key]
            where = f"{_short(filename)}:{line}({function})" if line else function
            found.append(f"{own:8.3f} {cumulative:9.3f} {own / total:6.1%} {calls:>9}  {where}")
        return found

    by_own = sorted(entries, key=lambda key: -entries[key][2])[:PROFILE_ENTRIES]
    own_code = [key for key in entries if any(part in key[0] for part in OWN_CODE)]
    by_cumulative = sorted(own_code, key=lambda key: -entries[key][3])[:PROFILE_ENTRIES]
    header = f"{'own s':>8} {'cumul. s':>9} {'share':>6} {'calls':>9}  function"
    out = StringIO()
    out.write(f"top {PROFILE_ENTRIES} by own time ({total:.1f} s profiled)\n{header}\n")
    out.write("\n".join(lines(by_own)))
    out.write(f"\n\ntierbench's own functions by cumulative time\n{header}\n")
    out.write("\n".join(lines(by_cumulative)) or "(none)")
    return out.getvalue()


def _short(filename: str) -> str:
    for marker in ("site-packages/", *OWN_CODE, "benchmarks/"):
        if marker in filename:
            return marker.strip("/").split("/")[-1] + "/" + filename.split(marker, 1)[1]
    return Path(filename).name


def _figure(figures: dict[str, float], unit: str) -> str:
    text = f"{_number(figures['median'])} {unit}"
    if figures["repeats"] > 1:
        text += f" [{_number(figures['min'])}–{_number(figures['max'])}, n={figures['repeats']}]"
    return text


def _number(value: float) -> str:
    if value == 0 or 0.01 <= abs(value) < 1e5:
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:.2e}"


def _status(row: dict[str, Any]) -> str:
    if "target" not in row:
        return ""
    return "met" if row["target"]["met"] else "**MISSED**"


def table(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Markdown table of ``(benchmark, row)`` pairs."""
    lines = [
        "| benchmark | measurement | tierbench: median [min–max] | anchor (same run, same inputs) | ratio | target | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for benchmark, row in rows:
        anchor = f"{row['anchor_name']}: {_figure(row['anchor'], row['unit'])}" if "anchor" in row else "—"
        ratio = f"{row['ratio']:.3g} ({row['ratio_meaning']})" if "ratio" in row else "—"
        name = row["name"] + (f" — {row['note']}" if row.get("note") else "")
        lines.append(
            f"| {benchmark} | {name} | {_figure(row['tierbench'], row['unit'])} | {anchor} | {ratio} | "
            f"{row.get('target_text', '—')} | {_status(row)} |"
        )
    return lines


def render(report: dict[str, Any]) -> str:
    """The whole REPORT.md."""
    runs = report["benchmarks"]
    rows = [(name, row) for name, run in runs.items() for row in run.get("measurements", [])]
    targeted = [(name, row) for name, row in rows if "target" in row]
    others = [(name, row) for name, row in rows if "target" not in row]
    met = sum(row["target"]["met"] for _, row in targeted)
    failed = [name for name, run in runs.items() if run["status"] != "ok"]
    machine = report["machine"]
    mode = (
        f"quick mode, in {report['wall_seconds'] / 60:.1f} min (full mode: {report['full_mode_time']})"
        if report["quick"]
        else f"full mode, in {report['wall_seconds'] / 60:.1f} min"
    )
    lines = [
        "# tierbench performance report",
        "",
        f"Written by `benchmarks/perf/run_all.py{' --quick' if report['quick'] else ''}` on {report['date']}, {mode}.",
        f"Machine: {machine['cpus']} CPUs ({machine['processor']}), GPU: {machine.get('gpu', 'none')}; "
        f"load average {report['load_average'][0]:.1f} before, {report['load_average'][1]:.1f} after.",
        "Each benchmark ran in its own fresh process; every ratio compares tierbench with its anchor measured in "
        "the same run on the same inputs. Times are per structure unless the row says otherwise.",
        "",
        f"**Targets: {met} of {len(targeted)} met.**"
        + (f" Not counted: the targets of {', '.join(failed)} (see the end)." if failed else ""),
        "",
        "## Targets",
        "",
        *table(targeted),
        "",
        "## Other measurements",
        "",
        *table(others),
        "",
        "## Benchmarks run",
        "",
        "| benchmark | status | wall time |",
        "| --- | --- | --- |",
        *(f"| {name} | {run['status']} | {run['seconds']:.0f} s |" for name, run in runs.items()),
        *_bench_rows(report),
        "",
    ]
    lines += _missed_sections(runs)
    lines += _not_measured(report)
    return "\n".join(lines) + "\n"


def _bench_rows(report: dict[str, Any]) -> list[str]:
    bench = report.get("make_bench")
    if not bench:
        return []
    return [
        f"| `make bench` default suite, cold ({bench['source']}) | measured | {bench['cold_s'] / 60:.1f} min |",
        f"| `make bench` default suite, warm rerun ({bench['source']}) | measured | {bench['warm_s']:.0f} s |",
    ]


def _achieved(row: dict[str, Any]) -> str:
    if row["target"]["of"] == "ratio":
        return f"{row['ratio']:.3g}×"
    return f"{_number(row['tierbench']['median'])} {row['unit']}"


def _missed_sections(runs: dict[str, Any]) -> list[str]:
    lines = []
    for name, run in runs.items():
        rows = missed(run.get("measurements", []))
        if not rows:
            continue
        lines += [f"## Missed: {name}", ""]
        lines += [f"- {row['name']}: {_achieved(row)}, target {row['target_text']}" for row in rows]
        lines += ["", "Where the time goes (cProfile of a rerun):", "", "```text"]
        lines += [run.get("profile") or f"no profile: {run.get('profile_error', 'not taken')}", "```", ""]
    return lines


def _not_measured(report: dict[str, Any]) -> list[str]:
    lines = ["## Not measured or failed", ""]
    for name, run in report["benchmarks"].items():
        if run["status"] == "ok":
            continue
        lines.append(f"- **{name}: {run['status']}.**" + (" Last lines of its output:" if run["log_tail"] else ""))
        if run["log_tail"]:
            lines += ["", "```text", run["log_tail"], "```"]
    if report.get("make_bench_error"):
        lines += ["- **`make bench` default suite failed:**", "", "```text", report["make_bench_error"], "```"]
    elif not report.get("make_bench"):
        lines.append(
            "- `make bench` default suite, cold and warm: measured in full mode only (about 10–15 min cold on "
            "2 cores), or passed in with `--bench-times COLD_S,WARM_S`."
        )
    if "gpu" not in report["machine"]:
        lines.append("- GPU training throughput: this machine has no GPU.")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> str:
    """Render a ``REPORT.json`` of ``run_all.py``; print the Markdown or write it to ``--output``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="REPORT.json written by run_all.py")
    parser.add_argument("--output", type=Path, help="write the Markdown here (default: print it)")
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    for name, run in report["benchmarks"].items():
        if "measurements" in run.get("result", {}):
            run["measurements"] = measurements_of(name, run["result"])
    markdown = render(report)
    if args.output is None:
        print(markdown, end="")
    else:
        args.output.write_text(markdown)
    return markdown


if __name__ == "__main__":
    main()
