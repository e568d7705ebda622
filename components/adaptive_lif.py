"""AdaptiveLIF: LIF neurons with a spike-triggered adaptive threshold and homeostatic control."""
import param
import torch

from .base import Probe, exp_decay
from .lif_population import LIFPopulation


class AdaptiveLIF(LIFPopulation):
    """LIF neurons whose threshold adapts to their own firing and homeostatically to a target rate.

    Not from a seed paper: this is the generic adaptive-threshold LIF (spike-triggered threshold
    adaptation as in the ALIF neurons of Bellec et al. 2018, a homeostatic threshold as in Diehl
    & Cook 2015). "Need is All You Need" (Man, Damasio, Neven 2022), cited here before, modulates
    *learning* from classification outcomes under concept shift, not thresholds, so it is not
    this block's source. Implemented: the membrane is the exact LIF update of ``LIFPopulation``;
    the threshold is ``v_th + theta + h`` where
      - ``theta <- theta e^(-dt/tau_theta) + d_theta * spike`` (fast spike-triggered adaptation,
        relaxing to 0, i.e. the threshold relaxes to ``v_th``),
      - ``h <- h + dt * eta_h * (r - target_rate)`` (slow homeostatic integral control, in mV
        per (Hz s)), with ``r`` the neuron's own rate estimate
        ``r <- r e^(-dt/tau_rate) + spike * 1000/tau_rate`` (Hz).
    So each neuron's rate converges to ``target_rate`` whatever its input level; ``eta_h = 0``
    switches homeostasis off (plain adaptive LIF).
    """

    v_th = param.Number(-50.0, doc="baseline spike threshold (mV)")
    d_theta = param.Number(1.0, bounds=(0.0, None), doc="threshold jump per spike (mV)")
    tau_theta = param.Number(100.0, bounds=(0.01, None), doc="threshold adaptation time constant (ms)")
    target_rate = param.Number(20.0, bounds=(0.0, None), doc="homeostatic target rate (Hz)")
    eta_h = param.Number(1.0, bounds=(0.0, None), doc="homeostatic gain (mV per Hz per s); 0 = off")
    tau_rate = param.Number(200.0, bounds=(0.01, None), doc="rate estimate time constant (ms)")

    probes = {
        **LIFPopulation.probes,
        "threshold": Probe("threshold", "trace", "effective threshold (mV)"),
        "rate": Probe("rate", "trace", "homeostatic rate estimate (Hz)"),
    }

    def derive(self, p, dt):
        return {**super().derive(p, dt), "decay_theta": exp_decay(dt, p.tau_theta),
                "decay_rate": exp_decay(dt, p.tau_rate)}

    def init_state(self, ctx, p):
        state = super().init_state(ctx, p)
        z = torch.zeros_like(state["v"])
        return {**state, "theta": z, "h": z.clone(), "rate": z.clone(), "threshold": p.v_th + z}

    def step(self, ctx, p, state, inputs):
        spiked = self.integrate(p, state, inputs.get("current"), state["threshold"])
        s = spiked.to(ctx.dtype)
        state["theta"] = state["theta"] * p.decay_theta + p.d_theta * s
        state["rate"] = state["rate"] * p.decay_rate + s * (1000.0 / p.tau_rate)
        state["h"] = state["h"] + (ctx.dt * 1e-3) * p.eta_h * (state["rate"] - p.target_rate)
        state["threshold"] = p.v_th + state["theta"] + state["h"]
        return {"spikes": s, "v": state["v"]}
