"""GapJunction: electrical coupling between neurons, current g (v_j - v_i)."""
import param
import torch

from .base import Block, Port, Probe, Table
from .connectomes import celegans_edges, celegans_neurons


class GapJunction(Block):
    """Electrical synapses (gap junctions): ohmic, symmetric coupling between the neurons of
    one population, ``I_i = g sum_j w_ij (v_j - v_i)`` from the population's ``v`` output back
    to its ``current`` input. Pairs: all-to-all, an explicit undirected ``edges`` list
    ([i, j] or [i, j, w]), or the C. elegans hermaphrodite gap junctions (White et al. 1986 /
    Varshney et al. 2011; w = number of junctions). The current is latent (read one step later),
    like a synaptic current.
    """

    category = "synapses"
    g = param.Number(0.1, bounds=(0.0, None), doc="conductance per junction (current per mV)")
    connectivity = param.Selector(default="edges", objects=["edges", "all_to_all", "celegans"], doc="which pairs")
    edges = Table(default=[], widths=(2, 3), index_columns=2, doc="edges: undirected pairs [i, j] or [i, j, w]")

    inputs = {"v": Port("value", size=None, required=True, doc="membrane potentials (mV)")}
    outputs = {"current": Port("current", size=None, latent=True, doc="coupling current into each neuron")}
    probes = {"current": Probe("current", "trace", "gap-junction current")}

    def cost(self, ctx):
        out = super().cost(ctx)
        n = ctx.sizes.get("v", 0)
        pairs = {"all_to_all": n * n, "celegans": 5000}.get(self.connectivity, len(self.edges))
        out["memory"] += 100 * pairs  # rows are built as Python lists first
        out["build"] += 1000 * pairs
        out["step"] += 6 * ctx.batch * pairs
        return out

    def check(self, ctx):
        n = ctx.sizes["v"]
        if ctx.sizes["current"] != n:
            raise ValueError(f"v has {n} neurons but the current goes to {ctx.sizes['current']}")
        if self.connectivity == "celegans" and n != len(celegans_neurons()):
            raise ValueError(f"the C. elegans connectome has {len(celegans_neurons())} neurons, v has {n}")
        for k, row in enumerate(self.edges if self.connectivity == "edges" else []):
            if len(row) not in (2, 3) or not (0 <= row[0] < n and 0 <= row[1] < n):
                raise ValueError(f"edge {k} ({row}) should be [i, j] or [i, j, w] with 0 <= i, j < {n}")

    def init_state(self, ctx, p):
        n = ctx.sizes["v"]
        if self.connectivity == "all_to_all":
            rows = [[i, j, 1.0] for i in range(n) for j in range(i + 1, n)]
        elif self.connectivity == "celegans":
            rows = celegans_edges("electrical")
        else:
            rows = [[r[0], r[1], r[2] if len(r) == 3 else 1.0] for r in self.edges]
        rows = [r for r in rows if r[0] != r[1]]
        a = torch.tensor([int(r[0]) for r in rows] + [int(r[1]) for r in rows], dtype=torch.long)
        b = torch.tensor([int(r[1]) for r in rows] + [int(r[0]) for r in rows], dtype=torch.long)
        w = torch.tensor([float(r[2]) for r in rows] * 2, dtype=ctx.dtype)
        return {"src": a.to(ctx.device), "dst": b.to(ctx.device), "w": w.to(ctx.device),
                "current": ctx.zeros(ctx.batch, n)}

    def step(self, ctx, p, state, inputs):
        v = inputs["v"]
        flow = state["w"] * (v[:, state["src"]] - v[:, state["dst"]])  # from src into dst
        current = torch.zeros_like(v).index_add_(1, state["dst"], flow) * p.g
        state["current"] = current
        return {"current": current}
