"""AdaptiveLIF: LIF neurons with a spike-triggered adaptive threshold and homeostatic control."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


class AdaptiveLIF(Block):
    """LIF neurons whose threshold adapts to their own firing and homeostatically to a target rate.

    Seed paper: "Need is All You Need: Homeostatic Neural Networks Adapt to Concept Shift"
    (Man, Damasio, Neven 2022), whose neurons regulate their own operating point. Variant
    implemented (the catalogue's): the membrane is the exact LIF update of ``LIFPopulation``;
    the threshold is ``v_th + theta + h`` where
      - ``theta <- theta e^(-dt/tau_theta) + d_theta * spike`` (fast spike-triggered adaptation,
        relaxing to 0, i.e. the threshold relaxes to ``v_th``),
      - ``h <- h + dt * eta_h * (r - target_rate)`` (slow homeostatic integral control, in mV
        per (Hz s)), with ``r`` the neuron's own rate estimate
        ``r <- r e^(-dt/tau_rate) + spike * 1000/tau_rate`` (Hz).
    So each neuron's rate converges to ``target_rate`` whatever its input level; ``eta_h = 0``
    switches homeostasis off (plain adaptive LIF).
    """

    category = "neurons"
    n = param.Integer(100, bounds=(1, None), doc="number of neurons")
    tau_m = param.Number(20.0, bounds=(0.01, None), doc="membrane time constant (ms)")
    E_L = param.Number(-65.0, doc="resting potential (mV)")
    v_th = param.Number(-50.0, doc="baseline spike threshold (mV)")
    v_reset = param.Number(-65.0, doc="reset potential (mV)")
    t_ref = param.Number(2.0, bounds=(0.0, None), doc="refractory period (ms)")
    R = param.Number(1.0, bounds=(0.0, None), doc="membrane resistance (mV per unit current)")
    d_theta = param.Number(1.0, bounds=(0.0, None), doc="threshold jump per spike (mV)")
    tau_theta = param.Number(100.0, bounds=(0.01, None), doc="threshold adaptation time constant (ms)")
    target_rate = param.Number(20.0, bounds=(0.0, None), doc="homeostatic target rate (Hz)")
    eta_h = param.Number(1.0, bounds=(0.0, None), doc="homeostatic gain (mV per Hz per s); 0 = off")
    tau_rate = param.Number(200.0, bounds=(0.01, None), doc="rate estimate time constant (ms)")

    inputs = {"current": Port("current", doc="input current (summed over wires)")}
    outputs = {
        "spikes": Port("spikes", doc="1.0 where a neuron spiked this step"),
        "v": Port("value", doc="membrane potential (mV)"),
    }
    probes = {
        "spikes": Probe("spikes", "raster", "spike raster"),
        "v": Probe("v", "trace", "membrane potential (mV)"),
        "threshold": Probe("threshold", "trace", "effective threshold (mV)"),
        "rate": Probe("rate", "trace", "homeostatic rate estimate (Hz)"),
    }

    def derive(self, p, dt):
        return {"decay": exp_decay(dt, p.tau_m), "decay_theta": exp_decay(dt, p.tau_theta),
                "decay_rate": exp_decay(dt, p.tau_rate), "ref_steps": torch.round(p.t_ref / dt)}

    def init_state(self, ctx, p):
        z = ctx.zeros(ctx.batch, self.n)
        return {"v": p.E_L + z, "refractory": z.clone(), "theta": z.clone(), "h": z.clone(),
                "rate": z.clone(), "threshold": p.v_th + z}

    def step(self, ctx, p, state, inputs):
        v, countdown = state["v"], state["refractory"]
        countdown = (countdown - 1).clamp_(min=0)
        active = countdown == 0
        current = inputs.get("current")
        drive = 0.0 if current is None else p.R * current
        v_free = p.E_L + (v - p.E_L) * p.decay + drive * (1 - p.decay)
        v = torch.where(active, v_free, v)
        threshold = p.v_th + state["theta"] + state["h"]
        spiked = (v >= threshold) & active
        s = spiked.to(ctx.dtype)
        v = torch.where(spiked, p.v_reset, v)
        state["v"] = v
        state["refractory"] = torch.where(spiked, p.ref_steps.expand_as(countdown), countdown)
        state["theta"] = state["theta"] * p.decay_theta + p.d_theta * s
        state["rate"] = state["rate"] * p.decay_rate + s * (1000.0 / p.tau_rate)
        state["h"] = state["h"] + (ctx.dt * 1e-3) * p.eta_h * (state["rate"] - p.target_rate)
        state["threshold"] = p.v_th + state["theta"] + state["h"]
        return {"spikes": s, "v": v}
