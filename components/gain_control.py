"""GainControl: single-neuron gains in a (optionally recurrent) population, set by an
efficient-coding trade-off between stimulus fidelity and total activity."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


def efficient_gains(second_moment, variance, cost, noise):
    """Per-neuron gains maximising ``sum_i [1/2 log(1 + g_i^2 Var(u_i) / noise^2)] -
    cost * sum_i g_i^2 E[u_i^2]``: the information each neuron's noisy response ``g_i u_i +
    noise`` carries about its input u_i (Gaussian channel), minus the cost of its mean squared
    activity. Setting the derivative to zero gives ``g_i^2 = 1 / (2 cost E[u_i^2]) - noise^2 /
    Var(u_i)``, clipped at 0 (a neuron whose input barely varies is not worth its activity)."""
    g2 = 1.0 / (2.0 * cost * second_moment.clamp(min=1e-12)) - noise ** 2 / variance.clamp(min=1e-12)
    return g2.clamp(min=0.0).sqrt()


class GainControl(Block):
    """A population of ``n`` rate neurons whose single-neuron gains ``g`` adapt to the
    statistics of their input: ``r = g * u`` with ``u = current + recurrence * K r``, solved
    at steady state each step, ``r = (I - recurrence G K)^-1 G current`` (``K``: a ring of
    excitatory lateral weights between neurons of nearby index, von Mises profile of width
    ``width`` neurons, rows summing to 1; ``recurrence`` = 0: no recurrence, ``r = g * current``;
    the steady state is the network's only if ``recurrence * max(g)`` < 1: keep g_max below
    1 / recurrence).

    Seed paper: "Adaptive coding efficiency in recurrent cortical circuits via gain control"
    (Duong, Bredenberg, Heeger & Simoncelli 2023): single-neuron gains in a recurrent network,
    modulated to maximise the fidelity of the stimulus representation while minimising total
    activity; the gain changes propagate through the recurrent weights and produce the
    population adaptation effects measured in V1 (reduced responses to the adapter, tuning
    curves repelled from it). ``rule = "efficient"`` (default): each gain relaxes, at rate
    ``eta_g`` per second, toward the closed form of ``efficient_gains`` computed from running
    estimates (time constant ``tau_r``) of the mean and mean square of the neuron's total input
    u (feedforward and recurrent), clipped to [g_min, g_max]. Where we differ: the paper's own
    objective and closed form could not be read here (its text was not reachable), so the
    objective is ours, built from the abstract's statement of it: Gaussian-channel information
    about each neuron's input minus ``activity_cost`` times total mean squared activity, per neuron
    (``noise``: the response noise sd); the paper fits its network to V1 data, ours is a ring.
    ``rule = "homeostatic"``: the earlier variant, ``g <- g + dt eta_g (r_target - r) g`` with r
    the running mean activity (the rate of ``spikes`` if wired, else the rectified response),
    a generic homeostatic gain (capped at g_max = 1 it can only fall). ``eta_g = 0`` freezes
    the gains.
    """

    category = "plasticity"
    n = param.Integer(10, bounds=(1, None), doc="number of neurons")
    rule = param.Selector(default="efficient", objects=["efficient", "homeostatic"],
                          doc="efficient: the fidelity-vs-activity gains; homeostatic: hold activity at r_target")
    eta_g = param.Number(1.0, bounds=(0.0, None), doc="gain adaptation rate (per second; homeostatic: per unit activity per second)")
    activity_cost = param.Number(0.5, bounds=(1e-9, None), doc="efficient: weight of the activity cost")
    noise = param.Number(0.1, bounds=(0.0, None), doc="efficient: response noise sd (input units)")
    recurrence = param.Number(0.0, bounds=(0.0, 0.95), doc="strength of the ring of lateral excitation (0: none)")
    width = param.Number(2.0, bounds=(0.1, None), doc="width of the lateral ring kernel (neurons)")
    r_target = param.Number(1.0, bounds=(0.0, None), doc="homeostatic: target activity (Hz if spikes are wired)")
    tau_r = param.Number(50.0, bounds=(0.01, None), doc="time constant of the running input/activity estimates (ms)")
    g_min = param.Number(0.01, bounds=(0.0, None), doc="lowest gain")
    g_max = param.Number(10.0, bounds=(0.0, None), doc="highest gain")
    ordered = (("g_min", "g_max"),)
    # a file that names no rule was written before it existed: it holds the homeostatic gain
    file_defaults = {"rule": {"rule": "homeostatic"}}

    inputs = {
        "current": Port("current", required=True, doc="feedforward input current"),
        "spikes": Port("spikes", doc="homeostatic: the neurons' spikes (their activity); default: the response"),
    }
    outputs = {"scaled": Port("current", doc="the population's response r (g * current without recurrence)")}
    probes = {"gain": Probe("g", "heatmap", "per-neuron gain"), "activity": Probe("r", "trace", "activity estimate")}

    def derive(self, p, dt):
        return {"decay": exp_decay(dt, p.tau_r)}

    def ring(self, dtype=torch.float64) -> torch.Tensor:
        """K: lateral weights between neurons on a ring (index distance), rows summing to 1, no self-weight."""
        idx = torch.arange(self.n, dtype=dtype)
        dist = (idx[:, None] - idx[None, :]).abs()
        dist = torch.minimum(dist, self.n - dist)
        k = torch.exp(-0.5 * (dist / self.width) ** 2)
        k.fill_diagonal_(0.0)
        total = k.sum(1, keepdim=True)
        return torch.where(total > 0, k / total.clamp(min=1e-300), k)

    def init_state(self, ctx, p):
        g0 = p.g_max.clamp(max=1.0) if self.rule == "homeostatic" else ctx.zeros(ctx.batch, 1) + 1.0
        g0 = torch.minimum(torch.maximum(g0, p.g_min), p.g_max)
        return {"g": ctx.zeros(ctx.batch, self.n) + g0, "r": ctx.zeros(ctx.batch, self.n),
                "mean_u": ctx.zeros(ctx.batch, self.n), "square_u": ctx.zeros(ctx.batch, self.n),
                "K": self.ring().to(ctx.device, ctx.dtype)}

    def respond(self, g, current, recurrence, K):
        """Steady-state response and total input: r = g u, u = current + recurrence K r."""
        if self.n == 1 or not bool((recurrence > 0).any()):
            return g * current, current
        eye = torch.eye(self.n, dtype=current.dtype, device=current.device)
        system = eye - recurrence[:, :, None] * g[:, :, None] * K[None]
        r = torch.linalg.solve(system, (g * current).unsqueeze(-1)).squeeze(-1)
        return r, current + recurrence * (r @ K.T)

    def step(self, ctx, p, state, inputs):
        g = state["g"]
        out, u = self.respond(g, inputs["current"], p.recurrence, state["K"])
        rate = (ctx.dt * 1e-3) * p.eta_g
        if self.rule == "efficient":
            m = state["mean_u"] = state["mean_u"] * p.decay + (1 - p.decay) * u
            sq = state["square_u"] = state["square_u"] * p.decay + (1 - p.decay) * u * u
            state["r"] = state["r"] * p.decay + (1 - p.decay) * out
            target = efficient_gains(sq, sq - m * m, p.activity_cost, p.noise)
            g = g + rate.clamp(max=1.0) * (target - g)
        else:
            activity = inputs["spikes"] * (1000.0 / ctx.dt) if "spikes" in inputs else out.clamp(min=0)
            r = state["r"] = state["r"] * p.decay + (1 - p.decay) * activity
            g = g + rate * (p.r_target - r) * g
        state["g"] = torch.minimum(torch.maximum(g, p.g_min), p.g_max)
        return {"scaled": out}

