"""Atom tier build time against the bare vesin neighbor-list call, for 20-, 50- and 200-atom cells.

Both are timed in the same process on the same structures, interleaved repeat by repeat so that load
from other processes hits both alike, in CPU seconds of this single-threaded process
(``time.process_time``: time spent waiting for a core on a loaded machine does not count). The anchor
is the call a hand-written graph builder starts from:
``vesin.NeighborList(cutoff, full_list=True).compute(positions, cell, True, "ijSdD")`` on arrays
extracted beforehand, with one thread (faster than vesin's default threading for cells this small).
The tier's time includes everything: reading the pymatgen structure, the search, ordering and the
PyG ``Data``. Target: tier ≤ 1.5 × anchor.

Two more references show where the time goes: ``vesin half`` is the half list the tier searches
internally, and ``minimal builder`` is the shortest graph builder from a pymatgen structure (atomic
numbers and positions read from the structure, the anchor call, an unsorted ``Data`` with the same
fields and no checks), so ``tier / minimal builder`` is the price of the tier's ordering and checks.

Structures: the first Materials Project cells of exactly 20, 50 and 200 sites of the shared
``mp_mtcgcnn`` set (``tierbench.load_dataset``), else SrTiO3 supercells of those sizes.

Run: ``.venv/bin/python benchmarks/perf/atom_tier.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import vesin
from common import (
    argument_parser,
    datasets_dir,
    load,
    load_average,
    measurement,
    profiled,
    seconds_per_call,
    spread,
    write_json,
)
from pymatgen.core import Lattice, Structure
from torch_geometric.data import Data

from tierbench_tiers.atom import AtomTier
from tierbench_tiers.elements import descriptor_table

SIZES = (20, 50, 200)
TARGET_RATIO = 1.5
CUTOFF = 5.0
PEROVSKITE_SUPERCELLS = {20: (2, 2, 1), 50: (5, 2, 1), 200: (5, 4, 2)}
CONTENDERS = ("tier", "vesin_full", "vesin_half", "minimal_builder")
LABELS = {"tier": "tier", "vesin_full": "vesin full", "vesin_half": "vesin half", "minimal_builder": "minimal builder"}


def _mp_structures(per_size: int) -> dict[int, list[tuple[str, Structure]]]:
    """The first ``per_size`` MP cells of each size, in file order."""
    dataset = load({"name": "mp_mtcgcnn", "filters": {"min_atoms": min(SIZES), "max_atoms": max(SIZES)}})
    sizes = dataset.table.site_counts()
    return {
        size: [(dataset.ids[int(row)], dataset.structure(int(row))) for row in np.flatnonzero(sizes == size)[:per_size]]
        for size in SIZES
    }


def _perovskite_structures() -> dict[int, list[tuple[str, Structure]]]:
    unit = Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    )
    return {
        size: [(f"SrTiO3 {'x'.join(map(str, scale))}", unit * scale)] for size, scale in PEROVSKITE_SUPERCELLS.items()
    }


def _minimal_builder(search: vesin.NeighborList) -> Callable[[Structure], Data]:
    table = descriptor_table()

    def build(structure: Structure) -> Data:
        numbers = np.array(structure.atomic_numbers)
        source, target, _, distance, vector = search.compute(
            structure.cart_coords, structure.lattice.matrix, True, "ijSdD"
        )
        return Data(
            x=torch.from_numpy(table[numbers]),
            node_type=torch.from_numpy(numbers),
            atom_index=torch.arange(len(numbers)),
            edge_index=torch.from_numpy(np.stack((source, target)).astype(np.int64)),
            edge_attr=torch.from_numpy(distance.astype(np.float32)[:, None]),
            edge_vec=torch.from_numpy(vector.astype(np.float32)),
        )

    return build


def _measure(structure: Structure, repeats: int, calls: int) -> dict[str, list[float]]:
    tier = AtomTier(cutoff=CUTOFF)
    positions, cell = structure.cart_coords, structure.lattice.matrix
    full = vesin.NeighborList(cutoff=CUTOFF, full_list=True, n_threads=1)
    half = vesin.NeighborList(cutoff=CUTOFF, full_list=False, n_threads=1)
    minimal = _minimal_builder(vesin.NeighborList(cutoff=CUTOFF, full_list=True, n_threads=1))
    contenders: dict[str, Callable[[], object]] = {
        "tier": lambda: tier.build(structure),
        "vesin_full": lambda: full.compute(positions, cell, True, "ijSdD"),
        "vesin_half": lambda: half.compute(positions, cell, True, "ijSdD"),
        "minimal_builder": lambda: minimal(structure),
    }
    for function in contenders.values():  # warm-up: imports, descriptor table, allocator
        function()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        names = list(contenders) if repeat % 2 == 0 else list(reversed(contenders))
        for name in names:
            times[name].append(seconds_per_call(contenders[name], calls, clock=time.process_time))
    return times


def _row(
    size: int, structures: list[tuple[str, Structure]], repeats: int, calls: int
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The summary row of one size, and every contender's seconds per call over all repeats."""
    pooled: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    paired_ratios: list[float] = []  # tier / anchor, timed back to back: robust to load from elsewhere
    ratios_of_minimums: list[float] = []
    builder_ratios: list[float] = []
    edges = 0
    for _, structure in structures:
        times = _measure(structure, repeats, calls)
        for name, seconds in times.items():
            pooled[name].extend(seconds)
        paired_ratios += [t / v for t, v in zip(times["tier"], times["vesin_full"], strict=True)]
        ratios_of_minimums.append(min(times["tier"]) / min(times["vesin_full"]))
        builder_ratios += [t / b for t, b in zip(times["tier"], times["minimal_builder"], strict=True)]
        edges += int(AtomTier(cutoff=CUTOFF).build(structure).edge_index.shape[1])
    row = {
        "atoms": size,
        "structures": [label for label, _ in structures],
        "mean_edges": edges / len(structures),
        **{f"{name}_ms": spread(seconds, 1e3) for name, seconds in pooled.items()},
        "ratio_vs_vesin_full": statistics.median(paired_ratios),
        "ratio_of_minimums_vs_vesin_full": statistics.median(ratios_of_minimums),
        "ratio_vs_minimal_builder": statistics.median(builder_ratios),
    }
    return row, pooled


def _print(rows: list[dict[str, Any]]) -> None:
    print(f"atom tier vs bare vesin, cutoff {CUTOFF} Å, CPU time per structure (ms: median [min–max])")
    print("ratio: median of back-to-back tier/vesin-full ratios; min: of the fastest repeats; builder: tier/minimal")
    header = "".join(f"{LABELS[name]:>22}" for name in CONTENDERS)
    print(f"{'atoms':>5} {'edges':>7}{header} {'ratio':>6} {'min':>5} {'builder':>8}")
    for row in rows:
        cells = "".join(
            f"{row[f'{name}_ms']['median']:.3f} [{row[f'{name}_ms']['min']:.3f}–{row[f'{name}_ms']['max']:.3f}]".rjust(
                22
            )
            for name in CONTENDERS
        )
        print(
            f"{row['atoms']:>5} {row['mean_edges']:>7.0f}{cells} {row['ratio_vs_vesin_full']:>6.2f} "
            f"{row['ratio_of_minimums_vs_vesin_full']:>5.2f} {row['ratio_vs_minimal_builder']:>8.2f}"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the tier and the bare vesin call; print a table; return (and optionally write) the result."""
    args = argument_parser(__doc__, "one structure per size, fewer repeats").parse_args(argv)

    per_size, repeats, calls = (1, 9, 10) if args.quick else (3, 21, 30)
    from_mp = datasets_dir() is not None
    structures = _mp_structures(per_size) if from_mp else _perovskite_structures()
    load_before = load_average()
    with profiled():
        rows, pooled = zip(*(_row(size, structures[size], repeats, calls) for size in SIZES), strict=True)
    _print(list(rows))
    measurements = [
        measurement(
            f"atom tier, {row['atoms']}-atom cells ({len(row['structures'])} × {repeats} repeats)",
            unit="ms",
            tierbench=[value * 1e3 for value in seconds["tier"]],
            anchor=[value * 1e3 for value in seconds["vesin_full"]],
            anchor_name="bare vesin full list",
            ratio=row["ratio_vs_vesin_full"],
            ratio_meaning="median of back-to-back tier / vesin ratios",
            target=("ratio", "<=", TARGET_RATIO),
            note=f"{row['mean_edges']:.0f} edges; tier / minimal builder {row['ratio_vs_minimal_builder']:.2f}",
        )
        for row, seconds in zip(rows, pooled, strict=True)
    ]
    result = {
        "benchmark": "atom_tier",
        "cutoff_angstrom": CUTOFF,
        "structures_from": "mp_mtcgcnn" if from_mp else "SrTiO3 supercells",
        "clock": "process CPU time",
        "repeats": repeats,
        "calls_per_repeat": calls,
        "load_average_1min": [load_before, load_average()],
        "target_ratio": TARGET_RATIO,
        "rows": list(rows),
        "measurements": measurements,
        "meets_target": all(row["ratio_vs_vesin_full"] <= TARGET_RATIO for row in rows),
    }
    print(f"target ratio ≤ {TARGET_RATIO}: {'met' if result['meets_target'] else 'MISSED'}")
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
