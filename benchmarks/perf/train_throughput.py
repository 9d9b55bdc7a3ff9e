"""Training throughput: the fusion model on the atom tier against PyG's SchNet, and per tier combination.

Both models train (forward, L1 loss, backward, fused AdamW step) on the same QM9 batches of atom-tier
graphs in the same process, interleaved pass by pass so that load from other processes hits both
alike; the median pass gives graphs/s. The anchor is ``torch_geometric.nn.models.SchNet`` (64
channels, 64 filters, 3 interactions, 50 Gaussians, 5 Å) with ``interaction_graph=`` returning the
atom tier's edges and distances (PyG's ``radius_graph`` needs torch-cluster, which is not installable
here). The fusion model is :class:`tierbench.model.FusionNetwork` with the default
:class:`tierbench.model.ModelConfig` (MEGNet encoder with MEGNet's widths: 32-wide states, 64-wide
perceptrons, 3 blocks, Set2Set readouts of nodes and edges). Target: fusion model ≥ 1.0 × SchNet.

Defaults: batches of 64 graphs (the data module's default) and one torch thread (suites run one trial
per core).

Then graphs/s of the fusion model for every non-empty combination of the built-in tiers that load:
QM9 molecules (spread over ``qm9_10k``) for tiers that accept molecules, Materials Project crystals
(shared ``mp_mtcgcnn``) for tiers that accept crystals.

Denormals: ``torch.set_flush_denormal(True)`` is called at the start of :func:`main` (before torch runs
any parallel operation; ``--no-flush-denormal`` skips it). Unless ``--no-flush-comparison`` is given,
the atom-vs-SchNet measurement is repeated in two fresh processes, with and without the flush, and both
results are reported.

Run: ``.venv/bin/python benchmarks/perf/train_throughput.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

TARGET_RATIO = 1.0
CUTOFF = 5.0
HARTREE_TO_EV = 27.211386


def _datasets_dir() -> Path:
    configured = os.environ.get("TIERBENCH_DATASETS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared" / "datasets"
    if not (root / "qm9_10k").is_dir():
        raise SystemExit(f"datasets not found at {root}: set TIERBENCH_DATASETS to the folder holding qm9_10k/")
    return root


def _qm9_molecules(root: Path, count: int) -> list[tuple[Any, float]]:
    """``count`` molecules spread evenly over ``qm9_10k``, with their HOMO-LUMO gap in eV.

    Every n-th molecule is taken, so that sizes are representative of the set (it is sorted by index).
    """
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    with gzip.open(root / "qm9_10k" / "qm9_10k.extxyz.gz", "rt") as handle:
        frames = read(io.StringIO(handle.read()), index=":", format="extxyz")
    chosen = frames[:: max(len(frames) // count, 1)][:count]
    return [(AseAtomsAdaptor.get_molecule(atoms), float(atoms.info["gap"]) * HARTREE_TO_EV) for atoms in chosen]


def _mp_crystals(root: Path, count: int, max_sites: int = 12) -> list[tuple[Any, float]]:
    """The first ``count`` crystals of ``mp_mtcgcnn`` with at most ``max_sites`` sites, with band gap in eV."""
    from pymatgen.core import Structure

    found = []
    with gzip.open(root / "mp_mtcgcnn" / "mp_mtcgcnn.jsonl.gz", "rt") as handle:
        for line in handle:
            record = json.loads(line)
            cell = record["structure"]
            if len(cell["species"]) <= max_sites:
                structure = Structure(cell["lattice"], cell["species"], cell["frac_coords"])
                found.append((structure, float(record["band_gap"])))
            if len(found) == count:
                break
    return found


def _samples(structures: list[tuple[Any, float]], tier_names: Sequence[str]) -> list[Any]:
    """Multi-tier samples of the structures every tier builds (targets standardized)."""
    from tierbench.multitier import combine_tiers
    from tierbench.registry import get_tier
    from tierbench.tier import TierError

    tiers = {name: get_tier(name) for name in tier_names}
    values = torch.tensor([target for _, target in structures])
    mean, std = values.mean().item(), values.std().item()
    samples = []
    for index, (structure, target) in enumerate(structures):
        try:
            graphs = {name: tier.build(structure) for name, tier in tiers.items()}
        except TierError:
            continue
        samples.append(combine_tiers(graphs, [(target - mean) / std], index))
    return samples


def _batches(samples: list[Any], batch_size: int) -> list[Any]:
    from torch_geometric.loader import DataLoader

    return list(DataLoader(samples, batch_size=batch_size, shuffle=False))


class TierEdges(nn.Module):
    """SchNet's ``interaction_graph``: the atom tier's edges and distances of the current batch."""

    def __init__(self) -> None:
        super().__init__()
        self.edges: tuple[Tensor, Tensor] | None = None

    def forward(self, pos: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Edges and distances of the current batch (``pos`` and ``batch`` are not needed)."""
        if self.edges is None:
            raise RuntimeError("no batch set")
        return self.edges


def _schnet() -> tuple[nn.Module, Callable[[Any], Tensor]]:
    from torch_geometric.nn.models import SchNet

    edges = TierEdges()
    model = SchNet(
        hidden_channels=64,
        num_filters=64,
        num_interactions=3,
        num_gaussians=50,
        cutoff=CUTOFF,
        interaction_graph=edges,
    )

    def forward(batch: Any) -> Tensor:
        atoms, links = batch["atom"], batch["atom", "to", "atom"]
        edges.edges = (links.edge_index, links.edge_attr[:, 0])
        return model(atoms.node_type, atoms.x.new_zeros(atoms.num_nodes, 3), atoms.batch)

    return model, forward


def _fusion(tier_names: Sequence[str]) -> tuple[nn.Module, Callable[[Any], Tensor]]:
    from tierbench.model import FusionNetwork, ModelConfig
    from tierbench.registry import get_tier

    model = FusionNetwork({name: get_tier(name).dims for name in tier_names}, ModelConfig(), num_outputs=1)
    return model, model


def _step_seconds(
    model: nn.Module, forward: Callable[[Any], Tensor], optimizer: Any, batch: Any
) -> tuple[float, float]:
    """Wall and process CPU seconds of one training step."""
    wall, cpu = time.perf_counter(), time.process_time()
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.l1_loss(forward(batch), batch.y)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - wall, time.process_time() - cpu


def _throughput(
    models: dict[str, tuple[nn.Module, Callable[[Any], Tensor]]], batches: list[Any], passes: int
) -> dict[str, dict[str, float]]:
    """Graphs/s of each model: median over passes, after one warm-up pass.

    The models take turns batch by batch, so that load from other processes hits them alike.
    ``cpu_graphs_per_s`` divides by this process's CPU time instead of wall time: with one thread it is
    what the model costs, and it is less sensitive to other processes on a shared machine.
    """
    graphs = sum(batch.num_graphs for batch in batches)
    # the optimizer of TierFusionModule (fused AdamW), for both models
    optimizers = {
        name: torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True) for name, (model, _) in models.items()
    }
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for model, _ in models.values():
        model.train()
    for repeat in range(passes + 1):
        totals = {name: [0.0, 0.0] for name in models}
        for batch in batches:
            for name, (model, forward) in models.items():
                wall_seconds, cpu_seconds = _step_seconds(model, forward, optimizers[name], batch)
                totals[name][0] += wall_seconds
                totals[name][1] += cpu_seconds
        if repeat:
            for name, (wall_seconds, cpu_seconds) in totals.items():
                wall[name].append(wall_seconds)
                cpu[name].append(cpu_seconds)
    return {
        name: {
            "graphs_per_s": graphs / statistics.median(wall[name]),
            "best_graphs_per_s": graphs / min(wall[name]),
            "cpu_graphs_per_s": graphs / statistics.median(cpu[name]),
            "parameters": sum(p.numel() for p in models[name][0].parameters()),
        }
        for name in models
    }


def _atom_vs_schnet(root: Path, molecules: int, batch_size: int, passes: int) -> dict[str, Any]:
    torch.manual_seed(0)
    batches = _batches(_samples(_qm9_molecules(root, molecules), ["atom"]), batch_size)
    graphs = sum(batch.num_graphs for batch in batches)
    results = _throughput({"tierbench_atom": _fusion(["atom"]), "pyg_schnet": _schnet()}, batches, passes)
    ratio = results["tierbench_atom"]["graphs_per_s"] / results["pyg_schnet"]["graphs_per_s"]
    cpu_ratio = results["tierbench_atom"]["cpu_graphs_per_s"] / results["pyg_schnet"]["cpu_graphs_per_s"]
    return {
        **results,
        "ratio": ratio,
        "cpu_ratio": cpu_ratio,
        "target_ratio": TARGET_RATIO,
        "passed": ratio >= TARGET_RATIO,
        "graphs": graphs,
        "mean_atoms_per_graph": sum(batch["atom"].num_nodes for batch in batches) / graphs,
        "mean_edges_per_graph": sum(batch["atom", "to", "atom"].num_edges for batch in batches) / graphs,
    }


def _combinations(root: Path, molecules: int, crystals: int, batch_size: int, passes: int) -> list[dict[str, Any]]:
    from tierbench.registry import BUILTIN_TIERS, get_tier

    loadable = {}
    for name in BUILTIN_TIERS:
        try:
            loadable[name] = get_tier(name).kinds
        except Exception:  # a tier still missing or broken is reported, not fatal
            continue
    rows = []
    for dataset, kind, loader, count in (
        ("qm9", "molecule", _qm9_molecules, molecules),
        ("mp_mtcgcnn", "crystal", _mp_crystals, crystals),
    ):
        names = [name for name, kinds in loadable.items() if kind in kinds]
        if not names:
            continue
        structures = loader(root, count)
        for size in range(1, len(names) + 1):
            for combination in itertools.combinations(names, size):
                torch.manual_seed(0)
                samples = _samples(structures, combination)
                result = _throughput({"fusion": _fusion(combination)}, _batches(samples, batch_size), passes)["fusion"]
                rows.append({"dataset": dataset, "tiers": "+".join(combination), "samples": len(samples), **result})
    return rows


def _flush_comparison(argv: list[str]) -> dict[str, Any]:
    """Atom-vs-SchNet in two fresh processes, with and without the denormal flush."""
    results = {}
    for label, extra in (("flush", []), ("no_flush", ["--no-flush-denormal"])):
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "result.json"
            command = [sys.executable, __file__, *argv, *extra, "--no-flush-comparison", "--no-combinations"]
            subprocess.run([*command, "--json", str(output)], check=True, stdout=subprocess.DEVNULL)
            results[label] = json.loads(output.read_text())["atom_vs_schnet"]
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer graphs and passes")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--batch-size", type=int, default=64, help="graphs per batch (the data module's default)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: suites run one trial per core)"
    )
    parser.add_argument("--no-flush-denormal", action="store_true", help="do not flush denormals to zero")
    parser.add_argument("--no-flush-comparison", action="store_true", help="skip the two-process flush comparison")
    parser.add_argument("--no-combinations", action="store_true", help="skip the per-combination throughput")
    return parser


def _print_table(result: dict[str, Any]) -> None:
    head = result["atom_vs_schnet"]
    print(f"{'model':<18}{'graphs/s':>10}{'best':>10}{'cpu-time':>10}{'params':>10}")
    for name in ("tierbench_atom", "pyg_schnet"):
        row = head[name]
        print(
            f"{name:<18}{row['graphs_per_s']:>10.1f}{row['best_graphs_per_s']:>10.1f}"
            f"{row['cpu_graphs_per_s']:>10.1f}{row['parameters']:>10}"
        )
    verdict = "PASS" if head["passed"] else "FAIL"
    print(f"ratio {head['ratio']:.2f} (cpu-time ratio {head['cpu_ratio']:.2f}; target ≥ {TARGET_RATIO}) {verdict}")
    for label, flush in result.get("flush_denormal", {}).items():
        print(
            f"{label:<10} tierbench {flush['tierbench_atom']['graphs_per_s']:.1f} graphs/s, "
            f"SchNet {flush['pyg_schnet']['graphs_per_s']:.1f} graphs/s, ratio {flush['ratio']:.2f}"
        )
    for row in result.get("combinations", []):
        print(f"{row['dataset']:<12}{row['tiers']:<24}{row['samples']:>6} samples {row['graphs_per_s']:>9.1f} graphs/s")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure, print the table, and return (and optionally write) the results."""
    args = _parser().parse_args(argv)
    torch.set_flush_denormal(not args.no_flush_denormal)
    torch.set_num_threads(args.threads)
    root = _datasets_dir()
    molecules, crystals, passes = (256, 64, 3) if args.quick else (1024, 256, 5)
    result: dict[str, Any] = {
        "config": {
            "quick": args.quick,
            "batch_size": args.batch_size,
            "threads": torch.get_num_threads(),
            "flush_denormal": not args.no_flush_denormal,
            "molecules": molecules,
            "passes": passes,
        },
        "atom_vs_schnet": _atom_vs_schnet(root, molecules, args.batch_size, passes),
    }
    if not args.no_flush_comparison:
        forwarded = [*(["--quick"] if args.quick else []), "--batch-size", str(args.batch_size)]
        forwarded += ["--threads", str(args.threads)]
        result["flush_denormal"] = _flush_comparison(forwarded)
    if not args.no_combinations:
        result["combinations"] = _combinations(root, molecules, crystals, args.batch_size, passes)
    _print_table(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
