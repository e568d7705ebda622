"""PruneRegrow: magnitude pruning with regeneration (SET at fixed sparsity, or GraNet's gradual schedule)."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post


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
    Fixed sparsity with random regrowth is SET (Mocanu et al. 2018), the default here.

    GraNet proper: set ``initial_sparsity`` below ``sparsity`` (e.g. 0, dense) and the sparsity
    grows gradually on GraNet's cubic schedule ``s_t = s + (s_0 - s) (1 - t / t_prune)^3``
    (zero-magnitude pruning of the extra synapses at each event, on top of the rewiring), and
    reaches ``sparsity`` at ``t_prune``; with ``regrow = "gradient"`` the regrown positions are
    those with the largest accumulated gradient magnitude ``|e_j x_i|`` of the squared error of
    the linear output ``y = W x`` against the ``teacher`` input (``e = teacher - y``), computed
    for inactive positions too (as GraNet uses the dense gradient).
    """

    category = "plasticity"
    sparsity = param.Number(0.8, bounds=(0.0, 1.0), doc="(final) fraction of synapses kept inactive")
    initial_sparsity = param.Number(None, allow_None=True, bounds=(0.0, 1.0),
                                    doc="GraNet: sparsity at the start (None: the final one, fixed sparsity)")
    t_prune = param.Number(1000.0, bounds=(0.0, None), doc="GraNet: time at which the final sparsity is reached (ms)")
    prune_fraction = param.Number(0.2, bounds=(0.0, 1.0), doc="fraction of active synapses rewired per event")
    period = param.Number(10.0, bounds=(0.0, None), doc="time between prune/regrow events (ms)")
    regrow = param.Selector(default="random", objects=["random", "coactivity", "gradient"], doc="where to regrow")
    regrow_weight = param.Number(0.0, doc="weight of a regrown synapse")
    tau_trace = param.Number(20.0, bounds=(0.01, None), doc="coactivity: trace time constant (ms)")
    structural = ("sparsity", "initial_sparsity", "t_prune", "period")

    inputs = {"post": Port("spikes", size=None, doc="postsynaptic spikes (for regrow='coactivity')"),
              "teacher": Port("value", size=None, doc="desired linear outputs (for regrow='gradient')")}
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
        if self.regrow == "gradient" and "teacher" not in ctx.wired:
            raise ValueError("regrow='gradient' needs the teacher input wired")
        if self.initial_sparsity is not None and self.initial_sparsity > self.sparsity:
            raise ValueError(f"initial_sparsity {self.initial_sparsity} is above the final sparsity {self.sparsity}")

    def init_state(self, ctx, p):
        return {"mask": ctx.zeros(ctx.batch, 0), "active": ctx.zeros(ctx.batch, 1), "rewired": ctx.zeros(ctx.batch, 1),
                "x": ctx.zeros(ctx.batch, ctx.sizes["target_pre"]), "y": ctx.zeros(ctx.batch, ctx.sizes["target_post"])}

    def scheduled_active(self, n: int, t_ms: float) -> int:
        """Active synapses the schedule allows at time ``t_ms`` (GraNet's cubic schedule)."""
        s0 = self.sparsity if self.initial_sparsity is None else self.initial_sparsity
        frac = min(max(t_ms / self.t_prune, 0.0), 1.0) if self.t_prune > 0 else 1.0
        return round((1 - (self.sparsity + (s0 - self.sparsity) * (1 - frac) ** 3)) * n)

    def _first(self, ctx, syn, state):
        n = len(syn)
        keep = self.scheduled_active(n, 0.0)
        order = torch.argsort(ctx.rand(1, n), dim=1)  # one draw for the whole batch
        mask = torch.zeros(1, n, dtype=torch.bool, device=ctx.device)
        mask[0, order[0, :keep]] = True
        state["mask"] = mask.expand(syn.w.shape[0], n).clone()
        state["coactivity"] = ctx.zeros(syn.w.shape[0], n) if self.regrow in ("coactivity", "gradient") else None

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        if state["mask"].shape[-1] != len(syn):
            self._first(ctx, syn, state)
        mask, w = state["mask"], syn.w
        steps = max(1, int(round(self.period / ctx.dt)))
        if ctx.t > 0 and ctx.t % steps == 0:
            rewired = []
            target = self.scheduled_active(len(syn), ctx.t * ctx.dt)
            for r in range(mask.shape[0]):
                act = mask[r].nonzero().squeeze(1)
                extra = max(len(act) - target, 0)  # GraNet: gradual pruning toward the target
                if extra:
                    mask[r, act[torch.topk(w[r, act].abs(), extra, largest=False).indices]] = False
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
        # evidence for the next event (an event uses the steps before it)
        if self.regrow == "gradient":
            x = inputs["target"]["pre_spikes"]
            e = inputs["teacher"] - linear_post(syn, x)
            rows = state["coactivity"].shape[0]
            state["coactivity"].add_((e[:, syn.post] * x[:, syn.pre]).abs()[:rows])
        elif state["coactivity"] is not None:
            x = state["x"].mul_(p.decay_trace).add_(inputs["target"]["pre_spikes"])
            y = state["y"].mul_(p.decay_trace).add_(inputs["post"])
            rows = state["coactivity"].shape[0]
            state["coactivity"].add_((x[:, syn.pre] * y[:, syn.post])[:rows])
        state["active"] = mask.sum(1, keepdim=True).to(ctx.dtype).expand(ctx.batch, 1)
        return {}
