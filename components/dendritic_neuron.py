"""DendriticNeuron: neurons with active dendritic segments that detect sparse patterns."""
from math import comb

import param
import torch

from .base import Block, Port, Probe, Table


class DendriticNeuron(Block):
    """Neurons whose dendritic segments each fire (an NMDA spike) when at least ``theta`` of
    their ``s`` synapses see an active input.

    Seed paper: "How do neurons operate on sparse distributed representations? A mathematical
    theory of sparsity, neurons and active dendrites" (Ahmad & Hawkins 2016). Variant: binary
    synapses; each of the ``n * n_segments`` segments samples ``s`` distinct inputs uniformly at
    random from the wired input (or takes the input indices given in ``segment_inputs``, e.g.
    a subsample of a stored pattern's active bits, which is how a segment learns a pattern);
    a neuron spikes when any of its segments is active (the paper's "OR of segments").
    ``false_match_probability`` gives the paper's analytic chance that a random pattern with
    ``a`` of ``n_in`` active matches a segment:
    ``sum_{b=theta}^{s} C(s, b) C(n_in - s, a - b) / C(n_in, a)``.
    """

    category = "neurons"
    n = param.Integer(10, bounds=(1, None), doc="number of neurons")
    n_segments = param.Integer(10, bounds=(1, None), doc="dendritic segments per neuron")
    s = param.Integer(20, bounds=(1, None), doc="synapses per segment")
    theta = param.Integer(8, bounds=(1, None), doc="segment threshold (active synapses needed)")
    segment_inputs = Table(default=[], index_columns=None, doc="optional: per segment, a list of s input indices")
    seed = param.Integer(None, allow_None=True, doc="own seed for the synapse sampling (default: the circuit's)")

    footprint = {"memory": (("n", "n_segments", "input", 2), ("batch", "n", "n_segments", 3)),
                 "build": (("n", "n_segments", "input", 20),),
                 "step": (("batch", "n", "n_segments", "s", 2),)}

    inputs = {"input": Port("spikes", size=None, required=True, doc="presynaptic (sparse) activity")}
    outputs = {"spikes": Port("spikes", doc="1.0 where any segment of a neuron is active")}
    probes = {
        "spikes": Probe("spikes", "raster", "neuron output"),
        "segments": Probe("segment_active", "heatmap", "active segments (neuron x segment)"),
        "overlap": Probe("overlap", "heatmap", "active synapses per segment"),
    }

    @staticmethod
    def false_match_probability(n_in: int, a: int, s: int, theta: int) -> float:
        """Probability that a uniformly random pattern with ``a`` of ``n_in`` active has at least
        ``theta`` active among a segment's ``s`` synapses (Ahmad & Hawkins 2016, eq. for
        false positives)."""
        return sum(comb(s, b) * comb(n_in - s, a - b) for b in range(theta, min(s, a) + 1)) / comb(n_in, a)

    def check(self, ctx):
        n_in = ctx.sizes["input"]
        if self.s > n_in:
            raise ValueError(f"s={self.s} synapses per segment but the input has only {n_in} channels")
        if self.theta > self.s:
            raise ValueError(f"theta={self.theta} is more than s={self.s}: no segment could ever fire")
        if self.segment_inputs:
            if len(self.segment_inputs) != self.n * self.n_segments:
                raise ValueError(f"segment_inputs has {len(self.segment_inputs)} rows, expected n*n_segments="
                                 f"{self.n * self.n_segments}")
            for i, row in enumerate(self.segment_inputs):
                if len(row) != self.s or not all(0 <= j < n_in for j in row):
                    raise ValueError(f"segment_inputs row {i} must hold s={self.s} indices in [0, {n_in})")

    def init_state(self, ctx, p):
        n_in, segs = ctx.sizes["input"], self.n * self.n_segments
        if self.segment_inputs:
            idx = torch.tensor(self.segment_inputs, dtype=torch.long)
        else:
            gen = ctx.generator if self.seed is None else torch.Generator().manual_seed(self.seed)
            keys = torch.rand(segs, n_in, generator=gen, dtype=torch.float64, device=gen.device)
            idx = torch.argsort(keys, dim=1)[:, : self.s]  # s distinct inputs per segment
        z = ctx.zeros(ctx.batch, self.n, self.n_segments)
        return {"synapse_inputs": idx.to(ctx.device), "segment_active": z, "overlap": z.clone()}

    def step(self, ctx, p, state, inputs):
        x = inputs["input"]  # (batch, n_in)
        overlap = x[:, state["synapse_inputs"]].sum(-1).reshape(ctx.batch, self.n, self.n_segments)
        active = (overlap >= self.theta).to(ctx.dtype)
        state["overlap"], state["segment_active"] = overlap, active
        return {"spikes": active.amax(-1)}
