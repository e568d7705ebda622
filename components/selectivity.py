"""Selectivity: neurons x classes response map, monosemanticity and activation sparsity."""
import param
import torch

from .base import Block, Port, Probe
from .interpretability import monosemanticity_torch


class Selectivity(Block):
    """Interpretability probe of a population: its mean response to each input class.

    Activity (``spikes``, or non-negative ``activity`` values such as BDH's sparse neuron
    activations) is summed over each window of ``t_present`` ms and added to the row of the
    window's class (the class the one-hot ``label`` showed most). ``selectivity`` is the mean
    response per window (units x classes; spikes per window); ``monosemanticity`` the population
    mean of ``1 - H(p)/log C`` over responding units (1: each unit answers to one class);
    ``sparsity`` the fraction of units active in the last window. The maths are shared with
    the analysis functions in ``interpretability`` (which also finds module communities).
    """

    category = "readouts"
    n_classes = param.Integer(10, bounds=(2, None), doc="number of classes")
    t_present = param.Number(50.0, bounds=(0.0, None), doc="window length (ms): match the input's period")
    structural = ("t_present",)

    inputs = {
        "spikes": Port("spikes", size=None, doc="spikes of the population"),
        "activity": Port("value", size=None, doc="non-negative activations (instead of spikes)"),
        "label": Port("value", size="n_classes", required=True, doc="one-hot label of the input shown"),
    }
    outputs = {}
    probes = {
        "selectivity": Probe("selectivity", "heatmap", "mean response, units x classes"),
        "monosemanticity": Probe("monosemanticity", "scalar", "mean monosemanticity of responding units"),
        "sparsity": Probe("sparsity", "scalar", "fraction of units active in the last window"),
    }

    def check(self, ctx):
        if ("spikes" in ctx.wired) == ("activity" in ctx.wired):
            raise ValueError("wire exactly one of 'spikes' or 'activity'")

    def init_state(self, ctx, p):
        n = ctx.sizes["spikes" if "spikes" in ctx.wired else "activity"]
        c = self.n_classes
        return {"window": ctx.zeros(ctx.batch, n), "votes": ctx.zeros(ctx.batch, c),
                "sums": ctx.zeros(ctx.batch, n, c), "counts": ctx.zeros(ctx.batch, c),
                "selectivity": ctx.zeros(ctx.batch, n, c), "monosemanticity": ctx.zeros(ctx.batch, 1),
                "sparsity": ctx.zeros(ctx.batch, 1)}

    def step(self, ctx, p, state, inputs):
        x = inputs.get("spikes", inputs.get("activity"))
        state["window"].add_(x)
        state["votes"].add_(inputs["label"])
        window = max(1, int(round(self.t_present / ctx.dt)))
        if (ctx.t + 1) % window == 0:
            if bool((state["votes"].sum(1) > 0).all()):
                onehot = torch.nn.functional.one_hot(state["votes"].argmax(1), self.n_classes).to(ctx.dtype)
                state["sums"] += state["window"][:, :, None] * onehot[:, None, :]
                state["counts"] += onehot
                state["selectivity"] = state["sums"] / state["counts"][:, None, :].clamp_min(1)
                state["monosemanticity"] = monosemanticity_torch(state["selectivity"])
                state["sparsity"] = (state["window"] != 0).to(ctx.dtype).mean(1, keepdim=True)
            state["window"].zero_()
            state["votes"].zero_()
        return {}
