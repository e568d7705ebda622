"""SynapticDampening (SSD): unlearn a forget set by dampening the synapses it relies on most."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post


class SynapticDampening(Block):
    """Retrain-free unlearning on the Projection wired to ``rule``.

    Seed paper: "Fast Machine Unlearning Without Retraining Through Selective Synaptic
    Dampening" (SSD, Foster et al. 2023). Each synapse's importance is the mean squared
    gradient (the diagonal Fisher information) of a loss with respect to its weight, accumulated
    over the data shown while ``phase`` is 1 (the full training set, ``I_D``) or 2 (the forget
    set, ``I_f``). Entering ``phase`` 3 dampens once: where ``I_f > alpha I_D``,
    ``w <- w * min(lambda_ I_D / I_f, 1)``; phase 0 is idle (and re-arms phase 3).
    Variant: the gradient is local to the synapse, ``g_ij = e_j x_i`` with the presynaptic
    trace ``x`` and, if ``teacher`` is wired, the squared-error gradient ``e = y - teacher`` of
    the linear output ``y = W x``; otherwise ``e = y`` (the output-sensitivity importance of
    Memory Aware Synapses, so no labels are needed).
    """

    category = "plasticity"
    phase = param.Number(0.0, bounds=(0.0, 3.0), doc="0 idle, 1 importance over all data, 2 over the forget set, 3 dampen")
    alpha = param.Number(10.0, bounds=(0.0, None), doc="selection: dampen where I_f > alpha * I_D")
    lambda_ = param.Number(1.0, bounds=(0.0, None), doc="dampening strength: w *= min(lambda_ I_D / I_f, 1)")
    tau_pre = param.Number(0.01, bounds=(0.001, None), doc="presynaptic trace time constant (ms)")

    inputs = {"teacher": Port("value", size=None, doc="desired outputs (optional; default: importance of the output)")}
    outputs = {"rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input")}
    probes = {"dampened": Probe("dampened", "scalar", "number of synapses dampened")}

    def derive(self, p, dt):
        return {"decay_pre": exp_decay(dt, p.tau_pre)}

    def check(self, ctx):
        if "teacher" in ctx.sizes and ctx.sizes["teacher"] != ctx.sizes["target_post"]:
            raise ValueError(f"teacher has {ctx.sizes['teacher']} values but the projection has "
                             f"{ctx.sizes['target_post']} postsynaptic neurons")

    def init_state(self, ctx, p):
        z = ctx.zeros(ctx.batch, 1)
        return {"x": ctx.zeros(ctx.batch, ctx.sizes["target_pre"]), "I_D": None, "I_f": None,
                "n_D": z.clone(), "n_f": z.clone(), "dampened": z.clone(), "armed": torch.ones_like(z, dtype=torch.bool)}

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        if state["I_D"] is None:
            state["I_D"] = ctx.zeros(ctx.batch, len(syn))
            state["I_f"] = ctx.zeros(ctx.batch, len(syn))
        phase = p.phase.round()
        if bool(((phase == 1) | (phase == 2)).any()):
            y = linear_post(syn, x)
            e = y - inputs["teacher"] if "teacher" in inputs else y
            g2 = (e[:, syn.post] * x[:, syn.pre]) ** 2
            for k, name, count in ((1, "I_D", "n_D"), (2, "I_f", "n_f")):
                on = (phase == k).to(ctx.dtype)
                state[name].add_(on * g2)
                state[count].add_(on)
        fire = (phase == 3) & state["armed"]
        if bool(fire.any()):
            if syn.w.shape[0] != ctx.batch:
                raise ValueError("SynapticDampening needs a plastic projection (one weight row per batch row)")
            I_D = state["I_D"] / state["n_D"].clamp(min=1)
            I_f = state["I_f"] / state["n_f"].clamp(min=1)
            selected = (I_f > p.alpha * I_D) & fire
            factor = torch.where(selected, torch.clamp(p.lambda_ * I_D / I_f.clamp(min=1e-30), max=1.0),
                                 torch.ones_like(I_D))
            syn.w.mul_(factor)
            state["dampened"] = torch.where(fire, selected.sum(1, keepdim=True).to(ctx.dtype), state["dampened"])
        state["armed"] = phase != 3
        return {}
