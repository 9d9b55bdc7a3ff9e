"""The shipped ray_cluster.yaml validates offline, and broken copies are rejected with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.paths import REPO_ROOT
from tierbench.cli import app
from tierbench.cluster.launcher_config import ClusterConfigError, validate_cluster_file

SHIPPED = REPO_ROOT / "ray_cluster.yaml"


def _broken_copy(tmp_path: Path, change) -> Path:
    config = yaml.safe_load(SHIPPED.read_text())
    change(config)
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_shipped_cluster_file_is_valid() -> None:
    config = validate_cluster_file(SHIPPED)
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}
    result = CliRunner().invoke(app, ["cluster-validate", str(SHIPPED)])
    assert result.exit_code == 0 and "valid; head head" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(head_node_type="missing"), "head_node_type` must be one of"),
        (
            lambda c: c["available_node_types"]["gpu_worker"].update(min_workers=9),
            "smaller than the sum of `min_workers`",
        ),
        (lambda c: c.update(max_wokers=3), "'max_wokers' was unexpected"),
        (lambda c: c.update(idle_timeout_minutes="ten"), "idle_timeout_minutes: 'ten' is not of type"),
        (lambda c: c["available_node_types"]["head"].update(resources={}), "must declare resources: {CPU: 0}"),
    ],
    ids=["unknown-head-type", "min-workers-sum", "typo-key", "wrong-type", "head-takes-trials"],
)
def test_broken_copies_are_rejected(tmp_path: Path, change, message: str) -> None:
    path = _broken_copy(tmp_path, change)
    with pytest.raises(ClusterConfigError) as raised:
        validate_cluster_file(path)
    assert message in str(raised.value)
    result = CliRunner().invoke(app, ["cluster-validate", str(path)])
    assert result.exit_code == 1 and message in result.output
