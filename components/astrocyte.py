"""Astrocyte (NALSM): one global astrocyte that steers a liquid's STDP toward criticality."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


class Astrocyte(Block):
    """A global astrocyte that sets the depression rate of the liquid's STDP from the balance of
    liquid and input activity (the paper's route to the edge of chaos; what it does here, over
    seeds and liquid sizes, is in docs/claims.md: with these defaults it drives liquids of
    200-1,000 neurons from super- and sub-critical starts to the same operating point, where the
    liquid fires about as fast as its input and the branching factor sits somewhat below 1).

    Seed paper: "Increasing Liquid State Machine Performance with Edge-of-Chaos Dynamics
    Organized by Astrocyte-modulated Plasticity" (NALSM, Ivanov & Michmizos 2021); as in its
    reference code (combra-lab/NALSM, NALSM_ASTRO.py and NALSM_STDP.py): one leaky integrator
    ``a <- a + dt/tau_a (-a + w_liq L - w_in I + bias)`` of the liquid's and the input's spikes
    (L, I), whose output ``modulation = gain * a`` is the factor on the STDP *depression* rate;
    the potentiation rate stays fixed. Wire ``modulation`` to an STDP with ``modulated =
    "depression"``: a liquid more active than its input depresses its synapses harder, a quieter
    one less (a negative ``a`` turns depression into potentiation, as in the reference, which
    does not clip it). At ``bias = 1`` and balanced activity the STDP runs at its plain rates
    (the reference starts the depression rate at the potentiation rate, bias offset 0).

    Size rule (``per_neuron``, on by default): L and I are the mean spikes per neuron and step,
    not the reference's total counts. The reference weighs total counts and hand-sets the weight
    per liquid size (0.015 for 1,000 neurons, 0.0075 for 8,000, its README), and its set point
    "liquid spikes = input spikes" moves with the size (784 inputs); per neuron, the set point is
    "liquid rate = input rate" and one weight serves every size. The default ``w = 100`` is the
    reference's 1,000-neuron weight in these units (0.015 per spike over its initial rate 0.15,
    times 1,000 neurons). ``per_neuron = False`` gives total counts (files saved before the rule).

    Branching factor (probe ``branching``, as in the paper's analysis): wire the optional
    ``liquid`` output to the liquid's recurrent Projection (``plasticity`` input; it changes no
    weight, it only reads the connectivity). For each neuron spiking at step c, descendants are
    spikes of its postsynaptic neurons in the ``bf_window`` after c, ancestors spikes of its
    presynaptic neurons in the window before c; the step's value is the mean over spiking
    neurons of descendants / max(ancestors, 1), and the probe is its running mean over
    ``tau_bf``. It is evaluated ``bf_window`` late (it needs the future window).
    """

    category = "astrocytes"
    n = param.Integer(1, bounds=(1, 1), doc="one global astrocyte per liquid")
    tau_a = param.Number(100.0, bounds=(0.01, None), doc="astrocyte time constant (ms)")
    w_in = param.Number(100.0, doc="weight of the input activity (lowers the depression); per mean spike per "
                                   "neuron and step, or per spike with per_neuron off")
    w_liq = param.Number(100.0, doc="weight of the liquid activity (raises the depression); per mean spike per "
                                    "neuron and step, or per spike with per_neuron off")
    per_neuron = param.Boolean(True, doc="size rule: weigh mean spikes per neuron (rates), so one set of weights "
                                         "serves every liquid and input size; off: total counts, as the reference")
    bias = param.Number(1.0, doc="constant drive: the depression factor at balanced activity")
    gain = param.Number(1.0, doc="modulation = gain * a")
    bf_window = param.Number(4.0, bounds=(0.0, None), doc="branching factor window (ms)")
    tau_bf = param.Number(500.0, bounds=(0.01, None), doc="branching factor running mean time constant (ms)")
    structural = ("bf_window",)
    file_defaults = {"per_neuron": {"per_neuron": False, "w_in": 0.02, "w_liq": 0.02}}  # before the size rule
    footprint = {"memory": (("bf_window/dt", 2, "batch", "liquid_activity"),),
                 "step": (("bf_window/dt", 2, "batch", "liquid_activity"),)}

    inputs = {
        "input_activity": Port("spikes", size=None, doc="spikes of the liquid's input"),
        "liquid_activity": Port("spikes", size=None, required=True, doc="spikes of the liquid"),
    }
    outputs = {
        "modulation": Port("modulation", doc="STDP depression-rate factor (wire to STDP.modulation, modulated='depression')"),
        "liquid": Port("plasticity", size=None, doc="optional: wire to the liquid's recurrent Projection to "
                                                    "measure the branching factor along its synapses"),
    }
    probes = {
        "astrocyte": Probe("a", "trace", "astrocyte state"),
        "branching": Probe("bf", "scalar", "branching factor (running mean)"),
    }

    def derive(self, p, dt):
        return {"decay_bf": exp_decay(dt, p.tau_bf)}

    def check(self, ctx):
        n = ctx.sizes["liquid_activity"]
        if "target_pre" in ctx.sizes and not (ctx.sizes["target_pre"] == ctx.sizes["target_post"] == n):
            raise ValueError(f"the liquid output must go to a recurrent projection of the {n} liquid neurons, not "
                             f"{ctx.sizes['target_pre']} -> {ctx.sizes['target_post']}")

    def init_state(self, ctx, p):
        W = max(1, int(round(self.bf_window / ctx.dt)))
        n = ctx.sizes["liquid_activity"]
        return {"a": ctx.zeros(ctx.batch, 1) + p.bias, "bf": ctx.zeros(ctx.batch, 1), "bf_now": ctx.zeros(ctx.batch, 1),
                "history": ctx.zeros(2 * W + 1, ctx.batch, n), "seen": torch.zeros(ctx.batch, 1, dtype=torch.bool)}

    def _branching(self, ctx, p, state, syn, spikes):
        hist = state["history"]
        slots = hist.shape[0]
        W = slots // 2
        hist[ctx.t % slots] = spikes
        if ctx.t < slots - 1:
            return
        order = [(ctx.t - slots + 1 + k) % slots for k in range(slots)]  # oldest .. newest
        before = hist[order[:W]].sum(0)
        centre = hist[order[W]]
        after = hist[order[W + 1:]].sum(0)
        anc = torch.zeros_like(centre).index_add_(1, syn.post, before[:, syn.pre])
        desc = torch.zeros_like(centre).index_add_(1, syn.pre, after[:, syn.post])
        count = centre.sum(1, keepdim=True)
        ratio = (centre * desc / anc.clamp(min=1)).sum(1, keepdim=True) / count.clamp(min=1)
        has = count > 0
        first = has & ~state["seen"]
        bf = torch.where(first, ratio, state["bf"])  # start the running mean at the first value
        bf = torch.where(has & ~first, p.decay_bf * bf + (1 - p.decay_bf) * ratio, bf)
        state["bf"], state["bf_now"] = bf, torch.where(has, ratio, state["bf_now"])
        state["seen"] = state["seen"] | has

    def step(self, ctx, p, state, inputs):
        liquid = inputs["liquid_activity"]
        count = (lambda s: s.mean(1, keepdim=True)) if self.per_neuron else (lambda s: s.sum(1, keepdim=True))
        drive = p.w_liq * count(liquid) + p.bias
        if "input_activity" in inputs:
            drive = drive - p.w_in * count(inputs["input_activity"])
        a = state["a"] = state["a"] + (ctx.dt / p.tau_a) * (drive - state["a"])
        if "target" in inputs:
            self._branching(ctx, p, state, inputs["target"]["synapses"], liquid)
        return {"modulation": p.gain * a}
