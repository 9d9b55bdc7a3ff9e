"""The stage layout holds: layers import only downward, no cycles, small modules, a torch-free dry run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "platform" / "tierbench"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 400
HEAVY_MODULES = ("torch", "torch_geometric", "pytorch_lightning", "ray", "lightning")


def _lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter with the project's contracts on the ``tierbench`` found under ``source_root``."""
    env = {"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(source_root), "HOME": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO_ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=source_root,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the core package, for breaking the layering on purpose."""
    shutil.copytree(PACKAGE, tmp_path / "tierbench", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_stages_keep_their_layers() -> None:
    found = _lint_imports(REPO_ROOT / "platform")
    assert found.returncode == 0, found.stdout + found.stderr
    assert "0 broken" in found.stdout


@pytest.mark.parametrize(
    ("module", "added_import", "complaint"),
    [
        (
            "config/base.py",
            "from tierbench.suite import plan",
            "tierbench.config is not allowed to import tierbench.suite",
        ),
        (
            "featurization/cache.py",
            "from tierbench.featurization import engine",
            "No import cycle between the modules of a stage BROKEN",
        ),
    ],
    ids=["upward-import", "cycle-inside-a-stage"],
)
def test_a_broken_layering_is_refused(package_copy: Path, module: str, added_import: str, complaint: str) -> None:
    source = package_copy / "tierbench" / module
    source.write_text(source.read_text() + f"\n{added_import}  # noqa\n")
    found = _lint_imports(package_copy)
    assert found.returncode != 0
    assert complaint in found.stdout, found.stdout


def test_every_module_is_small() -> None:
    sources = [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "tiers" / "tierbench_tiers").rglob("*.py")]
    large = {
        str(path.relative_to(REPO_ROOT)): n
        for path in sources
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not large, f"modules over {MAX_MODULE_LINES} lines: {large}"


def test_dry_run_imports_no_torch_lightning_or_ray(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tierbench.cli import app\n"
        "for suite in sys.argv[1:]:\n"
        "    found = CliRunner().invoke(app, ['bench', suite, '--dry-run'])\n"
        "    assert found.exit_code == 0, (suite, found.output)\n"
        "    assert 'to run' in found.output, found.output\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    suites = sorted(str(path) for path in (REPO_ROOT / "benchmarks" / "suites").glob("*.yaml"))
    found = subprocess.run(
        [sys.executable, "-c", script, *suites],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        },
        timeout=300,
        check=False,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    assert found.stdout.strip().splitlines()[-1] == "[]", found.stdout


def test_help_imports_no_torch_lightning_or_ray() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tierbench.cli import app\n"
        "assert CliRunner().invoke(app, ['bench', '--help']).exit_code == 0\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"


def test_the_public_api_is_reachable_from_the_top_and_never_shadowed_by_a_stage() -> None:
    import tierbench
    import tierbench.featurization  # a stage package imported first must not hide a function of that name

    missing = [name for name in tierbench.__all__ if getattr(tierbench, name, None) is None]
    assert not missing, missing
    for name in ("featurize", "run_trial", "run_suite", "plan_suite", "compare", "load_suite", "check_tier"):
        assert callable(getattr(tierbench, name)) and getattr(tierbench, name).__name__ == name
