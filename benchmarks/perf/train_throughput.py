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
any parallel operation; ``--no-flush-denormal`` skips it). Unless ``--no-flush-comparison`` or
``--quick`` is given, the atom-vs-SchNet measurement is repeated in two fresh processes, with and
without the flush, and both results are reported.

Run: ``.venv/bin/python benchmarks/perf/train_throughput.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from common import argument_parser, load, measurement, profiled, write_json
from torch import Tensor, nn

TARGET_RATIO = 1.0
CUTOFF = 5.0
MAX_CRYSTAL_SITES = 12


def _with_targets(dataset: Any, rows: Sequence[int], target: str) -> list[tuple[Any, float]]:
    values = dataset.target_values(target)
    return [(dataset.structure(row), float(values[row])) for row in rows]


def _qm9_molecules(count: int) -> list[tuple[Any, float]]:
    """``count`` molecules spread evenly over ``qm9_10k``, with their HOMO-LUMO gap in eV.

    Every n-th molecule is taken, so that sizes are representative of the set (it is sorted by index).
    """
    dataset = load({"name": "qm9_10k", "targets": ["gap"]})
    return _with_targets(dataset, range(0, len(dataset), max(len(dataset) // count, 1))[:count], "gap")


def _mp_crystals(count: int) -> list[tuple[Any, float]]:
    """The first ``count`` crystals of ``mp_mtcgcnn`` with at most 12 sites, with their band gap in eV."""
    dataset = load({"name": "mp_mtcgcnn", "targets": ["band_gap"], "filters": {"max_atoms": MAX_CRYSTAL_SITES}})
    return _with_targets(dataset, range(min(count, len(dataset))), "band_gap")


def _tier_graphs(structures: list[tuple[Any, float]], tier_names: Sequence[str]) -> dict[str, list[Any]]:
    """Each tier's graph of every structure (``None`` where the tier refuses it), built once."""
    from tierbench.tier import TierError
    from tierbench.tier.registry import get_tier

    graphs: dict[str, list[Any]] = {}
    for name in tier_names:
        tier = get_tier(name)
        graphs[name] = []
        for structure, _ in structures:
            try:
                graphs[name].append(tier.build(structure))
            except TierError:
                graphs[name].append(None)
    return graphs


def _samples(structures: list[tuple[Any, float]], graphs: dict[str, list[Any]], tier_names: Sequence[str]) -> list[Any]:
    """Multi-tier samples of the structures every tier of ``tier_names`` builds (targets standardized)."""
    from tierbench.samples.multitier import combine_tiers

    values = torch.tensor([target for _, target in structures])
    mean, std = values.mean().item(), values.std().item()
    samples = []
    for index, (_, target) in enumerate(structures):
        built = {name: graphs[name][index] for name in tier_names}
        if all(graph is not None for graph in built.values()):
            samples.append(combine_tiers(built, [(target - mean) / std], index))
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
    from tierbench.config.model import ModelConfig
    from tierbench.model.fusion import FusionNetwork
    from tierbench.tier.registry import get_tier

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
            "passes_graphs_per_s": [graphs / seconds for seconds in wall[name]],
            "parameters": sum(p.numel() for p in models[name][0].parameters()),
        }
        for name in models
    }


def _atom_vs_schnet(molecules: list[tuple[Any, float]], batch_size: int, passes: int) -> dict[str, Any]:
    torch.manual_seed(0)
    batches = _batches(_samples(molecules, _tier_graphs(molecules, ["atom"]), ["atom"]), batch_size)
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


def _combinations(
    structure_sets: dict[str, list[tuple[Any, float]]], batch_size: int, passes: int
) -> list[dict[str, Any]]:
    """Graphs/s of the fusion model for every combination of the tiers that take each set's structures."""
    from tierbench.plugins import BUILTIN_TIERS
    from tierbench.tier import structure_kind
    from tierbench.tier.registry import get_tier

    loadable = {}
    for name in BUILTIN_TIERS:
        try:
            loadable[name] = get_tier(name).kinds
        except Exception:  # a tier still missing or broken is reported, not fatal
            continue
    rows = []
    for dataset, structures in structure_sets.items():
        kind = structure_kind(structures[0][0])
        names = [name for name, kinds in loadable.items() if kind in kinds]
        graphs = _tier_graphs(structures, names)
        for size in range(1, len(names) + 1):
            for combination in itertools.combinations(names, size):
                torch.manual_seed(0)
                samples = _samples(structures, graphs, combination)
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


def _measurements(result: dict[str, Any]) -> list[dict[str, Any]]:
    head = result["atom_vs_schnet"]
    config = result["config"]
    setting = f"batches of {config['batch_size']}, {config['threads']} torch thread(s)"
    rows = [
        measurement(
            f"training throughput, atom-only fusion model vs SchNet ({head['graphs']} QM9 graphs, {setting})",
            unit="graphs/s",
            tierbench=head["tierbench_atom"]["passes_graphs_per_s"],
            anchor=head["pyg_schnet"]["passes_graphs_per_s"],
            anchor_name="PyG SchNet on identical batches",
            target=("ratio", ">=", TARGET_RATIO),
            note=f"CPU-time ratio {head['cpu_ratio']:.2f}",
        )
    ]
    for label, flush in result.get("flush_denormal", {}).items():
        rows.append(
            measurement(
                f"training throughput, atom-only vs SchNet, fresh process, {label.replace('_', ' ')} denormals",
                unit="graphs/s",
                tierbench=flush["tierbench_atom"]["passes_graphs_per_s"],
                anchor=flush["pyg_schnet"]["passes_graphs_per_s"],
                anchor_name="PyG SchNet on identical batches",
            )
        )
    rows.extend(
        measurement(
            f"training throughput, fusion model on {row['tiers']} ({row['dataset']}, {row['samples']} samples)",
            unit="graphs/s",
            tierbench=row["passes_graphs_per_s"],
        )
        for row in result.get("combinations", [])
    )
    return rows


def _parser() -> argparse.ArgumentParser:
    parser = argument_parser(__doc__, "256 molecules, 64 crystals, 3 passes, no flush comparison")
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
    molecule_count, crystal_count, passes = (256, 64, 3) if args.quick else (1024, 256, 5)
    molecules = _qm9_molecules(molecule_count)
    with profiled():  # the targeted comparison
        atom_vs_schnet = _atom_vs_schnet(molecules, args.batch_size, passes)
    result: dict[str, Any] = {
        "config": {
            "quick": args.quick,
            "batch_size": args.batch_size,
            "threads": torch.get_num_threads(),
            "flush_denormal": not args.no_flush_denormal,
            "molecules": molecule_count,
            "passes": passes,
        },
        "atom_vs_schnet": atom_vs_schnet,
    }
    if not (args.no_flush_comparison or args.quick):
        forwarded = ["--batch-size", str(args.batch_size)]
        forwarded += ["--threads", str(args.threads)]
        result["flush_denormal"] = _flush_comparison(forwarded)
    if not args.no_combinations:
        structure_sets = {"qm9": molecules, "mp_mtcgcnn": _mp_crystals(crystal_count)}
        result["combinations"] = _combinations(structure_sets, args.batch_size, passes)
    result["measurements"] = _measurements(result)
    _print_table(result)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
