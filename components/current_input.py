"""CurrentInput: a constant, step or sine current injected into every neuron of a target."""
import math

import param
import torch

from .base import Block, Port, Probe


class CurrentInput(Block):
    """A current ``offset + amplitude * shape(t)`` for n neurons; a live knob while running.

    shape is 1 (constant), 1 between t_on and t_off else 0 (step), or sin(2 pi f t) (sine).
    Units: with the default resistance R = 1 of LIFPopulation, one unit of current moves the
    membrane's steady state by 1 mV.
    """

    category = "inputs"
    n = param.Integer(1, bounds=(1, None), doc="number of neurons driven")
    mode = param.Selector(default="constant", objects=["constant", "step", "sine"], doc="time course")
    amplitude = param.Number(20.0, doc="amplitude of the current")
    offset = param.Number(0.0, doc="current added at all times")
    t_on = param.Number(0.0, bounds=(0.0, None), doc="step: switch-on time (ms)")
    t_off = param.Number(1e9, bounds=(0.0, None), doc="step: switch-off time (ms)")
    frequency = param.Number(10.0, bounds=(0.0, None), doc="sine: frequency (Hz)")
    ordered = (("t_on", "t_off"),)

    outputs = {"current": Port("current", doc="injected current")}
    probes = {"current": Probe("current", "trace", "injected current")}

    def step(self, ctx, p, state, inputs):
        t_ms = ctx.t * ctx.dt
        if self.mode == "constant":
            shape = 1.0
        elif self.mode == "step":
            shape = ((p.t_on <= t_ms) & (t_ms < p.t_off)).to(ctx.dtype)
        else:
            shape = torch.sin(2 * math.pi * p.frequency * (t_ms * 1e-3))
        return {"current": (p.offset + p.amplitude * shape).expand(ctx.batch, self.n)}
