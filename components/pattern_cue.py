"""PatternCue: corrupted copies of a memory's stored patterns, for pattern-completion demos."""
import param
import torch

from .base import Block, Port, Probe, Table
from .memory_patterns import corrupt, stored_patterns


class PatternCue(Block):
    """Presents a stored pattern, corrupted, for ``t_present`` ms; then the next one.

    The pattern set is the seeded one a memory block (ClassicHopfield, ModernHopfield,
    SparseDistributedMemory) with the same ``n_patterns``, size, ``kind``, ``k`` and ``seed``
    stores (see ``memory_patterns``). A ``bipolar`` cue has ``noise`` of its entries sign-flipped;
    a ``sparse`` cue (k of n active) has ``noise`` of its active entries moved elsewhere. Out:
    ``cue`` (the corrupted pattern) and ``pattern`` (the clean one, the target a readout or a
    test compares with). Each presentation draws one pattern and one corruption, common to the
    whole batch.
    """

    category = "inputs"
    n = param.Integer(128, bounds=(1, None), doc="pattern size")
    n_patterns = param.Integer(10, bounds=(1, None), doc="number of stored patterns")
    kind = param.Selector(default="bipolar", objects=["bipolar", "sparse"], doc="+-1 patterns or k-of-n binary codes")
    k = param.Integer(10, bounds=(0, None), doc="sparse: active entries per pattern")
    seed = param.Integer(0, doc="seed of the pattern set (match the memory's)")
    patterns = Table(default=[], doc="explicit patterns (rows of n values) instead of seeded ones")
    noise = param.Number(0.1, bounds=(0.0, 1.0), doc="fraction of the pattern corrupted in each cue")
    order = param.Selector(default="random", objects=["random", "cycle"], doc="which pattern next")
    t_present = param.Number(1.0, bounds=(0.0, None), doc="how long each cue is held (ms; at least a step)")
    structural = ("noise", "t_present")
    footprint = {"memory": (("n_patterns", "n", 2),), "build": (("n_patterns", "n", 8),)}

    outputs = {
        "cue": Port("value", doc="the corrupted pattern"),
        "pattern": Port("value", doc="the clean pattern being cued"),
    }
    probes = {"index": Probe("index", "scalar", "index of the pattern cued")}

    def check(self, ctx):
        if self.kind == "sparse" and not 0 < self.k <= self.n:
            raise ValueError(f"sparse patterns need 0 < k <= n, got k={self.k}, n={self.n}")
        if any(len(r) != self.n for r in self.patterns):
            raise ValueError(f"every explicit pattern needs n={self.n} entries")

    def init_state(self, ctx, p):
        X = stored_patterns(self.n_patterns, self.n, self.kind, self.k, self.seed, self.patterns)
        return {"X": X.to(ctx.device, ctx.dtype), "index": ctx.zeros(ctx.batch, 1),
                "cue": ctx.zeros(ctx.batch, self.n), "clean": ctx.zeros(ctx.batch, self.n)}

    def step(self, ctx, p, state, inputs):
        hold = max(1, int(round(self.t_present / ctx.dt)))
        if ctx.t % hold == 0:
            X = state["X"]
            number = ctx.t // hold
            if self.order == "cycle":
                i = number % len(X)
            else:
                i = int(torch.randint(len(X), (1,), generator=ctx.generator))
            cue = corrupt(X[i], self.noise, self.kind, ctx.generator)
            state["cue"] = cue.expand(ctx.batch, self.n).clone()
            state["clean"] = X[i].expand(ctx.batch, self.n).clone()
            state["index"] = ctx.zeros(ctx.batch, 1) + i
        return {"cue": state["cue"], "pattern": state["clean"]}
