"""ClassicHopfield: binary Hopfield network with Hebbian outer-product weights (Hopfield 1982)."""
import param
import torch

from .base import Block, Port, Probe, Table
from .memory_patterns import stored_patterns


class ClassicHopfield(Block):
    """Binary (+-1) Hopfield network, Hopfield 1982: ``W = (1/n) sum_mu xi_mu xi_mu^T`` with a
    zero diagonal, ``s_i <- sign(sum_j W_ij s_j)`` (a zero field keeps s_i).

    ``asynchronous`` (default): each step is one sweep over the neurons in a random order, one
    neuron at a time, so the energy ``E = -s^T W s / 2`` never increases; ``synchronous``: all
    neurons at once (may end in a 2-cycle). Capacity (Amit, Gutfreund & Sompolinsky 1985):
    about 0.138 n random patterns. Stored patterns are the seeded set shared with PatternCue.
    A new ``cue`` restarts the state from sign(cue).
    """

    category = "memory"
    n = param.Integer(200, bounds=(1, None), doc="number of binary neurons")
    n_patterns = param.Integer(10, bounds=(0, None), doc="number of stored patterns")
    seed = param.Integer(0, doc="seed of the stored pattern set")
    patterns = Table(default=[], doc="explicit +-1 patterns (rows of n values) instead of seeded ones")
    update = param.Selector(default="asynchronous", objects=["asynchronous", "synchronous"], doc="update order")

    # asynchronous updates loop over the neurons in Python: some 10 us (10,000 operations) each
    footprint = {"memory": (("n", "n"), ("n_patterns", "n"), ("batch", "n_patterns")),
                 "build": (("n", "n", "n_patterns"),),
                 "step": (("batch", "n", "n", 2), ("n", 10000), ("batch", "n_patterns", "n"))}

    inputs = {"cue": Port("value", doc="initial state; a new value restarts the state (sign taken)")}
    outputs = {
        "state": Port("value", doc="current +-1 state"),
        "overlaps": Port("value", size="n_patterns", doc="overlap m_mu = xi_mu . s / n with each pattern"),
    }
    probes = {
        "energy": Probe("energy", "scalar", "energy -s^T W s / 2"),
        "overlaps": Probe("overlaps", "heatmap", "overlap with each stored pattern"),
        "state": Probe("s", "heatmap", "+-1 state"),
        "weights": Probe("W", "heatmap", "Hebbian weight matrix"),
    }

    def init_state(self, ctx, p):
        X = stored_patterns(self.n_patterns, self.n, "bipolar", 0, self.seed, self.patterns).to(ctx.device, ctx.dtype)
        W = X.T @ X / self.n
        W.fill_diagonal_(0.0)
        return {"X": X, "W": W, "s": torch.ones(ctx.batch, self.n, dtype=ctx.dtype, device=ctx.device),
                "last_cue": ctx.zeros(ctx.batch, self.n) + float("nan"),
                "energy": ctx.zeros(ctx.batch, 1), "overlaps": ctx.zeros(ctx.batch, self.n_patterns)}

    def step(self, ctx, p, state, inputs):
        W, s = state["W"], state["s"]
        cue = inputs.get("cue")
        if cue is not None:
            new = (cue != state["last_cue"]).any(dim=1, keepdim=True)
            s = torch.where(new, torch.where(cue >= 0, 1.0, -1.0).to(ctx.dtype), s)
            state["last_cue"] = cue.clone()
        s = s.clone()
        if self.update == "synchronous":
            h = s @ W
            s = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s))
        else:
            for i in torch.randperm(self.n, generator=ctx.generator).tolist():
                h = s @ W[:, i]
                s[:, i] = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, s[:, i]))
        state["s"] = s
        state["energy"] = -0.5 * ((s @ W) * s).sum(1, keepdim=True)
        state["overlaps"] = s @ state["X"].T / self.n
        return {"state": s, "overlaps": state["overlaps"]}
