"""Model building blocks: the layers compute the functions their docstrings state; configs fail clearly."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.aggr import Set2Set as PygSet2Set
from torch_geometric.utils import scatter

from tierbench.config.model import EncoderConfig, ModelConfig
from tierbench.model.fusion import FusionNetwork, ModelConfigError
from tierbench.model.layers import MEGNetConv, OrbNetConv, Set2Set
from tierbench.model.rbf import GaussianExpansion
from tierbench.tier import TierDims

ATOM = TierDims(node_dim=4, edge_dim=1, num_node_types=10, edge_distance_index=0)
MOTIF = TierDims(node_dim=3, edge_dim=2, num_node_types=5, global_dim=2, edge_distance_index=1)
NO_DISTANCE = TierDims(node_dim=3, edge_dim=2)


def _graph(num_edges: int = 20, channels: int = 6) -> dict[str, torch.Tensor]:
    """Two graphs (nodes 0-2 and 3-6) with random edges inside each."""
    generator = torch.Generator().manual_seed(0)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    in_first = torch.arange(num_edges) % 2 == 0
    low, size = torch.where(in_first, 0, 3), torch.where(in_first, 3, 4)
    source = low + torch.randint(0, 12, (num_edges,), generator=generator) % size
    target = low + torch.randint(0, 12, (num_edges,), generator=generator) % size
    return {
        "x": torch.randn(7, channels, generator=generator),
        "edge_index": torch.stack([source, target]),
        "edge_attr": torch.randn(num_edges, channels, generator=generator),
        "u": torch.randn(2, channels, generator=generator),
        "batch": batch,
    }


def test_gaussian_expansion_peaks_at_centres_and_has_no_subnormal_tails() -> None:
    rbf = GaussianExpansion(0.0, 5.0, 50)
    distances = torch.linspace(0.0, 12.0, 4001)
    values = rbf(distances)
    assert values.shape == (4001, 50)
    assert torch.allclose(rbf(rbf.centres).diagonal(), torch.ones(50))
    assert values.min() >= 0 and values.max() <= 1
    tiny = (values > 0) & (values < torch.finfo(torch.float32).tiny)
    assert not tiny.any(), "subnormal values slow CPU training down"
    assert (values[distances > 8.0, :10] == 0).all(), "far tails are exactly zero"
    near = distances.unsqueeze(-1).sub(rbf.centres).abs() < 0.3
    exact = torch.exp(-0.5 * (distances.unsqueeze(-1) - rbf.centres) ** 2 / (5.0 / 49) ** 2)
    assert torch.allclose(values[near], exact[near], atol=1e-6)


def test_megnet_conv_equals_the_update_rule_on_concatenated_inputs() -> None:
    torch.manual_seed(0)
    conv = MEGNetConv(6, 9)
    g = _graph()
    x_new, edge_new, u_new = conv(g["x"], g["edge_index"], g["edge_attr"], g["u"], g["batch"])
    source, target = g["edge_index"]
    target_weight, source_weight = conv.edge_from_nodes.weight.chunk(2, dim=0)
    target_bias, source_bias = conv.edge_from_nodes.bias.chunk(2)
    # phi_e as one perceptron on x_v ⊕ x_w ⊕ e_vw ⊕ u (v = target, w = source)
    first = torch.nn.Linear(24, 9)
    with torch.no_grad():
        first.weight.copy_(
            torch.cat([target_weight, source_weight, conv.edge_from_edge.weight, conv.edge_from_state.weight], 1)
        )
        first.bias.copy_(target_bias + source_bias)
    inputs = torch.cat([g["x"][target], g["x"][source], g["edge_attr"], g["u"][g["batch"][target]]], dim=-1)
    expected_edges = conv.edge_output(torch.nn.functional.silu(first(inputs)))
    assert torch.allclose(edge_new, expected_edges, atol=1e-5)
    incident_mean = scatter(expected_edges, target, dim=0, dim_size=7, reduce="mean")
    expected_nodes = conv.node_mlp(torch.cat([incident_mean, g["x"], g["u"][g["batch"]]], dim=-1))
    assert torch.allclose(x_new, expected_nodes, atol=1e-5)
    graph_edge_mean = scatter(expected_edges, g["batch"][target], dim=0, dim_size=2, reduce="mean")
    graph_node_mean = scatter(expected_nodes, g["batch"], dim=0, dim_size=2, reduce="mean")
    expected_state = conv.state_mlp(torch.cat([graph_edge_mean, graph_node_mean, g["u"]], dim=-1))
    assert torch.allclose(u_new, expected_state, atol=1e-5)


def test_orbnet_conv_equals_the_update_rule() -> None:
    torch.manual_seed(0)
    conv = OrbNetConv(6, heads=2)
    g = _graph()
    source, target = g["edge_index"]
    x, e = g["x"], g["edge_attr"]
    message = torch.nn.functional.silu(conv.message_linear(x[target] * x[source] * e))
    keys = conv.attention_linear(x).view(-1, 2, 6)
    attention = torch.sigmoid((keys[target] * keys[source] * e.unsqueeze(1)).sum(-1) / 6)
    summed = scatter(attention.unsqueeze(-1) * message.unsqueeze(1), target, dim=0, dim_size=7, reduce="sum")
    expected = x + torch.nn.functional.silu(conv.update_linear(summed.reshape(7, 12)))
    assert torch.allclose(conv(x, g["edge_index"], e), expected, atol=1e-5)


def test_set2set_families_equal_pyg_set2set() -> None:
    torch.manual_seed(0)
    channels = 5
    ours = Set2Set(channels, steps=3, families=2)
    references = [PygSet2Set(channels, processing_steps=3) for _ in range(2)]
    with torch.no_grad():
        for family, reference in enumerate(references):
            ours.input_weight[family].copy_(reference.lstm.weight_ih_l0.T)
            ours.hidden_weight[family].copy_(reference.lstm.weight_hh_l0.T)
            ours.bias[family, 0].copy_(reference.lstm.bias_ih_l0 + reference.lstm.bias_hh_l0)
    nodes, node_sets = torch.randn(9, channels), torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    edges, edge_sets = torch.randn(6, channels), torch.tensor([0, 1, 1, 2, 2, 2])
    node_readout, edge_readout = ours([nodes, edges], [node_sets, edge_sets], 3)
    assert torch.allclose(node_readout, references[0](nodes, node_sets, dim_size=3), atol=1e-6)
    assert torch.allclose(edge_readout, references[1](edges, edge_sets, dim_size=3), atol=1e-6)


def test_cross_fusion_without_the_atom_tier_is_a_config_error() -> None:
    with pytest.raises(ModelConfigError, match="atom tier"):
        FusionNetwork({"motif": MOTIF}, ModelConfig(fusion="cross"), num_outputs=1)


def test_cross_fusion_needs_equal_depths() -> None:
    config = ModelConfig(fusion="cross", encoders={"motif": {"blocks": 2}})
    with pytest.raises(ModelConfigError, match="same number of blocks"):
        FusionNetwork({"atom": ATOM, "motif": MOTIF}, config, num_outputs=1)


def test_schnet_encoder_needs_a_distance_column() -> None:
    config = ModelConfig(default_encoder=EncoderConfig(kind="schnet"))
    with pytest.raises(ModelConfigError, match=r"tier 'bonds'.*distance column"):
        FusionNetwork({"bonds": NO_DISTANCE}, config, num_outputs=1)


def test_tier_overrides_layer_on_the_default_encoder() -> None:
    config = ModelConfig(default_encoder=EncoderConfig(blocks=2, kind="cgcnn"))
    motif = config.encoder_for("motif")
    assert (motif.kind, motif.blocks, motif.rbf.stop, motif.rbf.num_gaussians) == ("cgcnn", 2, 11.0, 100)
    assert config.encoder_for("orbital").kind == "orbnet"
    assert config.encoder_for("atom") == config.default_encoder


def test_unknown_config_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="hiden_dim"):
        ModelConfig.model_validate({"hiden_dim": 32})
    with pytest.raises(ValueError, match=r"encoder of tier 'motif'(.|\n)*blokcs"):
        ModelConfig.model_validate({"encoders": {"motif": {"blokcs": 2}}})
    with pytest.raises(ValueError, match="larger than start"):
        EncoderConfig.model_validate({"rbf": {"start": 5.0, "stop": 1.0}})


def test_no_tiers_is_a_config_error() -> None:
    with pytest.raises(ModelConfigError, match="at least one tier"):
        FusionNetwork({}, ModelConfig(), num_outputs=1)
