"""SpikeTimes: spikes at times the user lists (a spike generator)."""
import param
import torch

from .base import Block, Port, Probe, Table


class SpikeTimes(Block):
    """n neurons that spike exactly at the listed times, each rounded to the nearest step."""

    category = "inputs"
    n = param.Integer(1, bounds=(1, None), doc="number of neurons")
    spikes = Table(default=[], widths=(2,), index_columns=1, values=(0.0, 1e12), doc="rows [neuron, time_ms]")

    outputs = {"spikes": Port("spikes", doc="1.0 where a listed spike falls in this step")}
    probes = {"spikes": Probe("spikes", "raster", "generated spikes")}

    def check(self, ctx):
        for k, row in enumerate(self.spikes):
            if len(row) != 2 or not 0 <= int(row[0]) < self.n or float(row[1]) < 0:
                raise ValueError(f"spikes[{k}] = {row!r} should be [neuron in 0..{self.n - 1}, time_ms >= 0]")

    def init_state(self, ctx, p):
        steps = torch.tensor([round(float(t) / ctx.dt) for _, t in self.spikes], dtype=torch.long)
        neurons = torch.tensor([int(i) for i, _ in self.spikes], dtype=torch.long)
        return {"steps": steps.to(ctx.device), "neurons": neurons.to(ctx.device)}

    def step(self, ctx, p, state, inputs):
        out = ctx.zeros(ctx.batch, self.n)
        out[:, state["neurons"][state["steps"] == ctx.t]] = 1.0
        return {"spikes": out}
