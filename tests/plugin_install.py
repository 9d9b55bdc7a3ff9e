"""Installing a plug-in distribution the way pip lays one out, into a folder a subprocess puts on its path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def install_plugin_on_path(site: Path, *, name: str, group: str, entry_points: str, package: Path | None) -> None:
    """Lay out a distribution the way pip installs one: the package plus its ``.dist-info``.

    Args:
        site: The folder (a ``site-packages`` stand-in).
        name: Distribution name.
        group: Entry-point group, e.g. ``tierbench.tiers``.
        entry_points: Lines of the group, e.g. ``voronoi = tierbench_voronoi:VoronoiTier``.
        package: A package folder or module file to copy next to it (``None``: none).
    """
    if package is not None:
        copy = shutil.copytree if package.is_dir() else shutil.copy
        copy(package, site / package.name)
    dist_info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[{group}]\n{entry_points}\n")


def run_python(code: str, site: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``site`` on its path, warnings shown."""
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        check=False,
    )
