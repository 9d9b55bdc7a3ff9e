"""Guards for the import-safe layout: no package may shadow a standard-library module."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import REPO_ROOT

SOURCE_FOLDERS = ("platform", "tiers")


def test_source_folders_are_not_packages() -> None:
    for folder in SOURCE_FOLDERS:
        assert not (REPO_ROOT / folder / "__init__.py").exists(), (
            f"{folder}/__init__.py makes '{folder}' an importable package; 'platform' would shadow the "
            "standard library module that torch, ray and mlflow import"
        )


def _top_level_import_names() -> set[str]:
    names = set()
    for folder in SOURCE_FOLDERS:
        for child in (REPO_ROOT / folder).iterdir():
            if (child / "__init__.py").exists() or child.suffix == ".py":
                names.add(child.stem)
    return names


def test_no_top_level_name_is_a_standard_library_module() -> None:
    names = _top_level_import_names()
    assert {"tierbench", "tierbench_tiers"} <= names
    clashes = names & set(sys.stdlib_module_names)
    assert not clashes, f"top-level import names shadow the standard library: {sorted(clashes)}"


def test_installed_distribution_exposes_only_its_packages() -> None:
    from importlib.metadata import packages_distributions

    provided = {name for name, dists in packages_distributions().items() if "tierbench" in dists}
    assert {"tierbench", "tierbench_tiers"} <= provided
    assert not provided & set(sys.stdlib_module_names), sorted(provided)


def test_standard_platform_module_still_works_beside_tierbench() -> None:
    code = "import tierbench, tierbench_tiers, platform; print(platform.system())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "Linux"
