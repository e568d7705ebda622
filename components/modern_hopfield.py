"""ModernHopfield: continuous modern Hopfield memory ("Hopfield Networks is All You Need")."""
import math

import param
import torch

from .base import Block, Port, Probe, Table
from .memory_patterns import stored_patterns


def hopfield_energy(X: torch.Tensor, xi: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``E = -lse(beta, X^T xi) + xi^T xi / 2 + log(N) / beta + M^2 / 2`` per batch row.

    X: (N, d) stored patterns (rows), xi: (batch, d), beta: (batch, 1). M is the largest
    pattern norm, so E >= 0 (Ramsauer et al. 2020, eq. 2)."""
    n = X.shape[0]
    big_m = float(X.norm(dim=1).max())
    lse = torch.logsumexp(beta * (xi @ X.T), dim=1, keepdim=True) / beta
    return -lse + 0.5 * (xi * xi).sum(1, keepdim=True) + math.log(n) / beta + 0.5 * big_m ** 2


class ModernHopfield(Block):
    """Modern (dense, continuous) Hopfield memory of Ramsauer et al. 2020, "Hopfield Networks is
    All You Need": the update ``xi <- X softmax(beta X^T xi)`` (eq. 3, one step = ``updates``
    applications) descends the energy ``E = -lse(beta, X^T xi) + xi^T xi / 2 + const``.

    Stored patterns X (``n_patterns`` x ``d``) are the seeded set shared with PatternCue (or
    explicit ``patterns``). When the ``query`` input changes, the state restarts from it; while
    it is held the state keeps updating, so the energy trace falls within each presentation.
    Out: ``retrieved`` (the state after this step's updates), ``overlaps`` (cosine of the state
    with every stored pattern). Watch: ``energy`` (scalar), ``overlaps`` (heatmap).
    """

    category = "memory"
    d = param.Integer(128, bounds=(1, None), doc="pattern dimension")
    n_patterns = param.Integer(100, bounds=(1, None), doc="number of stored patterns N")
    seed = param.Integer(0, doc="seed of the stored (bipolar) pattern set")
    patterns = Table(default=[], doc="explicit patterns (rows of d values) instead of seeded ones")
    beta = param.Number(1.0, bounds=(1e-6, None), doc="inverse temperature (large: retrieve one pattern)")
    updates = param.Integer(1, bounds=(1, None), doc="updates applied per step")

    footprint = {"memory": (("n_patterns", "d", 2), ("batch", "n_patterns")), "build": (("n_patterns", "d", 20),),
                 "step": (("batch", "updates", "n_patterns", "d", 4), ("batch", "n_patterns", "d", 4))}

    inputs = {"query": Port("value", size="d", doc="state pattern / cue; a new value restarts the state")}
    outputs = {
        "retrieved": Port("value", size="d", doc="state after this step's update(s)"),
        "overlaps": Port("value", size="n_patterns", doc="cosine of the state with each stored pattern"),
    }
    probes = {
        "energy": Probe("energy", "scalar", "Hopfield energy of the state"),
        "overlaps": Probe("overlaps", "heatmap", "overlap with each stored pattern"),
        "retrieved": Probe("xi", "trace", "state entries"),
    }

    def check(self, ctx):
        if any(len(r) != self.d for r in self.patterns):
            raise ValueError(f"every explicit pattern needs d={self.d} entries")
        if self.patterns and len(self.patterns) != self.n_patterns:
            raise ValueError(f"{len(self.patterns)} explicit patterns but n_patterns={self.n_patterns}")

    def init_state(self, ctx, p):
        X = stored_patterns(self.n_patterns, self.d, "bipolar", 0, self.seed, self.patterns).to(ctx.device, ctx.dtype)
        return {"X": X, "X_unit": X / X.norm(dim=1, keepdim=True).clamp_min(1e-12),
                "xi": ctx.zeros(ctx.batch, self.d), "last_query": ctx.zeros(ctx.batch, self.d) + float("nan"),
                "energy": ctx.zeros(ctx.batch, 1), "overlaps": ctx.zeros(ctx.batch, self.n_patterns)}

    def update(self, X, xi, beta):
        """One application of the retrieval rule to (batch, d) states."""
        return torch.softmax(beta * (xi @ X.T), dim=1) @ X

    def step(self, ctx, p, state, inputs):
        X, xi = state["X"], state["xi"]
        q = inputs.get("query")
        if q is not None:
            new = (q != state["last_query"]).any(dim=1, keepdim=True)
            xi = torch.where(new, q, xi)
            state["last_query"] = q.clone()
        for _ in range(self.updates):
            xi = self.update(X, xi, p.beta)
        state["xi"] = xi
        state["energy"] = hopfield_energy(X, xi, p.beta)
        state["overlaps"] = (xi @ state["X_unit"].T) / xi.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return {"retrieved": xi, "overlaps": state["overlaps"]}
