"""The encoder registry: built-ins, installed plug-ins, import paths, and errors that name the choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.plugin_install import install_plugin_on_path, run_python
from tierbench.config.model import EncoderConfig, ModelConfig
from tierbench.model.encoders import build_encoder
from tierbench.model.megnet import MEGNetEncoder
from tierbench.plugins import BUILTIN_ENCODERS, ENCODER_GROUP, ENCODERS
from tierbench.tier import TierDims

DIMS = TierDims(node_dim=4, edge_dim=1, num_node_types=3, edge_distance_index=0)
PLUGIN_MODULE = '''
from tierbench.model.megnet import MEGNetEncoder


class WideMEGNet(MEGNetEncoder):
    """A MEGNet encoder under a plug-in's name."""
'''


class NarrowMEGNet(MEGNetEncoder):
    """An encoder named by import path (not installed)."""


class NotAnEncoder:
    """A class the registry resolves but the model cannot use."""


def test_builtins_are_registered_without_importing_torch_modules() -> None:
    available = ENCODERS.available()
    assert {name: spec.source for name, spec in available.items() if name in BUILTIN_ENCODERS} == dict.fromkeys(
        BUILTIN_ENCODERS, "built-in"
    )


def test_an_unknown_kind_is_a_config_error_that_lists_the_encoders() -> None:
    with pytest.raises(ValidationError) as raised:
        ModelConfig.model_validate({"encoders": {"motif": {"kind": "transformer"}}})
    message = str(raised.value)
    assert "unknown encoder 'transformer'" in message
    for name in BUILTIN_ENCODERS:
        assert name in message


def test_an_import_path_builds_its_class() -> None:
    config = EncoderConfig(kind=f"{__name__}:NarrowMEGNet", blocks=1)
    encoder = build_encoder("atom", DIMS, config, channels=8, readout_dim=4, mlp_channels=8)
    assert type(encoder) is NarrowMEGNet


def test_a_class_that_is_no_encoder_is_refused() -> None:
    config = EncoderConfig(kind=f"{__name__}:NotAnEncoder")
    with pytest.raises(TypeError, match=r"is not a tierbench\.model\.base\.TierEncoder"):
        build_encoder("atom", DIMS, config, channels=8, readout_dim=4, mlp_channels=8)


def test_an_installed_plugin_encoder_is_found_by_name(tmp_path: Path) -> None:
    module = tmp_path / "source" / "wide_encoders.py"
    module.parent.mkdir()
    module.write_text(PLUGIN_MODULE)
    site = tmp_path / "site"
    site.mkdir()
    install_plugin_on_path(
        site, name="wide-encoders", group=ENCODER_GROUP, entry_points="wide = wide_encoders:WideMEGNet", package=module
    )
    code = (
        "import json\n"
        "from tierbench.config.model import ModelConfig\n"
        "from tierbench.model.encoders import build_encoder\n"
        "from tierbench.plugins import ENCODERS\n"
        "from tierbench.tier import TierDims\n"
        "config = ModelConfig.model_validate({'default_encoder': {'kind': 'wide', 'blocks': 1}})\n"
        "dims = TierDims(node_dim=4, edge_dim=1, num_node_types=3, edge_distance_index=0)\n"
        "encoder = build_encoder('atom', dims, config.default_encoder, channels=8, readout_dim=4, mlp_channels=8)\n"
        "print(json.dumps({'source': ENCODERS.available()['wide'].source, 'class': type(encoder).__name__}))"
    )
    result = run_python(code, site)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "source": "plug-in wide-encoders",
        "class": "WideMEGNet",
    }
