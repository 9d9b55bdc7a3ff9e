"""The MLflow UI, opened in headless Chromium, lists a suite's tier-combination runs.

Needs Debian's ``chromium`` package (``apt-get install -y chromium``); skipped where it is absent. A
screenshot of the experiment page is kept in ``test-artifacts/mlflow-ui-experiment.png``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.integration.test_mlflow_server import Server, mlflow_server
from tests.logged_suite import LoggedSuite, log_suite
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.slow

__all__ = ["mlflow_server"]  # the server fixture, shared with test_mlflow_server

CHROMIUM = "chromium"
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1600,1000",
)
VIRTUAL_TIME_BUDGETS_MS = (20_000, 60_000)
"""The page is a single-page app that fetches the runs after loading; a busier machine gets a longer budget."""
RUN_NAME = re.compile(r"gap\|[a-z+]+\|fold\d")
SCREENSHOT = REPO_ROOT / "test-artifacts" / "mlflow-ui-experiment.png"


@pytest.fixture(scope="module")
def chromium() -> str:
    """Path of the Chromium binary; the test is skipped with the reason when it is not installed."""
    found = shutil.which(CHROMIUM)
    if found is None:
        pytest.skip("headless Chromium not installed: the MLflow UI test needs Debian's `chromium` package")
    return found


@pytest.fixture(scope="module")
def ui_suite(mlflow_server: Server, tmp_path_factory: pytest.TempPathFactory) -> LoggedSuite:
    workdir = tmp_path_factory.mktemp("predictions")
    return log_suite(mlflow_server.url, "tiers-in-the-ui", workdir, labels=("gap",), folds=range(2), failed=None)


def _browse(chromium: str, profile: Path, url: str, budget_ms: int, *action: str) -> str:
    command = [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}"]
    result = subprocess.run([*command, *action, url], capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_experiment_page_lists_the_tier_combination_runs(
    chromium: str, mlflow_server: Server, ui_suite: LoggedSuite, tmp_path: Path
) -> None:
    # Sorting by a metric lists trial runs flat (by default they are folded under their suite run).
    query = urllib.parse.urlencode({"orderByKey": "metrics.`test_mae`", "orderByAsc": "true"})
    url = f"{mlflow_server.url}/#/experiments/{ui_suite.experiment_id}/runs?{query}"
    expected = [t.run_name for t in sorted(ui_suite.trials, key=lambda t: t.metrics["test_mae"])]
    listed: list[str] = []
    for attempt, budget in enumerate(VIRTUAL_TIME_BUDGETS_MS):
        page = _browse(chromium, tmp_path / f"profile-dom-{attempt}", url, budget, "--dump-dom")
        listed = list(dict.fromkeys(RUN_NAME.findall(page)))
        if listed:
            break
    assert listed == expected  # every tier combination and fold, in the order of their test MAE

    screenshot = tmp_path / "mlflow-ui-experiment.png"
    _browse(chromium, tmp_path / "profile-shot", url, VIRTUAL_TIME_BUDGETS_MS[-1], f"--screenshot={screenshot}")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, SCREENSHOT)
    runs = MlflowClient(mlflow_server.url).search_runs([ui_suite.experiment_id])
    assert len(runs) == len(expected) + 1  # the page showed every trial run of the store, plus the suite run
