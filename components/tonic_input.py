"""TonicInput: units that spike on every step, a constant drive through a projection."""
import param

from .base import Block, Port, Probe


class TonicInput(Block):
    """n units that emit a spike on every step.

    Wired through a Projection it adds the projection's weights to the synaptic current each
    step: a constant drive that rises with the synapse's time constant. This is how a NIR
    ``Affine`` bias (a constant unit-height input added every step) arrives at its neurons.
    """

    category = "inputs"
    n = param.Integer(1, bounds=(1, None), doc="number of units")

    outputs = {"spikes": Port("spikes", doc="1.0 on every step")}
    probes = {"spikes": Probe("spikes", "raster", "spikes (every step)")}

    def step(self, ctx, p, state, inputs):
        return {"spikes": ctx.zeros(ctx.batch, self.n) + 1.0}
