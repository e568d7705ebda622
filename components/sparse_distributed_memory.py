"""SparseDistributedMemory: a binary associative memory of sparse distributed codes."""
import param
import torch

from .base import Block, Port, Probe
from .memory_patterns import stored_patterns


class SparseDistributedMemory(Block):
    """Content-addressable memory of sparse binary codes (k of n active): the Willshaw-style
    clipped-Hebbian auto-associator used for sparse distributed representations (the variant
    behind "Superposed Episodic and Semantic Memory via Sparse Distributed Representation" and
    hippocampal CA3 models). Storing a code x sets ``W_ij <- max(W_ij, x_i x_j)`` (idempotent);
    recall takes the dendritic sums ``h = W^T cue`` (overlap of the cue with each unit's stored
    associations) and keeps the k largest (k-winners-take-all).
    Honestly named: this is Willshaw's memory, not Kanerva's sparse distributed memory (hard
    locations, an address decoder and counters), and not the spiking CA3 model; the block keeps
    its historical name so circuit files load.

    Patterns: the seeded sparse set shared with PatternCue (``kind='sparse'``), plus, if the
    ``store`` input is wired, every non-zero code arriving there (per batch row). Watch:
    ``load`` (fraction of W set; recall degrades as it approaches 1), ``recall_overlap``.
    """

    category = "memory"
    n = param.Integer(1000, bounds=(1, None), doc="number of units")
    k = param.Integer(20, bounds=(1, None), doc="active units per code")
    n_patterns = param.Integer(100, bounds=(0, None), doc="seeded codes stored at the start")
    seed = param.Integer(0, doc="seed of the stored code set")
    footprint = {"memory": (("batch", "n", "n"), ("n_patterns", "n", 2), ("n", "n")),
                 "build": (("n", "n", "n_patterns"),), "step": (("batch", "n", "n", 3),)}

    inputs = {
        "cue": Port("value", required=True, doc="a (noisy) sparse code"),
        "store": Port("value", doc="codes to store (non-zero rows are written every step)"),
    }
    outputs = {"recalled": Port("value", doc="the recalled k-of-n code")}
    probes = {
        "recalled": Probe("recalled", "raster", "recalled code"),
        "recall_overlap": Probe("recall_overlap", "scalar", "fraction of the cue's active units kept"),
        "load": Probe("load", "scalar", "fraction of synapses set"),
    }

    def check(self, ctx):
        if self.k > self.n:
            raise ValueError(f"k={self.k} is more than n={self.n}")

    def init_state(self, ctx, p):
        X = stored_patterns(self.n_patterns, self.n, "sparse", self.k, self.seed).to(ctx.device, ctx.dtype)
        W = (X.T @ X > 0).to(ctx.dtype)
        rows = ctx.batch if "store" in ctx.wired else 1
        W = W.expand(rows, self.n, self.n).clone()
        return {"W": W, "recalled": ctx.zeros(ctx.batch, self.n), "recall_overlap": ctx.zeros(ctx.batch, 1),
                "load": ctx.zeros(ctx.batch, 1) + W.mean(dim=(1, 2)).reshape(-1, 1)}

    def step(self, ctx, p, state, inputs):
        W = state["W"]
        store = inputs.get("store")
        if store is not None:
            x = (store > 0).to(ctx.dtype)
            W = state["W"] = torch.maximum(W, x[:, :, None] * x[:, None, :])
            state["load"] = W.mean(dim=(1, 2)).reshape(-1, 1)
        cue = (inputs["cue"] > 0).to(ctx.dtype)
        h = torch.einsum("bi,bij->bj", cue, W.expand(ctx.batch, -1, -1))
        top = torch.topk(h, self.k, dim=1).indices
        recalled = ctx.zeros(ctx.batch, self.n).scatter_(1, top, 1.0)
        state["recalled"] = recalled
        state["recall_overlap"] = (recalled * cue).sum(1, keepdim=True) / cue.sum(1, keepdim=True).clamp_min(1)
        return {"recalled": recalled}
