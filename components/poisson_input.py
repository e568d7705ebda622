"""PoissonInput: independent Poisson spike trains."""
import param

from .base import Block, Port, Probe


class PoissonInput(Block):
    """n independent Poisson spike trains: each step a neuron spikes with probability rate*dt."""

    category = "inputs"
    n = param.Integer(100, bounds=(1, None), doc="number of spike trains")
    rate = param.Number(10.0, bounds=(0.0, 1000.0), doc="firing rate (Hz)")

    outputs = {"spikes": Port("spikes", doc="1.0 where a train spikes this step")}
    probes = {"spikes": Probe("spikes", "raster", "input spikes")}

    def derive(self, p, dt):
        return {"p_spike": p.rate * (dt * 1e-3)}

    def step(self, ctx, p, state, inputs):
        u = ctx.rand(1, self.n)  # one row for the whole batch: see Context.rand
        return {"spikes": (u < p.p_spike).to(ctx.dtype)}
