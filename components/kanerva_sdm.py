"""KanervaSDM: Kanerva's sparse distributed memory (hard locations, address decoder, counters)."""
import param
import torch

from .base import Block, Port, Probe
from .memory_patterns import stored_patterns


class KanervaSDM(Block):
    """Sparse distributed memory of Kanerva (1988), autoassociative, on bipolar (+-1) words.

    ``m`` hard locations have fixed random addresses (seeded, +-1, length ``n``); the address
    decoder activates every location within Hamming distance ``radius`` of an address. Writing a
    word x at address x adds x to the counters of the activated locations; reading at a cue
    sums the activated counters and takes the sign (a tie or no activated location gives 0);
    reading again at the word read (``iterations``) converges on a stored word from a cue
    within the critical distance.
    Words: the seeded bipolar set shared with PatternCue (``kind='bipolar'``), plus, if ``store``
    is wired, every non-zero word arriving there (per batch row). This is the memory the name
    "sparse distributed memory" belongs to; SparseDistributedMemory is Willshaw's.
    Watch: ``active`` (locations the cue activates), ``recalled``.
    """

    category = "memory"
    n = param.Integer(256, bounds=(1, None), doc="word (and address) length")
    m = param.Integer(2000, bounds=(1, None), doc="number of hard locations")
    radius = param.Integer(111, bounds=(0, None), doc="activation radius (Hamming distance)")
    n_patterns = param.Integer(25, bounds=(0, None), doc="seeded words stored at the start")
    seed = param.Integer(0, doc="seed of the stored words")
    address_seed = param.Integer(1, doc="seed of the hard locations' addresses")
    iterations = param.Integer(3, bounds=(1, None), doc="reads per step, each at the previous read (Kanerva's iterated reading)")

    inputs = {
        "cue": Port("value", required=True, doc="a (noisy) bipolar word to read at"),
        "store": Port("value", doc="words to write (non-zero rows are written every step)"),
    }
    outputs = {"recalled": Port("value", doc="the word read (+-1, 0 where undecided)")}
    probes = {
        "recalled": Probe("recalled", "raster", "recalled word"),
        "active": Probe("active", "scalar", "number of hard locations the cue activates"),
    }

    def _activated(self, A, x):
        """(batch, m) 0/1: locations within ``radius`` of each address row of x (+-1 or 0)."""
        distance = (self.n - x @ A.T) / 2
        return (distance <= self.radius).to(x.dtype)

    def init_state(self, ctx, p):
        g = torch.Generator().manual_seed(self.address_seed)
        A = torch.where(torch.rand(self.m, self.n, generator=g) < 0.5, -1.0, 1.0).to(ctx.device, ctx.dtype)
        X = stored_patterns(self.n_patterns, self.n, "bipolar", 0, self.seed).to(ctx.device, ctx.dtype)
        C = self._activated(A, X).T @ X if len(X) else torch.zeros(self.m, self.n, dtype=ctx.dtype, device=ctx.device)
        rows = ctx.batch if "store" in ctx.wired else 1
        return {"A": A, "C": C.expand(rows, self.m, self.n).clone(), "recalled": ctx.zeros(ctx.batch, self.n),
                "active": ctx.zeros(ctx.batch, 1)}

    def step(self, ctx, p, state, inputs):
        A, C = state["A"], state["C"]
        store = inputs.get("store")
        if store is not None:
            x = torch.sign(store)
            written = (x != 0).any(1).to(ctx.dtype)[:, None]
            state["C"] = C = C + (self._activated(A, x) * written)[:, :, None] * x[:, None, :]
        recalled = torch.sign(inputs["cue"])
        for k in range(self.iterations):
            on = self._activated(A, recalled)
            if k == 0:
                state["active"] = on.sum(1, keepdim=True)
            read = torch.sign(torch.einsum("bm,bmn->bn", on, C.expand(ctx.batch, -1, -1)))
            recalled = torch.where(read != 0, read, recalled) if k else read
        state["recalled"] = recalled
        return {"recalled": recalled}
