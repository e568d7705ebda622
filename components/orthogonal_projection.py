"""OrthogonalProjection (HLOP): supervised updates projected away from old tasks' input subspace."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post


class OrthogonalProjection(Block):
    """A supervised (delta-rule) learning rule on a Projection whose updates are projected
    orthogonally to the principal subspace of earlier tasks' presynaptic activity, which lateral
    subspace neurons learn by Hebbian/anti-Hebbian plasticity.

    Seed paper: "Hebbian Learning based Orthogonal Projection for Continual Learning of
    Spiking Neural Networks" (HLOP, Xiao et al., ICLR 2024; reference code pkuxmq/HLOP-SNN).
    As in the paper's lateral circuit:
      - presynaptic trace ``x <- x e^(-dt/tau_pre) + s_pre``; linear output ``y = W x``;
      - subspace neurons ``u = H x`` receive the presynaptic traces through ``H`` and feed back
        onto the presynaptic neurons through the recurrent lateral weights ``-H^T``, so the
        presynaptic activity after the lateral loop is ``x - H^T u`` (``H``: subspace neurons x
        presynaptic neurons);
      - while ``learn_subspace`` > 0 (consolidation after a task) the newest group of subspace
        neurons learns by ``dH = eta_h u (x - H^T u)^T``: Hebbian ``u x^T`` on the forward
        weights, anti-Hebbian ``-u (H^T u)^T`` through the feedback, which is Oja's subspace
        rule: the group's rows converge to an orthonormal basis of the principal subspace of
        the activity (of the part the frozen older groups do not reconstruct);
      - weight update from the ``teacher`` input (delta rule; any presynaptic-trace-based rule
        fits the paper's scheme): ``dW = eta e (x - project H^T u)^T`` with ``e = teacher - y``:
        with ``project`` = 1 the update cannot change the outputs for inputs in the learned
        subspace (no forgetting), with 0 it is the plain rule.
    Subspace neurons are added per task: each consolidation (each time ``learn_subspace``
    switches on) adds a group of ``n_subspace`` neurons, up to ``max_tasks`` groups, with
    seeded orthonormal initial weights; earlier groups are frozen. With ``max_tasks`` = 1
    the one group keeps learning at later consolidations. Before the first consolidation
    there are no subspace neurons (no projection). ``n_subspace`` smaller than the rank of a
    task's activity protects only its principal directions.
    Where we differ from the reference: one sample per step and no momentum on ``dH`` (the
    reference averages mini-batches, iterates 5 times per batch with momentum 0.9); subspace
    neurons are graded (the reference optionally quantises them into spike counts); the new
    group's activity ``u`` comes from the full trace, as in the reference.
    """

    category = "plasticity"
    eta = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the weights (0: no learning)")
    eta_h = param.Number(0.02, bounds=(0.0, None), doc="learning rate of the lateral subspace weights")
    learn_subspace = param.Number(0.0, bounds=(0.0, 1.0), doc="1: lateral weights learn the current activity")
    project = param.Number(1.0, bounds=(0.0, 1.0), doc="1: project weight updates orthogonally (HLOP), 0: off")
    tau_pre = param.Number(0.01, bounds=(0.001, None), doc="presynaptic trace time constant (ms)")
    n_subspace = param.Integer(10, bounds=(1, None), doc="lateral (subspace) neurons added per task")
    max_tasks = param.Integer(1, bounds=(1, None), doc="groups of lateral neurons (one added per consolidation)")
    seed = param.Integer(0, doc="seed of the orthonormal initial weights of each new group of subspace neurons")
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
        return {"x": ctx.zeros(ctx.batch, n_pre), "H": ctx.zeros(ctx.batch, self.n_subspace * self.max_tasks, n_pre),
                "e": ctx.zeros(ctx.batch, n_post), "y": ctx.zeros(ctx.batch, n_post),
                "groups": torch.zeros(ctx.batch, dtype=torch.long, device=ctx.device),
                "learning": torch.zeros(ctx.batch, dtype=torch.bool, device=ctx.device)}

    def new_group(self, group: int, n_pre: int) -> torch.Tensor:
        """Seeded orthonormal initial weights (n_subspace x n_pre) of group ``group`` (1, 2, ...)."""
        g = torch.Generator().manual_seed(self.seed * 1009 + group)
        a = torch.randn(self.n_subspace, n_pre, generator=g, dtype=torch.float64)
        if self.n_subspace <= n_pre:
            return torch.linalg.qr(a.T)[0].T
        return a * n_pre ** -0.5

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        y = state["y"] = linear_post(syn, x)
        e = state["e"] = inputs["teacher"] - y
        rate = (p.eta_h * p.learn_subspace)[:, 0]  # (batch,)
        learning = rate > 0
        started = learning & ~state["learning"]  # a consolidation begins
        state["learning"] = learning
        groups = state["groups"]
        joined = started & (groups < self.max_tasks)  # ...and adds a group of subspace neurons
        if bool(joined.any()):
            state["groups"] = groups = torch.where(joined, groups + 1, groups)
            k = self.n_subspace
            for row in torch.nonzero(joined).ravel().tolist():
                group = int(groups[row])
                state["H"][row, (group - 1) * k: group * k] = self.new_group(group, x.shape[1]).to(x)
        H = state["H"]
        u = torch.einsum("bkn,bn->bk", H, x)  # subspace neurons
        x_hat = torch.einsum("bk,bkn->bn", u, H)  # their lateral feedback onto the presynaptic neurons
        syn.w.add_(p.eta * e[:, syn.post] * (x - p.project * x_hat)[:, syn.pre])
        if bool(learning.any()):
            rows = torch.arange(H.shape[1], device=H.device)
            k = self.n_subspace
            current = (rows[None, :] >= (groups[:, None] - 1) * k) & (rows[None, :] < groups[:, None] * k)
            current = current & learning[:, None]  # the newest group learns; older ones are frozen
            hebb = u[:, :, None] * (x - x_hat)[:, None, :]  # Hebbian u x^T, anti-Hebbian -u x_hat^T
            H.add_(rate[:, None, None] * current.to(x.dtype)[:, :, None] * hebb)
        return {}
