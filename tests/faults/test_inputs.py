"""Malformed inputs: every broken row of the corpus in ``tests/data/bad/`` gets its own reason, and a suite
over datasets full of them runs to completion on the good rows.

The corpus (written by ``tests/data/bad/make_corpus.py``) holds three datasets — a CGCNN CIF folder, a
Materials Project JSON-lines file and an extended XYZ file — in which real structures sit next to 68
broken rows of 60 kinds. ``manifest.json`` says for each broken row where it is, what is wrong with it and
the stage (dataset quarantine, ``targets_present`` selection, or a refusal by the atom tier), reason code
and message that tierbench must give it.
"""

from __future__ import annotations

import filecmp
import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.paths import DATA_DIR
from tierbench.datasets import Dataset, load_dataset
from tierbench.featurization.engine import featurize
from tierbench.tier.registry import available_tiers
from tierbench.tracking.tags import KIND_TRIAL, TAG_KIND

pytestmark = pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available")

CORPUS = DATA_DIR / "bad"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
SPECS: dict[str, dict[str, Any]] = {
    "cif_folder": {
        "name": "broken-cifs",
        "format": "cif_folder",
        "path": str(CORPUS / "cif_folder"),
        "targets": ["target"],
        "units": {"target": "g/cm^3"},
    },
    "crystals": {
        "name": "broken-crystals",
        "format": "mp_jsonl",
        "path": str(CORPUS / "crystals.jsonl"),
        "targets": ["density"],
        "units": {"density": "g/cm^3"},
    },
    "molecules": {
        "name": "broken-molecules",
        "format": "extxyz",
        "path": str(CORPUS / "molecules.extxyz"),
        "id_key": "id",
        "targets": ["rg"],
        "units": {"rg": "Å"},
    },
}
TARGETS = {name: spec["targets"][0] for name, spec in SPECS.items()}
ATOM_TIER = {"tier": "atom", "params": {"isolated": "error"}}
"""The atom tier refusing isolated atoms, so a lone atom gets a reason instead of a graph of nothing."""


def broken(dataset: str, stage: str | None = None) -> list[dict[str, Any]]:
    """The manifest's broken rows of one dataset (of one stage)."""
    return [row for row in MANIFEST["broken"] if row["dataset"] == dataset and stage in (None, row["stage"])]


def expected_quarantine_counts(dataset: str) -> dict[str, int]:
    """Reason → number of rows the quarantine report of ``dataset`` must show."""
    return dict(Counter(row["reason"] for row in broken(dataset, "quarantine")))


@pytest.fixture(scope="module")
def loaded() -> dict[str, Dataset]:
    """The three corpus datasets, loaded once."""
    return {name: load_dataset(spec) for name, spec in SPECS.items()}


def test_corpus_covers_thirty_kinds_and_is_what_its_script_writes(tmp_path: Path) -> None:
    kinds = {row["kind"] for row in MANIFEST["broken"]}
    assert len(kinds) >= 30
    assert {row["stage"] for row in MANIFEST["broken"]} == {"quarantine", "selection", "tier"}
    script = [sys.executable, str(CORPUS / "make_corpus.py"), str(tmp_path)]
    subprocess.run(script, check=True, capture_output=True, timeout=300)  # a fresh process, as a user runs it
    comparison = filecmp.dircmp(CORPUS, tmp_path, ignore=["make_corpus.py", "__pycache__"])
    assert not comparison.left_only and not comparison.right_only and not comparison.diff_files
    folders = filecmp.dircmp(CORPUS / "cif_folder", tmp_path / "cif_folder")
    assert not folders.left_only and not folders.right_only and not folders.diff_files


@pytest.mark.parametrize("name", list(SPECS))
def test_every_broken_row_gets_its_own_reason_and_every_good_row_loads(name: str, loaded: dict[str, Dataset]) -> None:
    dataset = loaded[name]
    reported = {row.source_index: row for row in dataset.quarantine.rows}
    for row in broken(name, "quarantine"):
        found = reported.pop(row["source_index"], None)
        assert found is not None, f"{row['kind']}: not quarantined"
        assert (found.reason, found.sample_id) == (row["reason"], row["sample_id"]), (row["kind"], found)
        assert row["message"] in found.message, (row["kind"], found.message)
    assert not reported, f"quarantined without being broken: {reported}"
    missing = broken(name, "selection")
    step = next(step for step in dataset.info.selection if step.step.startswith("targets_present"))
    assert step.excluded == len(missing)
    refused = {row["sample_id"] for row in broken(name, "tier")}
    assert len(dataset) == MANIFEST["good"][name] + len(refused)
    assert refused <= set(dataset.ids)
    assert not {row["sample_id"] for row in missing} & set(dataset.ids)
    assert dataset.info.source_rows == len(dataset) + len(dataset.quarantine) + len(missing)


@pytest.mark.parametrize("name", list(SPECS))
def test_tier_refusals_are_reported_per_structure(name: str, loaded: dict[str, Dataset], tmp_path: Path) -> None:
    from tierbench.tier.registry import get_tier

    result = featurize(
        loaded[name], {"atom": get_tier("atom", **ATOM_TIER["params"])}, cache=tmp_path, workers=1, progress=False
    )
    failures = {failure["id"]: failure for failure in result.failures()}
    expected = {row["sample_id"]: row for row in broken(name, "tier")}
    assert set(failures) == set(expected)
    for sample_id, row in expected.items():
        assert failures[sample_id]["reason"] == row["reason"]
        assert row["message"] in failures[sample_id]["message"]
    assert len(result.covered()) == MANIFEST["good"][name]


SUITE = {
    "name": "broken-inputs",
    "datasets": [
        {"label": f"{name}-{TARGETS[name]}", "dataset": spec, "target": TARGETS[name]} for name, spec in SPECS.items()
    ],
    "split": {"method": "random", "test": 0.2, "val": 0.2},
    "tiers": {"atom": ATOM_TIER},
    "combinations": [["atom"]],
    "seeds": [0],
    "model": {"hidden_dim": 16, "mlp_dim": 16, "default_encoder": {"blocks": 1, "rbf": {"num_gaussians": 10}}},
    "trainer": {"max_epochs": 2, "batch_size": 8, "early_stopping_patience": None},
    "resources": {"max_concurrent_trials": 2, "featurize_workers": 2},
}


@pytest.mark.slow
def test_suite_over_broken_datasets_runs_to_completion_and_records_every_reason(
    ray_local: object, tmp_path: Path
) -> None:
    from tierbench.config.suite import Suite
    from tierbench.suite.run import run_suite

    settings = {"tracking": {"tracking_uri": f"sqlite:///{tmp_path}/mlflow.db"}, "cache": str(tmp_path / "cache")}
    suite = Suite.model_validate({**SUITE, **settings, "storage": str(tmp_path / "runs")})
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        outcome = run_suite(suite, progress=False, echo=lambda line: None)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert not outcome.failed and len(outcome.finished) == len(SPECS)
    client = MlflowClient(suite.tracking.tracking_uri)
    for name in SPECS:
        label = f"{name}-{TARGETS[name]}"
        folder = client.download_artifacts(str(outcome.suite_run_id), "datasets", str(tmp_path / label))
        coverage = json.loads((Path(folder) / f"{label}-coverage.json").read_text())
        assert coverage == json.loads(json.dumps(outcome.coverage[label], default=str))
        assert coverage["quarantine"]["counts"] == expected_quarantine_counts(name)
        assert coverage["quarantine"]["total"] == len(broken(name, "quarantine"))
        shown = {row["source_index"] for rows in coverage["quarantine"]["examples"].values() for row in rows}
        assert shown <= {row["source_index"] for row in broken(name, "quarantine")}
        targets = next(step for step in coverage["selection"] if step["step"].startswith("targets_present"))
        assert targets["excluded"] == len(broken(name, "selection"))
        refused = {(failure["id"], failure["reason"]) for failure in coverage["failures"]}
        assert refused == {(row["sample_id"], row["reason"]) for row in broken(name, "tier")}
        assert coverage["covered_by_every_tier"] == MANIFEST["good"][name]
    experiment = client.get_experiment_by_name("broken-inputs").experiment_id
    runs = client.search_runs([experiment], f"tags.`{TAG_KIND}` = '{KIND_TRIAL}'")
    assert sorted(run.info.status for run in runs) == ["FINISHED"] * len(SPECS)
    samples = {run.data.tags["dataset"]: run.data.metrics for run in runs}
    for name in SPECS:
        metrics = samples[f"{name}-{TARGETS[name]}"]
        assert metrics["n_train"] + metrics["n_val"] + metrics["n_test"] == MANIFEST["good"][name]
