"""GainControl: per-neuron multiplicative gains that adapt to hold activity near a target."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


class GainControl(Block):
    """Scales each neuron's input current by an adaptive gain ``g``: ``out = g * in``.

    Seed paper: "Adaptive coding efficiency in recurrent cortical circuits via gain control"
    (Duong et al. 2023), where single-neuron gains trade stimulus fidelity against activity.
    Variant implemented (the catalogue's simplest form): each neuron's response ``r`` is a
    running estimate, ``r <- r e^(-dt/tau_r) + (1 - e^(-dt/tau_r)) a`` of its activity ``a``:
    the rate of its ``spikes`` if wired (Hz), else the rectified gained current ``max(g in, 0)``;
    and ``g <- g + dt * eta_g * (r_target - r) * g`` (per second), clipped to [g_min, g_max].
    With ``g_max = 1`` (default) gains only fall: neurons driven above the target by an adapter
    stimulus turn down, the rest keep gain 1, so responses to the adapter fall while other
    stimuli keep their ranking. Propagated through a recurrent circuit the per-neuron gain
    changes produce the population effects the paper describes. ``eta_g = 0`` freezes gains.
    Honestly named: this is generic homeostatic gain control (capped at 1, it can only fall),
    not the gains the paper derives from its efficient-coding objective.
    """

    category = "plasticity"
    n = param.Integer(10, bounds=(1, None), doc="number of neurons")
    eta_g = param.Number(1.0, bounds=(0.0, None), doc="gain adaptation rate (per unit activity per second)")
    r_target = param.Number(1.0, bounds=(0.0, None), doc="target activity (Hz if spikes are wired)")
    tau_r = param.Number(50.0, bounds=(0.01, None), doc="activity estimate time constant (ms)")
    g_min = param.Number(0.01, bounds=(0.0, None), doc="lowest gain")
    g_max = param.Number(1.0, bounds=(0.0, None), doc="highest gain")
    ordered = (("g_min", "g_max"),)

    inputs = {
        "current": Port("current", required=True, doc="input current to be scaled"),
        "spikes": Port("spikes", doc="the neurons' spikes (their activity); default: the gained current"),
    }
    outputs = {"scaled": Port("current", doc="g * input current")}
    probes = {"gain": Probe("g", "heatmap", "per-neuron gain"), "activity": Probe("r", "trace", "activity estimate")}

    def derive(self, p, dt):
        return {"decay": exp_decay(dt, p.tau_r)}

    def init_state(self, ctx, p):
        return {"g": ctx.zeros(ctx.batch, self.n) + p.g_max.clamp(max=1.0), "r": ctx.zeros(ctx.batch, self.n)}

    def step(self, ctx, p, state, inputs):
        g = state["g"]
        out = g * inputs["current"]
        if "spikes" in inputs:
            activity = inputs["spikes"] * (1000.0 / ctx.dt)
        else:
            activity = out.clamp(min=0)
        r = state["r"] = state["r"] * p.decay + (1 - p.decay) * activity
        g = g + (ctx.dt * 1e-3) * p.eta_g * (p.r_target - r) * g
        state["g"] = torch.minimum(torch.maximum(g, p.g_min), p.g_max)
        return {"scaled": out}
