"""Shared maths for the seed learning rules that act on a Projection's sparse synapses.

Helpers only (no block here): the linear postsynaptic activity ``y_j = sum_i w_ij x_i`` of a
projection.
"""
from __future__ import annotations

import torch


def linear_post(syn, x: torch.Tensor) -> torch.Tensor:
    """``y[b, j] = sum over synapses i->j of w[b, syn] * x[b, i]`` for the synapse list ``syn``."""
    contrib = syn.w * x[:, syn.pre]  # (batch, n_syn); a (1, n_syn) weight row broadcasts
    y = torch.zeros(contrib.shape[0], syn.n_post, dtype=x.dtype, device=x.device)
    y.index_add_(1, syn.post, contrib)
    return y
