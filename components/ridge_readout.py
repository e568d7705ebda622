"""RidgeReadout: the reservoir-computing linear readout, fitted once, then scored on held-out steps."""
import param
import torch

from .base import Block, Port, Probe
from .interpretability import ridge_fit


class RidgeReadout(Block):
    """Linear readouts of a state vector, one per teacher signal, fitted by ridge regression.

    After ``washout`` steps the (state, teacher) pairs of the next ``n_train`` steps are collected
    and ``W = (F^T F + lam I)^-1 F^T Y`` (with an unpenalised bias) is fitted once per batch row.
    From then on the readout outputs its predictions and scores them: the first ``n_val`` held-out
    steps are the validation set (for choosing hyperparameters), the next ``n_test`` the test set;
    after those the readout keeps predicting but its scores no longer change.
    Scores per teacher signal: the squared correlation ``r2`` between prediction and teacher (its
    sum over signals is the memory capacity) and the NRMSE (RMS error / teacher's SD).
    """

    category = "readouts"
    n_out = param.Integer(40, bounds=(1, None), doc="number of teacher signals (readouts)")
    washout = param.Integer(500, bounds=(0, None), doc="steps ignored first")
    n_train = param.Integer(2000, bounds=(1, None), doc="steps collected to fit the readout")
    n_val = param.Integer(1000, bounds=(0, None), doc="held-out steps used as the validation set")
    n_test = param.Integer(1000, bounds=(1, None), doc="held-out steps scored as the test set; then scores hold")
    lam = param.Number(1e-6, bounds=(0.0, None), doc="ridge penalty")
    structural = ("lam",)
    footprint = {"memory": (("n_train", "batch", "features"), ("n_train", "batch", "n_out")),
                 "build": (("batch", "features", "features", "n_train"),)}

    inputs = {"features": Port("value", size=None, required=True, doc="the state read out (reservoir rates)"),
              "teacher": Port("value", size="n_out", required=True, doc="target signals")}
    outputs = {"prediction": Port("value", size="n_out", doc="readout outputs (0 until fitted)")}
    probes = {"prediction": Probe("prediction", "trace", "readout outputs"),
              "r2": Probe("r2_test", "heatmap", "squared correlation per teacher signal (test)"),
              "capacity": Probe("capacity", "scalar", "sum of r2 over teacher signals (test)")}

    def check(self, ctx):
        if ctx.sizes.get("teacher", self.n_out) != self.n_out:
            raise ValueError(f"teacher carries {ctx.sizes['teacher']} signals but n_out = {self.n_out}")

    def init_state(self, ctx, p):
        m = self.n_out
        zeros = {f"{s}_{part}": torch.zeros(ctx.batch, m, dtype=torch.float64, device=ctx.device)
                 for s in ("sy", "sp", "syy", "spp", "syp", "n") for part in ("val", "test")}
        return {"F": [], "Y": [], "W": None, "prediction": ctx.zeros(ctx.batch, m),
                "r2_test": ctx.zeros(ctx.batch, m), "capacity": ctx.zeros(ctx.batch, 1), **zeros}

    def step(self, ctx, p, state, inputs):
        x, y = inputs["features"], inputs["teacher"]
        t = ctx.t - self.washout
        if t < 0:
            return {"prediction": state["prediction"]}
        if state["W"] is None:
            state["F"].append(x.clone())
            state["Y"].append(y.clone())
            if len(state["F"]) >= self.n_train:
                state["W"] = ridge_fit(torch.stack(state["F"], 1), torch.stack(state["Y"], 1), self.lam)
                state["F"], state["Y"] = [], []
            return {"prediction": state["prediction"]}
        f = torch.cat([x, torch.ones_like(x[:, :1])], 1).double()
        pred = torch.einsum("bn,bnm->bm", f, state["W"])
        if t >= self.n_train + self.n_val + self.n_test:
            state["prediction"] = pred.to(ctx.dtype)
            return {"prediction": state["prediction"]}
        part = "val" if t < self.n_train + self.n_val else "test"
        y = y.double()
        for key, value in (("sy", y), ("sp", pred), ("syy", y * y), ("spp", pred * pred), ("syp", y * pred)):
            state[f"{key}_{part}"] += value
        state[f"n_{part}"] += 1
        state["prediction"] = pred.to(ctx.dtype)
        if part == "test":
            state["r2_test"] = self.scores("test", state)[0].to(ctx.dtype)
            state["capacity"] = state["r2_test"].sum(1, keepdim=True)
        return {"prediction": state["prediction"]}

    @staticmethod
    def scores(part: str, state) -> tuple[torch.Tensor, torch.Tensor]:
        """(r2, nrmse), each (batch, teacher signals), over the ``part`` ("val"/"test") steps so far."""
        g = {k: state[f"{k}_{part}"] for k in ("sy", "sp", "syy", "spp", "syp", "n")}
        n = g["n"].clamp(min=1)
        my, mp = g["sy"] / n, g["sp"] / n
        vy, vp = (g["syy"] / n - my ** 2).clamp(min=0), (g["spp"] / n - mp ** 2).clamp(min=0)
        cov = g["syp"] / n - my * mp
        r2 = torch.where((vy > 0) & (vp > 0), cov ** 2 / (vy * vp).clamp(min=1e-300), torch.zeros_like(cov))
        mse = (g["syy"] - 2 * g["syp"] + g["spp"]) / n
        nrmse = (mse.clamp(min=0) / vy.clamp(min=1e-300)).sqrt()
        return r2, nrmse
