"""PatternInput: presents stored spike patterns (or fresh random sparse ones), with targets."""
import param
import torch

from .base import Block, Port, Probe, Table


class PatternInput(Block):
    """Spikes from a list of patterns, each held for ``t_present`` ms, plus a matching target.

    A pattern entry is the probability of a spike per step (1: a spike every step, 0: never),
    so a binary pattern is presented deterministically and a fractional one as Bernoulli spikes.
    ``order``: ``cycle`` through the list, pick one at ``random`` per presentation, or
    ``random_k``: a fresh random pattern with exactly ``k`` of ``n`` active (sparse distributed
    codes for dendrite and memory demos). ``targets`` (one row of ``n_targets`` values per
    pattern) come out on ``target`` while their pattern is shown: labels for supervised rules.
    ``scale`` (live) multiplies spike probabilities and targets: 0 silences the source, so two
    sources wired to one input can take turns (task A, then task B).
    Random draws are one row broadcast over the batch (common random numbers).
    """

    category = "inputs"
    n = param.Integer(10, bounds=(1, None), doc="number of input channels")
    patterns = Table(default=[], values=(0.0, 1.0), doc="patterns: rows of n spike probabilities per step in [0, 1]")
    targets = Table(default=[], doc="one row of n_targets values per pattern (optional)")
    n_targets = param.Integer(0, bounds=(0, None), doc="width of the target output")
    order = param.Selector(default="cycle", objects=["cycle", "random", "random_k"], doc="which pattern next")
    k = param.Integer(5, bounds=(0, None), doc="random_k: number of active channels")
    t_present = param.Number(1.0, bounds=(0.0, None), doc="how long each pattern is shown (ms; at least a step)")
    scale = param.Number(1.0, bounds=(0.0, 1.0), doc="multiplies spike probabilities and targets (0: silent)")
    structural = ("t_present",)

    outputs = {
        "spikes": Port("spikes", doc="spikes of the pattern being shown"),
        "target": Port("value", size="n_targets", doc="target row of the pattern being shown"),
    }
    probes = {"spikes": Probe("spikes", "raster", "pattern spikes"), "index": Probe("index", "scalar", "pattern shown")}

    def check(self, ctx):
        if self.order != "random_k" and not self.patterns:
            raise ValueError("no patterns given (or use order='random_k')")
        for i, row in enumerate(self.patterns):
            if len(row) != self.n:
                raise ValueError(f"pattern {i} has {len(row)} entries, expected n={self.n}")
        if self.targets and (len(self.targets) != len(self.patterns)
                             or any(len(r) != self.n_targets for r in self.targets)):
            raise ValueError(f"targets must be {len(self.patterns)} rows of n_targets={self.n_targets} values")
        if self.order == "random_k" and self.k > self.n:
            raise ValueError(f"k={self.k} is more than n={self.n}")

    def init_state(self, ctx, p):
        pats = torch.tensor(self.patterns, dtype=ctx.dtype, device=ctx.device).reshape(len(self.patterns), self.n)
        tg = torch.tensor(self.targets, dtype=ctx.dtype, device=ctx.device).reshape(len(self.targets), self.n_targets)
        return {"patterns": pats, "target_rows": tg, "index": ctx.zeros(1, 1), "current": ctx.zeros(1, self.n),
                "current_target": ctx.zeros(1, self.n_targets)}

    def step(self, ctx, p, state, inputs):
        hold = max(1, int(round(self.t_present / ctx.dt)))
        if ctx.t % hold == 0:  # a new presentation
            number = ctx.t // hold
            if self.order == "random_k":
                chosen = torch.randperm(self.n, generator=ctx.generator, device=ctx.device)[: self.k]
                state["current"] = ctx.zeros(1, self.n)
                state["current"][0, chosen] = 1.0
                state["index"] = ctx.zeros(1, 1) + number
            else:
                count = len(state["patterns"])
                i = number % count if self.order == "cycle" else int(ctx.rand(1) * count) % count
                state["current"] = state["patterns"][i: i + 1]
                state["index"] = ctx.zeros(1, 1) + i
                if len(state["target_rows"]):
                    state["current_target"] = state["target_rows"][i: i + 1]
        prob = state["current"] * p.scale  # (batch, n)
        spikes = (ctx.rand(1, self.n) < prob).to(ctx.dtype)
        return {"spikes": spikes, "target": (state["current_target"] * p.scale).expand(ctx.batch, self.n_targets)}
