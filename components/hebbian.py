"""Hebbian: plain Hebb or Oja's normalised Hebbian rule, a learning rule on a Projection."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post


class Hebbian(Block):
    """Rate-based Hebbian learning on the Projection wired to ``rule``.

    Presynaptic activity is a trace ``x <- x e^(-dt/tau_pre) + s_pre`` (a tiny ``tau_pre``
    makes ``x`` the spikes themselves). Postsynaptic activity ``y`` is linear, ``y_j = sum_i
    w_ij x_i`` (the classic Oja neuron), or, if ``post`` is wired, a trace of those spikes.
    Every step, for every synapse:
      - ``oja`` (Oja 1982): ``dw_ij = eta (y_j x_i - y_j^2 w_ij)``; the weight vector of a linear
        neuron converges to the unit-norm first principal component of E[x x^T];
      - ``hebb``: ``dw_ij = eta y_j x_i`` (grows without bound: a baseline for comparison).
    """

    category = "plasticity"
    variant = param.Selector(default="oja", objects=["oja", "hebb"], doc="learning rule")
    eta = param.Number(0.001, bounds=(0.0, None), doc="learning rate")
    tau_pre = param.Number(0.01, bounds=(0.001, None), doc="presynaptic trace time constant (ms)")
    tau_post = param.Number(0.01, bounds=(0.001, None), doc="postsynaptic trace time constant (ms), if post is wired")

    inputs = {"post": Port("spikes", size=None, doc="postsynaptic spikes (default: linear y = w.x)")}
    outputs = {"rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input")}
    probes = {
        "y": Probe("y", "trace", "postsynaptic activity"),
        "norm": Probe("norm", "trace", "norm of each postsynaptic neuron's weight vector"),
    }

    def derive(self, p, dt):
        return {"decay_pre": exp_decay(dt, p.tau_pre), "decay_post": exp_decay(dt, p.tau_post)}

    def check(self, ctx):
        if "post" in ctx.sizes and ctx.sizes["post"] != ctx.sizes["target_post"]:
            raise ValueError(f"post has {ctx.sizes['post']} neurons but the projection targets {ctx.sizes['target_post']}")

    def init_state(self, ctx, p):
        n_post = ctx.sizes["target_post"]
        return {"x": ctx.zeros(ctx.batch, ctx.sizes["target_pre"]), "y": ctx.zeros(ctx.batch, n_post),
                "norm": ctx.zeros(ctx.batch, n_post)}

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        if "post" in inputs:
            y = state["y"].mul_(p.decay_post).add_(inputs["post"])
        else:
            y = state["y"] = linear_post(syn, x)
        y_syn = y[:, syn.post]
        dw = y_syn * x[:, syn.pre]
        if self.variant == "oja":
            dw = dw - y_syn * y_syn * syn.w
        syn.w.add_(p.eta * dw)
        sq = torch.zeros_like(state["norm"]).index_add_(1, syn.post, syn.w * syn.w)
        state["norm"] = sq.sqrt()
        return {}
