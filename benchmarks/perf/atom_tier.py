"""Atom tier build time against the bare vesin neighbor-list call, for 20-, 50- and 200-atom cells.

Both are timed in the same process on the same structures, interleaved repeat by repeat so that load
from other processes hits both alike. The anchor is the call a hand-written graph builder starts from:
``vesin.NeighborList(cutoff, full_list=True).compute(positions, cell, True, "ijSdD")`` on arrays
extracted beforehand, with one thread (faster than vesin's default threading for cells this small).
The tier's time includes everything: reading the pymatgen structure, the search, ordering and the
PyG ``Data``. Target: tier ≤ 1.5 × anchor.

Two more references show where the time goes: ``vesin half`` is the half list the tier searches
internally, and ``minimal builder`` is the shortest graph builder from a pymatgen structure (atomic
numbers and positions read from the structure, the anchor call, an unsorted ``Data`` with the same
fields and no checks), so ``tier / minimal builder`` is the price of the tier's ordering and checks.

Structures: Materials Project cells of exactly 20, 50 and 200 sites from the shared ``mp_mtcgcnn``
set (``$TIERBENCH_DATASETS`` or ``../shared/datasets``), else SrTiO3 supercells of those sizes.

Run: ``.venv/bin/python benchmarks/perf/atom_tier.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import vesin
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


def _datasets_dir() -> Path | None:
    configured = os.environ.get("TIERBENCH_DATASETS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "datasets"
    return root if (root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz").is_file() else None


def _mp_structures(root: Path, per_size: int) -> dict[int, list[tuple[str, Structure]]]:
    """The first ``per_size`` MP cells of each size in file order."""
    found: dict[int, list[tuple[str, Structure]]] = {size: [] for size in SIZES}
    with gzip.open(root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            cell = record["structure"]
            size = len(cell["species"])
            if size in found and len(found[size]) < per_size:
                structure = Structure(cell["lattice"], cell["species"], cell["frac_coords"])
                found[size].append((f"{record['mp_id']} {record['formula']}", structure))
            if all(len(cells) == per_size for cells in found.values()):
                break
    return found


def _perovskite_structures() -> dict[int, list[tuple[str, Structure]]]:
    unit = Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    )
    return {
        size: [(f"SrTiO3 {'x'.join(map(str, scale))}", unit * scale)] for size, scale in PEROVSKITE_SUPERCELLS.items()
    }


def _per_call_seconds(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def _summary(seconds: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(seconds) * 1e3,
        "min_ms": min(seconds) * 1e3,
        "max_ms": max(seconds) * 1e3,
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
            times[name].append(_per_call_seconds(contenders[name], calls))
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the tier and the bare vesin call; print a table; return (and optionally write) the result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one structure per size, fewer repeats")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)

    per_size, repeats, calls = (1, 7, 10) if args.quick else (3, 21, 30)
    root = _datasets_dir()
    structures = _mp_structures(root, per_size) if root else _perovskite_structures()
    load_before = os.getloadavg()[0]
    rows = []
    for size in SIZES:
        pooled: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        paired_ratios: list[float] = []  # tier / anchor, timed back to back: robust to load from elsewhere
        ratios_of_minimums: list[float] = []
        builder_ratios: list[float] = []
        edges = 0
        for _, structure in structures[size]:
            times = _measure(structure, repeats, calls)
            for name, seconds in times.items():
                pooled[name].extend(seconds)
            paired_ratios += [t / v for t, v in zip(times["tier"], times["vesin_full"], strict=True)]
            ratios_of_minimums.append(min(times["tier"]) / min(times["vesin_full"]))
            builder_ratios += [t / b for t, b in zip(times["tier"], times["minimal_builder"], strict=True)]
            edges += int(AtomTier(cutoff=CUTOFF).build(structure).edge_index.shape[1])
        rows.append(
            {
                "atoms": size,
                "structures": [label for label, _ in structures[size]],
                "mean_edges": edges / len(structures[size]),
                **{name: _summary(seconds) for name, seconds in pooled.items()},
                "ratio_vs_vesin_full": statistics.median(paired_ratios),
                "ratio_of_minimums_vs_vesin_full": statistics.median(ratios_of_minimums),
                "ratio_vs_minimal_builder": statistics.median(builder_ratios),
            }
        )

    print(f"atom tier vs bare vesin, cutoff {CUTOFF} Å, per structure (ms: median [min–max])")
    print("ratio: median of back-to-back tier/vesin-full ratios; min: of the fastest repeats; builder: tier/minimal")
    header = "".join(f"{LABELS[name]:>22}" for name in CONTENDERS)
    print(f"{'atoms':>5} {'edges':>7}{header} {'ratio':>6} {'min':>5} {'builder':>8}")
    for row in rows:
        cells = "".join(
            f"{row[name]['median_ms']:.3f} [{row[name]['min_ms']:.3f}–{row[name]['max_ms']:.3f}]".rjust(22)
            for name in CONTENDERS
        )
        print(
            f"{row['atoms']:>5} {row['mean_edges']:>7.0f}{cells} {row['ratio_vs_vesin_full']:>6.2f} "
            f"{row['ratio_of_minimums_vs_vesin_full']:>5.2f} {row['ratio_vs_minimal_builder']:>8.2f}"
        )
    result = {
        "benchmark": "atom_tier",
        "cutoff_angstrom": CUTOFF,
        "structures_from": "mp_mtcgcnn" if root else "SrTiO3 supercells",
        "repeats": repeats,
        "calls_per_repeat": calls,
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "target_ratio": TARGET_RATIO,
        "rows": rows,
        "meets_target": all(row["ratio_vs_vesin_full"] <= TARGET_RATIO for row in rows),
    }
    print(f"target ratio ≤ {TARGET_RATIO}: {'met' if result['meets_target'] else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
