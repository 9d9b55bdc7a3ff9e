"""The fusion network: one encoder per selected tier, fused into one prediction per graph.

Fusion modes (:attr:`ModelConfig.fusion`):

* ``concat`` — AMDNet's late fusion: the tier readouts are concatenated and fed to the head;
* ``gated`` — the readouts are summed with per-graph attention weights over tiers;
* ``cross`` — after every block, each tier exchanges gated messages with the atom tier along its
  ``(t, "on", "atom")`` links (and ``(t, "has", "atom")`` memberships), then readouts are concatenated.

A tier missing from the combination simply has no encoder; tiers are ordered by name, so the same
combination always builds the same network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import cast

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from tierbench.config.model import ModelConfig
from tierbench.errors import TierbenchError
from tierbench.model.base import EncoderState, TierEncoder, TierGraph
from tierbench.model.encoders import build_encoder
from tierbench.model.layers import CrossTierConv
from tierbench.tier import TierDims
from tierbench.tier.fields import ATOM_TIER, MEMBER_OF, ON_ATOM


class ModelConfigError(TierbenchError, ValueError):
    """The model configuration does not fit the selected tiers."""


def tier_links(data: HeteroData, tier: str) -> Tensor:
    """Links ``[2, L]`` from the nodes of ``tier`` to the atoms they sit on or contain."""
    relations = [(tier, ON_ATOM, ATOM_TIER), (tier, MEMBER_OF, ATOM_TIER)]
    parts = [data[relation].edge_index for relation in relations if relation in data.edge_types]
    if not parts:
        raise KeyError(f"the batch holds no links from {tier!r} to the atom tier")
    return torch.cat(parts, dim=1)


class CrossTierExchange(nn.Module):
    r"""One round of messages between the atom tier and every other tier.

    .. math::
        \mathbf{x}'_a = \mathbf{x}_a + \sum_{t} \mathrm{CT}_{t \to a}(\mathbf{x}_t, \mathbf{x}_a),
        \qquad \mathbf{x}'_t = \mathbf{x}_t + \mathrm{CT}_{a \to t}(\mathbf{x}_a, \mathbf{x}_t)

    with :class:`~tierbench.model.layers.CrossTierConv` over the links between tier :math:`t` and the
    atoms; both directions read the states from before the exchange.

    Args:
        tiers: The non-atom tiers.
        channels: Width of the node states.
    """

    def __init__(self, tiers: list[str], channels: int) -> None:
        super().__init__()
        self.to_atoms = nn.ModuleDict({tier: CrossTierConv(channels) for tier in tiers})
        self.from_atoms = nn.ModuleDict({tier: CrossTierConv(channels) for tier in tiers})

    def forward(self, states: dict[str, EncoderState], links: Mapping[str, Tensor]) -> dict[str, EncoderState]:
        """Exchange node states; ``links[t]`` goes from the nodes of ``t`` to the atoms."""
        atoms = states[ATOM_TIER]
        atom_update = torch.zeros_like(atoms.x)
        exchanged = dict(states)
        for tier, conv in self.to_atoms.items():
            tier_x, link = states[tier].x, links[tier]
            atom_update = atom_update + conv((tier_x, atoms.x), link)
            tier_update = self.from_atoms[tier]((atoms.x, tier_x), link.flip(0))
            exchanged[tier] = replace(states[tier], x=tier_x + tier_update)
        exchanged[ATOM_TIER] = replace(atoms, x=atoms.x + atom_update)
        return exchanged


class GatedSum(nn.Module):
    r"""Attention-weighted sum of the tier readouts.

    .. math::
        \beta_t = \operatorname{softmax}_t\left(\mathbf{q}^\top \tanh(\mathbf{W}\mathbf{r}_t + \mathbf{b})\right),
        \qquad \mathbf{r} = \sum_t \beta_t \mathbf{r}_t

    Args:
        channels: Width of the readouts.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.key = nn.Linear(channels, channels)
        self.query = nn.Linear(channels, 1, bias=False)

    def weights(self, readouts: Tensor) -> Tensor:
        """Tier weights ``[B, T]`` of readouts ``[B, T, C]``."""
        return torch.softmax(self.query(torch.tanh(self.key(readouts))).squeeze(-1), dim=-1)

    def forward(self, readouts: Tensor) -> Tensor:
        """Fused readout ``[B, C]`` of readouts ``[B, T, C]``."""
        return (self.weights(readouts).unsqueeze(-1) * readouts).sum(dim=1)


class FusionNetwork(nn.Module):
    """Per-tier encoders, fusion, and an output head.

    Args:
        tier_dims: Tier name → feature widths, for every tier of the combination.
        config: Model configuration.
        num_outputs: Outputs per graph (targets; 1 logit for binary classification).

    Raises:
        ModelConfigError: No tiers, ``cross`` fusion without the atom tier or with encoders of different
            depths, or an encoder that cannot encode its tier.
    """

    def __init__(self, tier_dims: Mapping[str, TierDims], config: ModelConfig, num_outputs: int) -> None:
        super().__init__()
        if not tier_dims:
            raise ModelConfigError("the fusion model needs at least one tier")
        self.tiers = sorted(tier_dims)
        try:
            self.encoders = nn.ModuleDict(
                {
                    tier: build_encoder(
                        tier,
                        tier_dims[tier],
                        config.encoder_for(tier),
                        channels=config.hidden_dim,
                        readout_dim=config.readout_dim,
                        mlp_channels=config.mlp_dim,
                    )
                    for tier in self.tiers
                }
            )
        except ValueError as error:
            raise ModelConfigError(str(error)) from error
        self.exchanges = nn.ModuleList(self._exchanges(config)) if config.fusion == "cross" else None
        self.gate = GatedSum(config.readout_dim) if config.fusion == "gated" else None
        fused_dim = config.readout_dim * (1 if config.fusion == "gated" else len(self.tiers))
        self.head = nn.Sequential(
            nn.Linear(fused_dim, config.head_dim),
            nn.SiLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.head_dim, num_outputs),
        )

    def _exchanges(self, config: ModelConfig) -> list[CrossTierExchange]:
        if ATOM_TIER not in self.tiers:
            raise ModelConfigError(
                f"cross fusion exchanges messages through the atom tier, which is not selected "
                f"(tiers: {', '.join(self.tiers)}); add 'atom' or use fusion 'concat' or 'gated'"
            )
        depths = {tier: config.encoder_for(tier).blocks for tier in self.tiers}
        if len(set(depths.values())) > 1:
            raise ModelConfigError(
                "cross fusion exchanges messages after every block, so every encoder needs the same number "
                f"of blocks; got {', '.join(f'{tier}: {blocks}' for tier, blocks in depths.items())}"
            )
        others = [tier for tier in self.tiers if tier != ATOM_TIER]
        return [CrossTierExchange(others, config.hidden_dim) for _ in range(depths[ATOM_TIER])]

    def encoder(self, tier: str) -> TierEncoder:
        """The encoder of ``tier``."""
        return cast(TierEncoder, self.encoders[tier])

    def readouts(self, data: HeteroData) -> dict[str, Tensor]:
        """Tier name → readout ``[B, readout_dim]`` of a multi-tier batch."""
        states = {tier: self.encoder(tier).start(TierGraph.from_batch(data, tier)) for tier in self.tiers}
        if self.exchanges is None:
            for tier in self.tiers:
                for index in range(self.encoder(tier).num_blocks):
                    states[tier] = self.encoder(tier).step(index, states[tier])
        else:
            links = {tier: tier_links(data, tier) for tier in self.tiers if tier != ATOM_TIER}
            for index, exchange in enumerate(self.exchanges):
                states = {tier: self.encoder(tier).step(index, states[tier]) for tier in self.tiers}
                states = exchange(states, links)
        return {tier: self.encoder(tier).finish(states[tier]) for tier in self.tiers}

    def forward(self, data: HeteroData) -> Tensor:
        """Raw outputs ``[B, num_outputs]`` (standardized targets, or logits)."""
        readouts = self.readouts(data)
        if self.gate is not None:
            fused = self.gate(torch.stack([readouts[tier] for tier in self.tiers], dim=1))
        else:
            fused = torch.cat([readouts[tier] for tier in self.tiers], dim=-1)
        return self.head(fused)
