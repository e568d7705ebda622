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
    The paper keeps adding lateral neurons per task; here ``n_subspace`` is fixed and should be
    at least the dimension of all activity to protect.
    """

    category = "plasticity"
    eta = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the weights (0: no learning)")
    eta_h = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the lateral subspace weights")
    learn_subspace = param.Number(0.0, bounds=(0.0, 1.0), doc="1: lateral weights learn the current activity")
    project = param.Number(1.0, bounds=(0.0, 1.0), doc="1: project weight updates orthogonally (HLOP), 0: off")
    tau_pre = param.Number(0.01, bounds=(0.001, None), doc="presynaptic trace time constant (ms)")
    n_subspace = param.Integer(10, bounds=(1, None), doc="number of lateral (subspace) neurons")
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
        H = 0.01 * torch.randn(1, self.n_subspace, n_pre, generator=gen)
        return {"x": ctx.zeros(ctx.batch, n_pre), "H": H.to(ctx.device, ctx.dtype).expand(ctx.batch, -1, -1).clone(),
                "e": ctx.zeros(ctx.batch, n_post), "y": ctx.zeros(ctx.batch, n_post)}

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
        if bool((rate > 0).any()):
            state["H"] = H + rate * (u[:, :, None] * x[:, None, :] - torch.einsum("bk,bj,bjn->bkn", u, u, H))
        return {}
