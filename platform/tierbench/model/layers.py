r"""Message-passing layers of the tier encoders and of cross-tier fusion.

Each layer is a :class:`~torch_geometric.nn.conv.MessagePassing` module whose docstring states its update
rule. Notation: node states :math:`\mathbf{x}_v`, edge states :math:`\mathbf{e}_{wv}` (edge from
:math:`w` to :math:`v`), graph state :math:`\mathbf{u}`, concatenation :math:`\oplus`, element-wise
product :math:`\odot`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.utils import degree, scatter, softmax


def mlp(in_channels: int, hidden_channels: int, out_channels: int) -> nn.Sequential:
    """Two linear layers with a SiLU between them."""
    return nn.Sequential(nn.Linear(in_channels, hidden_channels), nn.SiLU(), nn.Linear(hidden_channels, out_channels))


class MEGNetConv(MessagePassing):
    r"""The graph-network block of MEGNet: edge, node and graph-state updates.

    From `"Graph Networks as a Universal Machine Learning Framework for Molecules and Crystals"
    <https://doi.org/10.1021/acs.chemmater.9b01294>`_ (Chen et al. 2019).

    .. math::
        \mathbf{e}'_{wv} &= \phi_e\left(\mathbf{x}_v \oplus \mathbf{x}_w \oplus \mathbf{e}_{wv}
            \oplus \mathbf{u}\right)

        \mathbf{x}'_v &= \phi_v\left(\bar{\mathbf{e}}'_v \oplus \mathbf{x}_v \oplus \mathbf{u}\right),
            \quad \bar{\mathbf{e}}'_v = \operatorname{mean}_{w \in \mathcal{N}(v)} \mathbf{e}'_{wv}

        \mathbf{u}' &= \phi_u\left(\operatorname{mean}_{vw} \mathbf{e}'_{wv} \oplus
            \operatorname{mean}_v \mathbf{x}'_v \oplus \mathbf{u}\right)

    where each :math:`\phi` is a two-layer perceptron with a SiLU between its layers (as in M3GNet, the
    successor of MEGNet; MEGNet used a shifted softplus, which costs twice as much on CPUs) and
    :math:`\mathbf{u}` is the state of the graph the node or edge belongs to. Computed for speed without
    changing the function: the first layer of :math:`\phi_e` is applied to each input separately, so its
    node and graph terms cost once per node rather than once per edge, and the per-graph edge mean is
    taken from the per-node edge sums. Residual connections belong to the encoder.

    Args:
        channels: Width :math:`C` of node, edge and graph states.
        hidden_channels: Width of the hidden layer of each :math:`\phi`.

    Shapes:
        - **input:** node states :math:`(|\mathcal{V}|, C)`, edge indices :math:`(2, |\mathcal{E}|)`,
          edge states :math:`(|\mathcal{E}|, C)`, graph states :math:`(B, C)`, node-to-graph
          assignment :math:`(|\mathcal{V}|,)`
        - **output:** updated node :math:`(|\mathcal{V}|, C)`, edge :math:`(|\mathcal{E}|, C)` and graph
          :math:`(B, C)` states
    """

    def __init__(self, channels: int, hidden_channels: int) -> None:
        super().__init__(aggr="add")
        self.channels = channels
        self.hidden_channels = hidden_channels
        self.edge_from_nodes = nn.Linear(channels, 2 * hidden_channels)  # target and source terms
        self.edge_from_state = nn.Linear(channels, hidden_channels, bias=False)
        self.edge_from_edge = nn.Linear(channels, hidden_channels, bias=False)
        self.edge_output = nn.Linear(hidden_channels, channels)
        self.node_mlp = mlp(3 * channels, hidden_channels, channels)
        self.state_mlp = mlp(3 * channels, hidden_channels, channels)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, u: Tensor, batch: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Update node, edge and graph states (see the class docstring)."""
        num_nodes, num_graphs = x.size(0), u.size(0)
        target_term, source_term = self.edge_from_nodes(x).chunk(2, dim=-1)
        target_term = target_term + self.edge_from_state(u).index_select(0, batch)
        edge_new = self.edge_updater(edge_index, target_term=target_term, source_term=source_term, edge_attr=edge_attr)
        incident_sum = self.propagate(edge_index, edge_new=edge_new, size=(num_nodes, num_nodes))
        in_degree = degree(edge_index[1], num_nodes, dtype=x.dtype).unsqueeze(-1)
        x_new = self.node_mlp(torch.cat([incident_sum / in_degree.clamp(min=1), x, u.index_select(0, batch)], dim=-1))
        graph_edge_sum = scatter(incident_sum, batch, dim=0, dim_size=num_graphs, reduce="sum")
        graph_edge_count = scatter(in_degree, batch, dim=0, dim_size=num_graphs, reduce="sum")
        state_input = torch.cat(
            [
                graph_edge_sum / graph_edge_count.clamp(min=1),
                scatter(x_new, batch, dim=0, dim_size=num_graphs, reduce="mean"),
                u,
            ],
            dim=-1,
        )
        return x_new, edge_new, self.state_mlp(state_input)

    def edge_update(self, target_term_i: Tensor, source_term_j: Tensor, edge_attr: Tensor) -> Tensor:
        r""":math:`\phi_e` of every edge."""
        # one fused multiply-add instead of a matrix product and an addition
        hidden = torch.addmm(target_term_i + source_term_j, edge_attr, self.edge_from_edge.weight.t())
        return self.edge_output(functional.silu(hidden))

    def message(self, edge_new: Tensor) -> Tensor:
        """The updated edge state is the message."""
        return edge_new

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, hidden_channels={self.hidden_channels})"


class OrbNetConv(MessagePassing):
    r"""The attention message-passing layer of OrbNet.

    From `"OrbNet: Deep learning for quantum chemistry using symmetry-adapted atomic-orbital features"
    <https://doi.org/10.1063/5.0021955>`_ (Qiao et al. 2020).

    .. math::
        \mathbf{m}_{wv} &= \psi\left(\mathbf{W}_m [\mathbf{x}_v \odot \mathbf{x}_w \odot \mathbf{e}_{wv}]
            + \mathbf{b}_m\right)

        \alpha^h_{wv} &= \sigma\left(\frac{1}{C} \sum_{k=1}^{C} (\mathbf{W}^h_a \mathbf{x}_v)_k
            (\mathbf{W}^h_a \mathbf{x}_w)_k (\mathbf{e}_{wv})_k\right), \quad h = 1 \dots H

        \mathbf{x}'_v &= \mathbf{x}_v + \psi\left(\mathbf{W}_u \left[\bigoplus_{h=1}^{H}
            \sum_{w \in \mathcal{N}(v)} \alpha^h_{wv} \mathbf{m}_{wv}\right] + \mathbf{b}_u\right)

    with :math:`\sigma` the logistic sigmoid and :math:`\psi` the SiLU (swish) activation.

    Args:
        channels: Width :math:`C` of node and edge states.
        heads: Number of attention heads :math:`H`.

    Shapes:
        - **input:** node states :math:`(|\mathcal{V}|, C)`, edge indices :math:`(2, |\mathcal{E}|)`,
          edge states :math:`(|\mathcal{E}|, C)`
        - **output:** node states :math:`(|\mathcal{V}|, C)`
    """

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__(aggr="add", node_dim=0)
        self.channels = channels
        self.heads = heads
        self.message_linear = nn.Linear(channels, channels)
        self.attention_linear = nn.Linear(channels, heads * channels, bias=False)
        self.update_linear = nn.Linear(heads * channels, channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor) -> Tensor:
        """Update node states (see the class docstring)."""
        keys = self.attention_linear(x).view(-1, self.heads, self.channels)
        per_head = self.propagate(edge_index, x=x, keys=keys, edge_attr=edge_attr)
        return x + functional.silu(self.update_linear(per_head.reshape(x.size(0), self.heads * self.channels)))

    def message(self, x_i: Tensor, x_j: Tensor, keys_i: Tensor, keys_j: Tensor, edge_attr: Tensor) -> Tensor:
        """Attention-weighted message of every edge, per head."""
        content = functional.silu(self.message_linear(x_i * x_j * edge_attr))
        attention = torch.sigmoid((keys_i * keys_j * edge_attr.unsqueeze(1)).mean(dim=-1))
        return attention.unsqueeze(-1) * content.unsqueeze(1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, heads={self.heads})"


class CrossTierConv(MessagePassing):
    r"""Gated messages between the nodes of two tiers linked through the sites they sit on.

    .. math::
        \mathbf{x}'_v = \operatorname{mean}_{s \in \mathcal{L}(v)}
            \sigma\left(\mathbf{z}_{sv} \mathbf{W}_f + \mathbf{b}_f\right) \odot
            \operatorname{softplus}\left(\mathbf{z}_{sv} \mathbf{W}_s + \mathbf{b}_s\right),
        \quad \mathbf{z}_{sv} = \mathbf{x}_v \oplus \mathbf{x}_s

    where :math:`\mathcal{L}(v)` are the nodes of the source tier linked to node :math:`v` of the target
    tier (CGCNN's gate, without edge features). The output is the update only; the caller adds it to
    :math:`\mathbf{x}_v`. A node without links receives zeros.

    Args:
        channels: Width of the node states of both tiers.

    Shapes:
        - **input:** node states :math:`((|\mathcal{V}_s|, C), (|\mathcal{V}_t|, C))`, link indices
          :math:`(2, |\mathcal{L}|)` from source to target
        - **output:** :math:`(|\mathcal{V}_t|, C)`
    """

    def __init__(self, channels: int) -> None:
        super().__init__(aggr="mean")
        self.channels = channels
        self.gate = nn.Linear(2 * channels, channels)
        self.value = nn.Linear(2 * channels, channels)

    def forward(self, x: tuple[Tensor, Tensor], edge_index: Tensor) -> Tensor:
        """Messages from the source tier aggregated on the target tier (see the class docstring)."""
        return self.propagate(edge_index, x=x, size=(x[0].size(0), x[1].size(0)))

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        """Gated message of one link."""
        z = torch.cat([x_i, x_j], dim=-1)
        return torch.sigmoid(self.gate(z)) * functional.softplus(self.value(z))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"


class Set2Set(nn.Module):
    r"""Set2Set readouts of MEGNet and AMDNet: attention over each set, queried by an LSTM.

    From `"Order Matters: Sequence to sequence for sets" <https://arxiv.org/abs/1511.06391>`_ (Vinyals
    et al. 2016). For every family :math:`f` of sets (e.g. the nodes and the edges of each graph), with
    its own LSTM:

    .. math::
        \mathbf{q}_t &= \mathrm{LSTM}_f\left(\mathbf{q}^{*}_{t-1}\right)

        \alpha_{i,t} &= \operatorname{softmax}_i\left(\mathbf{x}_i \cdot \mathbf{q}_t\right)

        \mathbf{r}_t &= \sum_{i} \alpha_{i,t} \mathbf{x}_i, \qquad
            \mathbf{q}^{*}_t = \mathbf{q}_t \oplus \mathbf{r}_t

    over the elements :math:`i` of each set, for :math:`t = 1 \dots T`, starting from
    :math:`\mathbf{q}^{*}_0 = \mathbf{0}`; the readout is :math:`\mathbf{q}^{*}_T`. Per family this is
    :class:`torch_geometric.nn.aggr.Set2Set`; all families are stepped together (batched LSTM gates, one
    softmax over all sets), which on CPUs costs about half as much as separate readouts of small graphs.

    Args:
        channels: Width :math:`C` of the elements.
        steps: Processing steps :math:`T`.
        families: Number of set families :math:`F`.

    Shapes:
        - **input:** per family, elements :math:`(|\mathcal{S}_f|, C)` and the set of each element
          :math:`(|\mathcal{S}_f|,)`; the number of sets :math:`B` (the same for every family)
        - **output:** per family, :math:`(B, 2C)`
    """

    def __init__(self, channels: int, steps: int, families: int = 1) -> None:
        super().__init__()
        self.channels = channels
        self.steps = steps
        self.families = families
        bound = channels**-0.5  # the initialization of torch.nn.LSTM
        self.input_weight = nn.Parameter(torch.empty(families, 2 * channels, 4 * channels).uniform_(-bound, bound))
        self.hidden_weight = nn.Parameter(torch.empty(families, channels, 4 * channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(families, 1, 4 * channels).uniform_(-bound, bound))

    def forward(self, elements: Sequence[Tensor], indices: Sequence[Tensor], num_sets: int) -> list[Tensor]:
        """Read out every set of every family (see the class docstring)."""
        if len(elements) != self.families or len(indices) != self.families:
            raise ValueError(f"expected {self.families} families of sets, got {len(elements)}")
        x = torch.cat(list(elements))
        index = torch.cat([family_index + family * num_sets for family, family_index in enumerate(indices)])
        total_sets = self.families * num_sets
        shape = (self.families, num_sets, self.channels)
        query, memory = x.new_zeros(shape), x.new_zeros(shape)
        query_star = x.new_zeros(self.families, num_sets, 2 * self.channels)
        for _ in range(self.steps):
            gates = torch.baddbmm(self.bias, query_star, self.input_weight) + torch.bmm(query, self.hidden_weight)
            input_gate, forget_gate, cell_gate, output_gate = gates.chunk(4, dim=-1)
            memory = torch.sigmoid(forget_gate) * memory + torch.sigmoid(input_gate) * torch.tanh(cell_gate)
            query = torch.sigmoid(output_gate) * torch.tanh(memory)
            flat_query = query.reshape(total_sets, self.channels)
            scores = (x * flat_query.index_select(0, index)).sum(dim=-1)
            weights = softmax(scores, index, num_nodes=total_sets)
            readout = scatter(weights.unsqueeze(-1) * x, index, dim=0, dim_size=total_sets, reduce="sum")
            query_star = torch.cat([flat_query, readout], dim=-1).view(self.families, num_sets, 2 * self.channels)
        return list(query_star.unbind(0))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels}, steps={self.steps}, families={self.families})"
