"""Shared maths for the seed learning rules that act on a Projection's sparse synapses.

Helpers only (no block here): presynaptic traces, the linear postsynaptic activity
``y_j = sum_i w_ij x_i`` of a projection, and dense views of per-synapse quantities.
"""
from __future__ import annotations

import torch


def linear_post(syn, x: torch.Tensor) -> torch.Tensor:
    """``y[b, j] = sum over synapses i->j of w[b, syn] * x[b, i]`` for the synapse list ``syn``."""
    contrib = syn.w * x[:, syn.pre]  # (batch, n_syn); a (1, n_syn) weight row broadcasts
    y = torch.zeros(contrib.shape[0], syn.n_post, dtype=x.dtype, device=x.device)
    y.index_add_(1, syn.post, contrib)
    return y


def require_plastic_rows(syn, batch: int, who: str) -> None:
    """A rule that writes weights needs one weight row per batch row (a plastic projection)."""
    if syn.w.shape[0] not in (1, batch):
        raise ValueError(f"{who}: the projection's weights have {syn.w.shape[0]} rows for a batch of {batch}")


def per_synapse(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather a per-neuron (batch, n) tensor onto synapses through ``index`` (syn.pre or syn.post)."""
    return values[:, index]
