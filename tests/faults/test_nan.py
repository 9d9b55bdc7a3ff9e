"""A NaN loss ends its trial FAILED with the reason, once (no Ray retry), and the suite goes on.

The NaN comes in through a real input: a tier plug-in whose node features are NaN, as a broken descriptor
(a division by zero) would give. A suite with that tier next to the atom tier runs in a real
``tierbench bench`` process: the combination with the broken tier fails on its first batch, the
atom-only trial after it finishes, and the suite run ends FAILED with the count. The failed trial stays
to be run again; the finished one is done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from pymatgen.core import Molecule, Structure
from torch_geometric.data import Data

from tests.faults.test_driver import (
    Launcher,
    Store,
    qm9_sample,
    start_driver_fixture,  # noqa: F401  (provides the start_driver fixture)
    write_suite,
)
from tests.paths import REPO_ROOT
from tierbench.tier import TierDims
from tierbench.tier.registry import available_tiers, get_tier
from tierbench.tracking.tags import FAILED, FINISHED, KIND_SUITE, KIND_TRIAL, TAG_FAILURE

pytestmark = pytest.mark.skipif("atom" not in available_tiers(), reason="the atom tier is not available")


@dataclass(frozen=True)
class NaNFeatureTier:
    """The atom tier's graphs with NaN node features."""

    name: ClassVar[str] = "nan_features"
    version: ClassVar[str] = "1"
    dependencies: ClassVar[tuple[str, ...]] = ("vesin", "pymatgen")
    kinds: ClassVar[tuple[str, ...]] = ("crystal", "molecule")

    @property
    def dims(self) -> TierDims:
        """The atom tier's widths."""
        return get_tier("atom").dims

    def params(self) -> dict[str, Any]:
        """Nothing changes the output."""
        return {}

    def build(self, structure: Structure | Molecule) -> Data:
        """The atom graph, every node feature NaN."""
        graph = get_tier("atom").build(structure)
        graph.x = torch.full_like(graph.x, float("nan"))
        return graph


@pytest.mark.slow
def test_nan_loss_fails_its_trial_once_with_the_reason_and_the_suite_goes_on(
    tmp_path_factory: pytest.TempPathFactory, start_driver: Launcher, tmp_path: Path
) -> None:
    from tierbench.config.suite import load_suite
    from tierbench.suite.outcome import DONE, TO_RUN, suite_statuses
    from tierbench.tracking.store import Tracker

    suite = write_suite(
        tmp_path,
        qm9_sample(tmp_path_factory),
        name="nan",
        tiers="  atom: {}\n  poisoned: {tier: 'tests.faults.test_nan:NaNFeatureTier'}",
        combinations="[[atom, poisoned], [atom]]",
        seeds="[0]",
        epochs=3,
    )
    pythonpath = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    driver = start_driver(suite, tmp_path / "driver.log", env={"PYTHONPATH": pythonpath})
    assert driver.finish() == 1, driver.output()[-4000:]  # a failed trial fails the command
    assert "2 trials run (1 finished, 1 failed)" in driver.output()
    assert "error: 1 trials failed (listed above)" in driver.output()
    # A Ray retry happens only when a trial raises (or its process dies); this one returned its failure,
    # which the reason shows: a raised error would read "error: …", a dead worker "worker_died: …".
    assert "failed: qm9-gap|atom+poisoned|seed0: non_finite_loss" in driver.output()

    store = Store(tmp_path, "nan")
    trials = {run.info.run_name: run for run in store.runs(KIND_TRIAL)}
    assert len(trials) == 2, "one run per trial: no retry made another"
    failed = trials["qm9-gap|atom+poisoned|seed0"]
    assert failed.info.status == FAILED
    reason = failed.data.tags[TAG_FAILURE]
    assert reason.startswith("non_finite_loss: non-finite") and "poisoned.x" in reason, reason
    assert not any(name.startswith("test_") for name in failed.data.metrics)
    assert driver.output().count("failed: qm9-gap|atom+poisoned|seed0") == 1, "its result came once"
    finished = trials["qm9-gap|atom|seed0"]
    assert finished.info.status == FINISHED and "test_mae" in finished.data.metrics
    assert finished.info.start_time > failed.info.start_time, "the suite went on after the failure"
    (suite_run,) = store.runs(KIND_SUITE)
    assert suite_run.info.status == FAILED and suite_run.data.tags[TAG_FAILURE] == "1 trials failed"

    tracker = Tracker("nan", store.uri)
    states = {status.trial.name: status.state for status in suite_statuses(load_suite(suite), tracker)}
    assert states == {"qm9-gap|atom+poisoned|seed0": TO_RUN, "qm9-gap|atom|seed0": DONE}

    rerun = start_driver(suite, tmp_path / "rerun.log", env={"PYTHONPATH": pythonpath}, options=("--allow-failures",))
    assert rerun.finish() == 0, rerun.output()[-4000:]
    assert "1 trials run (0 finished, 1 failed)" in rerun.output()
