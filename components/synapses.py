"""Sparse synapse storage and event-driven propagation, shared by projections and the rules
that act on them.

Synapses are kept as parallel arrays sorted by presynaptic neuron, with CSR row pointers, so a
step touches only the outgoing synapses of neurons that spiked: its cost follows activity, not
the number of synapses. A second index sorted by postsynaptic neuron serves rules that act on
post spikes (STDP potentiation).
"""
from __future__ import annotations

import math

import torch


def _ranges(ptr: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the index ranges ``ptr[r]:ptr[r+1]`` for each row in ``rows``.

    Returns the concatenated positions and, for each, which entry of ``rows`` it came from.
    """
    starts = ptr[rows]
    counts = ptr[rows + 1] - starts
    owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    first = torch.cumsum(counts, 0) - counts
    positions = torch.arange(len(owner), device=rows.device) - first[owner] + starts[owner]
    return positions, owner


class Synapses:
    """Connectivity (pre, post, delay) plus weights of shape (batch or 1, n_synapses)."""

    def __init__(self, pre, post, weights, delays, n_pre: int, n_post: int):
        key = pre * n_post + post
        if len(key) > 1 and bool((key[1:] < key[:-1]).any()):  # sort by pre, then post
            order = torch.argsort(key, stable=True)
            pre, post, weights, delays = pre[order], post[order], weights[..., order], delays[order]
        # Kept per synapse: post index and weight (12 bytes at float32), plus the delay only
        # when some delay is non-zero. The pre index and the index by post neuron are derived
        # when something (a rule, a dense view) first asks for them.
        self.post = post.contiguous()
        self.w = weights.contiguous()
        self.max_delay = int(delays.max()) if len(delays) else 0
        self.delay = delays.contiguous() if self.max_delay > 0 else None  # whole steps
        self.n_pre, self.n_post = n_pre, n_post
        self.ptr = torch.zeros(n_pre + 1, dtype=torch.long, device=pre.device)
        self.ptr[1:] = torch.cumsum(torch.bincount(pre, minlength=n_pre), 0)
        self._pre = self._by_post = None

    def __len__(self):
        return len(self.post)

    @property
    def pre(self) -> torch.Tensor:
        if self._pre is None:
            counts = self.ptr[1:] - self.ptr[:-1]
            self._pre = torch.repeat_interleave(torch.arange(self.n_pre, device=self.ptr.device), counts)
        return self._pre

    def nbytes(self) -> int:
        """Memory held by this synapse set (what the scaling benchmark reports)."""
        tensors = [self.post, self.w, self.delay, self.ptr, self._pre, *(self._by_post or ())]
        return sum(t.numel() * t.element_size() for t in tensors if t is not None)

    def outgoing(self, batch_rows: torch.Tensor, neurons: torch.Tensor):
        """Synapse ids leaving the given (batch row, pre neuron) events, with their batch row."""
        syn, owner = _ranges(self.ptr, neurons)
        return syn, batch_rows[owner]

    def post_index(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(synapse ids sorted by post neuron, CSR pointers per post neuron), built once."""
        if self._by_post is None:
            post_ptr = torch.zeros(self.n_post + 1, dtype=torch.long, device=self.post.device)
            post_ptr[1:] = torch.cumsum(torch.bincount(self.post, minlength=self.n_post), 0)
            self._by_post = (torch.argsort(self.post, stable=True), post_ptr)
        return self._by_post

    def incoming(self, batch_rows: torch.Tensor, neurons: torch.Tensor):
        """Synapse ids arriving at the given (batch row, post neuron) events, with their row."""
        by_post, post_ptr = self.post_index()
        pos, owner = _ranges(post_ptr, neurons)
        return by_post[pos], batch_rows[owner]

    def weights_of(self, syn: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return self.w[rows if self.w.shape[0] > 1 else 0, syn]

    def dense(self, row: int = 0) -> torch.Tensor:
        """Weights as an (n_pre, n_post) matrix for one batch row (absent synapses are 0)."""
        m = torch.zeros(self.n_pre, self.n_post, dtype=self.w.dtype, device=self.w.device)
        m.index_put_((self.pre, self.post), self.w[min(row, self.w.shape[0] - 1)], accumulate=True)
        return m


# -- connectivity generators: each returns (pre, post) int64 tensors -------------------------

def all_to_all(n_pre: int, n_post: int, device=None):
    pre = torch.arange(n_pre, device=device).repeat_interleave(n_post)
    post = torch.arange(n_post, device=device).repeat(n_pre)
    return pre, post


def one_to_one(n_pre: int, n_post: int, device=None):
    if n_pre != n_post:
        raise ValueError(f"one_to_one connectivity needs equal sizes, got {n_pre} pre and {n_post} post")
    idx = torch.arange(n_pre, device=device)
    return idx, idx.clone()


def fixed_probability(n_pre: int, n_post: int, p: float, generator: torch.Generator):
    """Each (pre, post) pair independently with probability p (an exact Bernoulli process).

    Walks the n_pre*n_post pair space by geometric gaps, so the cost is O(number of synapses),
    not O(n_pre*n_post).
    """
    total = n_pre * n_post
    if p <= 0 or total == 0:
        empty = torch.zeros(0, dtype=torch.long)
        return empty, empty.clone()
    if p >= 1:
        return all_to_all(n_pre, n_post)
    log_q = math.log1p(-p)
    chunks, position = [], -1
    while position < total:
        expected = int((total - position) * p)
        k = expected + 6 * int(math.sqrt(expected + 1)) + 16
        u = torch.rand(k, generator=generator, dtype=torch.float64)
        # >= 1, geometric(p); capped before the integer cast, which a tiny p would overflow
        gaps = torch.floor(torch.log1p(-u) / log_q).clamp_(max=float(total)).long() + 1
        idx = position + torch.cumsum(gaps, 0)
        chunks.append(idx[idx < total])
        position = int(idx[-1])
    flat = torch.cat(chunks)
    return flat // n_post, flat % n_post
