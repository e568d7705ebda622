"""PruneRegrow: magnitude pruning with regeneration at constant sparsity, a rule on a Projection."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


class PruneRegrow(Block):
    """Sparse-to-sparse rewiring of the Projection wired to ``rule``.

    Seed paper: "Sparse Training via Boosting Pruning Plasticity with Neuroregeneration"
    (GraNet, Liu et al. 2021). Variant implemented: GraNet's prune-and-regenerate step at a
    fixed sparsity (its sparse-to-sparse mode without the gradual sparsity schedule). The
    projection's synapses are the candidate positions; a mask marks the active ones, a random
    ``1 - sparsity`` of them at the start (inactive weights are held at exactly 0). Every
    ``period`` ms the fraction ``prune_fraction`` of active synapses with the smallest
    magnitude is removed and the same number is regrown, at inactive positions chosen at
    ``random`` or by the largest pre/post ``coactivity`` (a local, Hebbian stand-in for
    GraNet's gradient criterion; needs ``post`` wired), with weight ``regrow_weight``
    (GraNet: zero). The number of active synapses is therefore exactly constant.
    Honestly named: fixed sparsity with random regrowth is SET (Mocanu et al. 2018), not
    GraNet, which prunes gradually from dense toward a target sparsity and regrows by gradient
    magnitude; neither is implemented here yet.
    """

    category = "plasticity"
    sparsity = param.Number(0.8, bounds=(0.0, 1.0), doc="fraction of synapses kept inactive")
    prune_fraction = param.Number(0.2, bounds=(0.0, 1.0), doc="fraction of active synapses rewired per event")
    period = param.Number(10.0, bounds=(0.0, None), doc="time between prune/regrow events (ms)")
    regrow = param.Selector(default="random", objects=["random", "coactivity"], doc="where to regrow")
    regrow_weight = param.Number(0.0, doc="weight of a regrown synapse")
    tau_trace = param.Number(20.0, bounds=(0.01, None), doc="coactivity: trace time constant (ms)")
    structural = ("sparsity", "period")

    inputs = {"post": Port("spikes", size=None, doc="postsynaptic spikes (for regrow='coactivity')")}
    outputs = {"rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input")}
    probes = {
        "mask": Probe("mask", "heatmap", "active synapses"),
        "active": Probe("active", "scalar", "number of active synapses"),
        "rewired": Probe("rewired", "scalar", "synapses rewired at the last event"),
    }

    def derive(self, p, dt):
        return {"decay_trace": exp_decay(dt, p.tau_trace)}

    def check(self, ctx):
        if self.regrow == "coactivity" and "post" not in ctx.wired:
            raise ValueError("regrow='coactivity' needs the post input wired")

    def init_state(self, ctx, p):
        return {"mask": ctx.zeros(ctx.batch, 0), "active": ctx.zeros(ctx.batch, 1), "rewired": ctx.zeros(ctx.batch, 1),
                "x": ctx.zeros(ctx.batch, ctx.sizes["target_pre"]), "y": ctx.zeros(ctx.batch, ctx.sizes["target_post"])}

    def _first(self, ctx, syn, state):
        n = len(syn)
        keep = round((1 - self.sparsity) * n)
        order = torch.argsort(ctx.rand(1, n), dim=1)  # one draw for the whole batch
        mask = torch.zeros(1, n, dtype=torch.bool, device=ctx.device)
        mask[0, order[0, :keep]] = True
        state["mask"] = mask.expand(syn.w.shape[0], n).clone()
        state["coactivity"] = ctx.zeros(syn.w.shape[0], n) if self.regrow == "coactivity" else None

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        if state["mask"].shape[-1] != len(syn):
            self._first(ctx, syn, state)
        mask, w = state["mask"], syn.w
        if state["coactivity"] is not None:
            x = state["x"].mul_(p.decay_trace).add_(inputs["target"]["pre_spikes"])
            y = state["y"].mul_(p.decay_trace).add_(inputs["post"])
            rows = state["coactivity"].shape[0]
            state["coactivity"].add_((x[:, syn.pre] * y[:, syn.post])[:rows])
        steps = max(1, int(round(self.period / ctx.dt)))
        if ctx.t > 0 and ctx.t % steps == 0:
            rewired = []
            for r in range(mask.shape[0]):
                act = mask[r].nonzero().squeeze(1)
                idle = (~mask[r]).nonzero().squeeze(1)
                k = min(int(round(float(p.prune_fraction[min(r, ctx.batch - 1), 0]) * len(act))), len(idle))
                if k > 0:
                    pruned = act[torch.topk(w[r, act].abs(), k, largest=False).indices]
                    if self.regrow == "random":
                        score = ctx.rand(1, len(syn))[0]
                    else:
                        score = state["coactivity"][r]
                    grown = idle[torch.topk(score[idle], k).indices]
                    mask[r, pruned] = False
                    mask[r, grown] = True
                    w[r, grown] = float(p.regrow_weight[min(r, ctx.batch - 1), 0])
                rewired.append(k)
            state["rewired"] = torch.tensor(rewired, dtype=ctx.dtype, device=ctx.device)[:, None].expand(ctx.batch, 1)
            if state["coactivity"] is not None:
                state["coactivity"].zero_()
        w.mul_(mask)  # inactive synapses stay exactly 0 whatever other rules do
        state["active"] = mask.sum(1, keepdim=True).to(ctx.dtype).expand(ctx.batch, 1)
        return {}
