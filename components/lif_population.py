"""LIFPopulation: leaky integrate-and-fire neurons, the baseline of most seed circuits."""
import param
import torch

from . import native
from .base import Block, Port, Probe, exp_decay, spike


class LIFPopulation(Block):
    """Leaky integrate-and-fire neurons, integrated exactly for a current held over each step.

    ``v <- E_L + (v - E_L) e^(-dt/tau_m) + R I (1 - e^(-dt/tau_m))``; a spike when
    ``v >= v_th``, then ``v <- v_reset`` and v is held while less than ``t_ref`` has passed
    since the spike (``t_ref`` rounded to whole steps). Currents from several wires add up.
    The update is evaluated in the same operation order as Brian2's exact integrator, so a
    float64 run can match Brian2 spike for spike.
    """

    category = "neurons"
    n = param.Integer(100, bounds=(1, None), doc="number of neurons")
    tau_m = param.Number(20.0, bounds=(0.01, None), doc="membrane time constant (ms)")
    E_L = param.Number(-65.0, doc="resting potential (mV)")
    v_th = param.Number(-50.0, doc="spike threshold (mV)")
    v_reset = param.Number(-65.0, doc="reset potential (mV)")
    t_ref = param.Number(2.0, bounds=(0.0, None), doc="refractory period (ms)")
    R = param.Number(1.0, bounds=(0.0, None), doc="membrane resistance (mV per unit current)")
    v_init = param.Selector(
        default="rest", objects=["rest", "uniform"],
        doc="initial v: at E_L, or uniform in [v_reset, v_th)",
    )

    inputs = {"current": Port("current", doc="input current (summed over wires)")}
    outputs = {
        "spikes": Port("spikes", doc="1.0 where a neuron spiked this step"),
        "v": Port("value", doc="membrane potential (mV)"),
    }
    probes = {
        "spikes": Probe("spikes", "raster", "spike raster"),
        "v": Probe("v", "trace", "membrane potential (mV)"),
    }

    def derive(self, p, dt):
        return {"decay": exp_decay(dt, p.tau_m), "ref_steps": torch.round(p.t_ref / dt).int()}

    def init_state(self, ctx, p):
        if self.v_init == "uniform":
            v = p.v_reset + ctx.rand(1, self.n) * (p.v_th - p.v_reset)
        else:
            v = p.E_L + ctx.zeros(1, self.n)
        return {
            "v": v.expand(ctx.batch, self.n).clone(),
            "refractory": torch.zeros(ctx.batch, self.n, dtype=torch.int32, device=ctx.device),
        }

    def native_args(self, ctx, p, state):
        """The compiled kernel's argument struct, packed again after a parameter change."""
        if state.get("packed_for") is not p:
            v = state["v"]
            state.setdefault("spikes", torch.zeros_like(v))
            state["packed"], state["packed_for"] = native.pack(
                native.LifArgs, B=v.shape[0], n=v.shape[1], v=v, countdown=state["refractory"], R=p.R, E_L=p.E_L,
                decay=p.decay, v_th=p.v_th, v_reset=p.v_reset, ref_steps=p.ref_steps, spikes=state["spikes"],
            ), p
        return state["packed"]

    def step(self, ctx, p, state, inputs):
        current = inputs.get("current")
        fused = native.kernel("lif_step", ctx.device, ctx.dtype)
        if fused is not None:  # same maths in one compiled call, updating v and spikes in place
            current = None if current is None else current.contiguous()  # held until the call returns
            fused(self.native_args(ctx, p, state), native.ptr(current))
            return {"spikes": state["spikes"], "v": state["v"]}
        spiked = self.integrate(p, state, current, p.v_th)
        return {"spikes": spiked.to(ctx.dtype), "v": state["v"]}

    def integrate(self, p, state, current, threshold) -> torch.Tensor:
        """The torch membrane update (also used by variants with their own threshold);
        updates v and the refractory countdown in ``state`` and returns the spikes (0.0 or 1.0)."""
        v, countdown = state["v"], state["refractory"]
        countdown.sub_(1).clamp_(min=0)
        active = countdown == 0
        drive = 0.0 if current is None else p.R * current
        v_free = p.E_L + ((drive + p.decay * v) + p.decay * (-p.E_L - drive))
        v = torch.where(active, v_free, v)
        s = spike(v - threshold) * active  # 0/1, with a surrogate gradient while training
        spiked = s > 0.5
        state["v"] = torch.where(spiked, p.v_reset, v)
        state["refractory"] = torch.where(spiked, p.ref_steps, countdown)
        return s
