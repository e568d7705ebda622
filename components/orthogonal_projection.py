"""OrthogonalProjection (HLOP): supervised updates projected away from old tasks' input subspace."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post


class OrthogonalProjection(Block):
    """A supervised (delta-rule) learning rule on a Projection whose updates are projected
    orthogonally to the principal subspace of earlier tasks' presynaptic activity, which lateral
    Hebbian weights ``H`` learn.

    Seed paper: "Hebbian Learning based Orthogonal Projection for Continual Learning of
    Spiking Neural Networks" (HLOP, Xiao et al. 2024). Variant implemented:
      - presynaptic trace ``x <- x e^(-dt/tau_pre) + s_pre``; linear output ``y = W x``;
      - lateral subspace neurons ``u = H x`` (``H``: n_subspace x n_pre) learn while
        ``learn_subspace`` > 0 by the Oja subspace rule (Hebbian/anti-Hebbian),
        ``dH = eta_h (u x^T - u u^T H)``, so ``H^T H`` converges to the projector onto the
        principal subspace of the activity seen (consolidate after each task);
      - weight update from the ``teacher`` input (delta rule, any presynaptic-trace-based rule
        fits the paper's scheme): ``dW = eta e x_p^T`` with ``e = teacher - y`` and the projected
        trace ``x_p = x - project * H^T H x``: with ``project`` = 1 the update cannot change
        the outputs for inputs in the consolidated subspace (no forgetting), with 0 it is the
        plain rule.
    Lateral neurons per task, as in the paper: with ``max_tasks`` > 1, each consolidation (each
    time ``learn_subspace`` switches on) adds ``n_subspace`` new lateral neurons, up to
    ``max_tasks`` groups; the new ones learn (Oja subspace rule) on the part of the activity the
    earlier groups do not span, ``x - H_old^T H_old x``, and the earlier groups stay frozen, so
    each task's principal subspace is kept while later tasks add theirs. With ``max_tasks`` = 1
    there is one group, trained at every consolidation. ``n_subspace`` smaller than the rank of
    a task's activity protects only its principal directions.
    """

    category = "plasticity"
    eta = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the weights (0: no learning)")
    eta_h = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the lateral subspace weights")
    learn_subspace = param.Number(0.0, bounds=(0.0, 1.0), doc="1: lateral weights learn the current activity")
    project = param.Number(1.0, bounds=(0.0, 1.0), doc="1: project weight updates orthogonally (HLOP), 0: off")
    tau_pre = param.Number(0.01, bounds=(0.001, None), doc="presynaptic trace time constant (ms)")
    n_subspace = param.Integer(10, bounds=(1, None), doc="lateral (subspace) neurons added per task")
    max_tasks = param.Integer(1, bounds=(1, None), doc="groups of lateral neurons (one added per consolidation)")
    seed = param.Integer(0, doc="seed of the small random initial lateral weights")
    footprint = {"memory": (("batch", "n_subspace", "target_pre", 3), ("batch", "target_pre", 3)),
                 "step": (("batch", "n_subspace", "target_pre", 8), ("batch", "n_subspace", "n_subspace", "target_pre"))}

    inputs = {"teacher": Port("value", size=None, required=True, doc="desired output per postsynaptic neuron")}
    outputs = {"rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input")}
    probes = {
        "lateral": Probe("H", "heatmap", "lateral Hebbian weights (subspace x presynaptic)"),
        "error": Probe("e", "trace", "output error"),
        "y": Probe("y", "trace", "linear output"),
    }

    def derive(self, p, dt):
        return {"decay_pre": exp_decay(dt, p.tau_pre)}

    def check(self, ctx):
        if ctx.sizes["teacher"] != ctx.sizes["target_post"]:
            raise ValueError(f"teacher has {ctx.sizes['teacher']} values but the projection has "
                             f"{ctx.sizes['target_post']} postsynaptic neurons")

    def init_state(self, ctx, p):
        n_pre, n_post = ctx.sizes["target_pre"], ctx.sizes["target_post"]
        gen = torch.Generator().manual_seed(self.seed)
        H = 0.01 * torch.randn(1, self.n_subspace * self.max_tasks, n_pre, generator=gen)
        if self.max_tasks > 1:
            H[:, self.n_subspace:] = 0.0  # later groups join at later consolidations
        return {"x": ctx.zeros(ctx.batch, n_pre), "H": H.to(ctx.device, ctx.dtype).expand(ctx.batch, -1, -1).clone(),
                "e": ctx.zeros(ctx.batch, n_post), "y": ctx.zeros(ctx.batch, n_post),
                "groups": torch.zeros(ctx.batch, dtype=torch.long, device=ctx.device),
                "learning": torch.zeros(ctx.batch, dtype=torch.bool, device=ctx.device)}

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        y = state["y"] = linear_post(syn, x)
        e = state["e"] = inputs["teacher"] - y
        H = state["H"]
        u = torch.einsum("bkn,bn->bk", H, x)
        x_p = x - p.project * torch.einsum("bk,bkn->bn", u, H)
        syn.w.add_(p.eta * e[:, syn.post] * x_p[:, syn.pre])
        rate = (p.eta_h * p.learn_subspace)[:, :, None]  # (batch, 1, 1)
        learning = rate[:, 0, 0] > 0
        started = learning & ~state["learning"]  # a consolidation begins: its group joins
        state["groups"] = torch.where(started, (state["groups"] + 1).clamp(max=self.max_tasks), state["groups"])
        state["learning"] = learning
        if bool(learning.any()):
            k = self.n_subspace
            rows = torch.arange(H.shape[1], device=H.device)
            current = ((rows[None, :] >= (state["groups"][:, None] - 1) * k) & (rows[None, :] < state["groups"][:, None] * k))
            old = (rows[None, :] < (state["groups"][:, None] - 1) * k).to(x.dtype)[:, :, None]
            H_old = H * old
            residual = x - torch.einsum("bk,bkn->bn", torch.einsum("bkn,bn->bk", H_old, x), H_old)
            Hc = H * current.to(x.dtype)[:, :, None]
            uc = torch.einsum("bkn,bn->bk", Hc, residual)
            if self.max_tasks > 1 and bool((started & (state["groups"] > 1)).any()):
                fresh = 0.01 * torch.randn(H.shape[1:], generator=torch.Generator().manual_seed(self.seed + 1)).to(H)
                new_rows = current & started[:, None] & (state["groups"][:, None] > 1)
                Hc = torch.where(new_rows[:, :, None], fresh[None], Hc)
                uc = torch.einsum("bkn,bn->bk", Hc, residual)
            update = rate * (uc[:, :, None] * residual[:, None, :] - torch.einsum("bk,bj,bjn->bkn", uc, uc, Hc))
            state["H"] = torch.where(current[:, :, None], Hc + update, H)
        return {}
