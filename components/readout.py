"""Readout: a ridge or logistic classifier on filtered spike counts (the LSM/reservoir readout)."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .interpretability import logistic_fit, ridge_fit


class Readout(Block):
    """The standard liquid-state-machine readout (Maass, Natschlaeger & Markram 2002): a linear
    classifier on each presentation window's spike features.

    Features per window of ``t_present`` ms: the spike counts (``tau = 0``), or an exponential
    filter of the spikes ``r <- r e^(-dt/tau) + s`` sampled at the window's end (``tau > 0``).
    The label of a window is the class the ``label`` input (one-hot) showed most in it. The
    first ``n_train`` windows (with a label) are collected; then the classifier is fitted once,
    per batch row: ``ridge`` (closed form, ``W = (F^T F + lam I)^-1 F^T Y``, one-hot Y) or
    ``logistic`` (multinomial, L-BFGS). Every later labelled window is predicted and scored.
    Watch: ``accuracy`` (held-out windows so far), ``confusion`` (true x predicted counts).
    """

    category = "readouts"
    n_classes = param.Integer(10, bounds=(2, None), doc="number of classes")
    method = param.Selector(default="ridge", objects=["ridge", "logistic"], doc="classifier")
    lam = param.Number(1.0, bounds=(0.0, None), doc="L2 penalty")
    t_present = param.Number(50.0, bounds=(0.0, None), doc="window length (ms): match the input's period")
    tau = param.Number(0.0, bounds=(0.0, None), doc="feature filter time constant (ms); 0: plain counts")
    n_train = param.Integer(500, bounds=(1, None), doc="labelled windows collected before fitting")
    footprint = {"memory": (("n_train", "batch", "spikes", 2), ("batch", "n_classes", "n_classes"),
                            ("batch", "spikes", "spikes", 2))}
    structural = ("lam", "t_present", "tau")

    inputs = {
        "spikes": Port("spikes", size=None, required=True, doc="spikes of the population read out"),
        "label": Port("value", size="n_classes", required=True, doc="one-hot label of the input shown"),
    }
    outputs = {"prediction": Port("value", size="n_classes", doc="class scores of the last window")}
    probes = {
        "accuracy": Probe("accuracy", "scalar", "accuracy on held-out windows"),
        "confusion": Probe("confusion", "heatmap", "confusion matrix (true x predicted)"),
        "prediction": Probe("prediction", "trace", "class scores"),
    }

    def init_state(self, ctx, p):
        n, c = ctx.sizes["spikes"], self.n_classes
        decay = exp_decay(ctx.dt, torch.tensor(self.tau)) if self.tau > 0 else None
        return {"trace": ctx.zeros(ctx.batch, n), "votes": ctx.zeros(ctx.batch, c), "features": [], "labels": [],
                "W": None, "decay": decay, "prediction": ctx.zeros(ctx.batch, c),
                "confusion": ctx.zeros(ctx.batch, c, c), "accuracy": ctx.zeros(ctx.batch, 1),
                "tested": 0, "correct": ctx.zeros(ctx.batch, 1)}

    def _fit(self, state):
        F = torch.stack(state["features"], 1).double()  # (batch, samples, n)
        y = torch.stack(state["labels"], 1)  # (batch, samples)
        if self.method == "ridge":
            Y = torch.nn.functional.one_hot(y, self.n_classes).double()
            return ridge_fit(F, Y, self.lam)
        return torch.stack([logistic_fit(F[b], y[b], self.n_classes, self.lam) for b in range(len(F))])

    def step(self, ctx, p, state, inputs):
        spikes, target = inputs["spikes"], inputs["label"]
        trace = state["trace"]
        if state["decay"] is not None:
            trace.mul_(float(state["decay"]))
        trace.add_(spikes)
        state["votes"].add_(target)
        window = max(1, int(round(self.t_present / ctx.dt)))
        if (ctx.t + 1) % window == 0:
            labelled = state["votes"].sum(1) > 0
            if bool(labelled.all()):
                label = state["votes"].argmax(1)
                feat = trace.clone()
                if state["W"] is None:
                    state["features"].append(feat)
                    state["labels"].append(label)
                    if len(state["features"]) >= self.n_train:
                        state["W"] = self._fit(state).to(ctx.device)
                        state["features"], state["labels"] = [], []
                else:
                    f = torch.cat([feat, torch.ones_like(feat[:, :1])], 1).double()
                    scores = torch.einsum("bn,bnc->bc", f, state["W"]).to(ctx.dtype)
                    state["prediction"] = scores
                    guess = scores.argmax(1)
                    rows = torch.arange(ctx.batch, device=ctx.device)
                    state["confusion"][rows, label, guess] += 1
                    state["tested"] += 1
                    state["correct"] += (guess == label).to(ctx.dtype).unsqueeze(1)
                    state["accuracy"] = state["correct"] / state["tested"]
            state["votes"].zero_()
            trace.zero_()
        return {"prediction": state["prediction"]}
