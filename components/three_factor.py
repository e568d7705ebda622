"""Readout learning rules for "what and when" predictions: an error-modulated, attention-gated
three-factor Hebbian rule, and FORCE (recursive least squares) as its least-squares control."""
import param
import torch

from .base import Block, Port, Probe, exp_decay
from .plasticity_maths import linear_post

_INPUTS = {
    "prediction": Port("current", size="n_out", required=True,
                       doc="the readout projection's current (gives the readouts their number; the rule uses W x)"),
    "teacher": Port("value", size="n_out", required=True, doc="what each readout should predict (stimuli shown)"),
    "attention": Port("modulation", size=1, doc="gate: learning happens where it is > 0 (1 if unwired)"),
}


class _ReadoutRule(Block):
    """What the two readout rules share: sizes, the presynaptic trace, the gate."""

    category = "plasticity"
    n_out = param.Integer(3, bounds=(1, None), doc="number of readouts (the projection's postsynaptic size)")
    tau_pre = param.Number(20.0, bounds=(0.01, None), doc="presynaptic trace (ms): set it to the projection's tau_syn")
    gated = param.Number(1.0, bounds=(0.0, 1.0), doc="1: learn only where attention > 0; 0: ignore attention")
    inputs = _INPUTS
    outputs = {"rule": Port("plasticity", size=None, doc="wire to the readout Projection's plasticity input")}

    def derive(self, p, dt):
        return {"decay_pre": exp_decay(dt, p.tau_pre)}

    def check(self, ctx):
        if ctx.sizes["target_post"] != self.n_out:
            raise ValueError(f"the projection has {ctx.sizes['target_post']} postsynaptic neurons, n_out is {self.n_out}")

    def track_error(self, ctx, state, e, on) -> None:
        """``mse``: running mean (over ~10 s of gated steps) of the squared prediction error."""
        rate = ctx.dt / 10_000.0
        now = (e * e).mean(1, keepdim=True)
        state["mse"] = torch.where(on, state["mse"] + rate * (now - state["mse"]), state["mse"])

    def gate(self, p, inputs) -> torch.Tensor:
        """(batch, 1): 1 where learning is on this step."""
        attention = inputs.get("attention")
        on = torch.ones_like(p.gated) if attention is None else (attention[:, :1] > 0).to(p.gated.dtype)
        return p.gated * on + (1.0 - p.gated)


class ThreeFactorReadout(_ReadoutRule):
    """Error-modulated, attention-gated three-factor Hebbian rule on a readout Projection.

    Seed paper: Yamada & Chao (2025), "Joint encoding of 'what' and 'when' predictions through
    error-modulated plasticity in reservoir spiking networks". Variant implemented (our reading
    of its abstract; the paper's exact equations and constants were not available to us):
      - presynaptic trace ``x_i <- x_i e^(-dt/tau_pre) + s_i`` (reservoir spikes);
      - readout ``y_j = sum_i w_ij x_i`` with the current weights, as FORCE uses (the
        projection's current, wired to ``prediction``, is the same sum built from arriving
        spikes, lagging a weight change by up to tau_syn);
      - Hebbian eligibility ``E_ij <- E_ij e^(-dt/tau_elig) + x_i (clip(y_j, 0, 1) + y_floor)``
        (pre x post coincidence; ``y_floor`` lets a silent readout start learning; the clip
        keeps a runaway readout from speeding up its own learning);
      - third factor, the prediction error ``M_j = teacher_j - y_j`` (with
        ``error_modulation`` = 0 it is the teacher alone: plain supervised Hebbian, a control);
      - gate: the attention signal (1 in the window after the cue), ``gated`` = 0 ignores it;
      - ``dw_ij = eta * gate * M_j * E_ij / (1 + sum_k x_k^2)``, every step: the
        step is normalised by the readout's total input activity, a quantity each
        readout neuron has locally (normalised LMS): without it the cue's burst of reservoir
        activity and the quiet delay that follows need learning rates 1000x apart.
    Learning never slows down by itself (constant eta), so a readout follows a change in the
    stimuli's timing or probability as fast as it learned them; its fixed point is where the
    gated error is uncorrelated with the eligibility: the readout predicts, at each moment
    after the cue, the probability that the stimulus is shown then.
    """

    eta = param.Number(0.03, bounds=(0.0, None), doc="learning rate (of the normalised step)")
    tau_elig = param.Number(10.0, bounds=(0.01, None), doc="eligibility trace time constant (ms)")
    y_floor = param.Number(0.1, bounds=(0.0, None), doc="postsynaptic term's floor (a silent readout still learns)")
    error_modulation = param.Number(1.0, bounds=(0.0, 1.0),
                                    doc="1: third factor is the prediction error; 0: the teacher alone (control)")
    footprint = {"memory": (("batch", "target_pre", "n_out", 2),), "step": (("batch", "target_pre", "n_out", 10),)}
    probes = {
        "y": Probe("y", "trace", "readouts (predictions)"),
        "error": Probe("e", "trace", "prediction errors"),
        "weights": Probe("norm", "trace", "norm of each readout's weight vector"),
        "mse": Probe("mse", "scalar", "running mean squared prediction error (attention window)"),
    }

    def derive(self, p, dt):
        return {**super().derive(p, dt), "decay_elig": exp_decay(dt, p.tau_elig)}

    def init_state(self, ctx, p):
        n_pre, n_post = ctx.sizes["target_pre"], ctx.sizes["target_post"]
        return {"x": ctx.zeros(ctx.batch, n_pre), "elig": None, "y": ctx.zeros(ctx.batch, n_post),
                "e": ctx.zeros(ctx.batch, n_post), "norm": ctx.zeros(ctx.batch, n_post), "mse": ctx.zeros(ctx.batch, 1)}

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        y = state["y"] = linear_post(syn, x)
        post = y.clamp(0.0, 1.0) + p.y_floor
        if state["elig"] is None:
            state["elig"] = torch.zeros(ctx.batch, len(syn), dtype=ctx.dtype, device=ctx.device)
        elig = state["elig"].mul_(p.decay_elig).add_(x[:, syn.pre] * post[:, syn.post])
        teacher = inputs["teacher"]
        e = state["e"] = teacher - y
        third = p.error_modulation * e + (1.0 - p.error_modulation) * teacher
        gate = self.gate(p, inputs)
        scale = p.eta * gate / (1.0 + (x * x).sum(1, keepdim=True))
        syn.w.add_(scale * third[:, syn.post] * elig)
        self.track_error(ctx, state, e, gate > 0)
        state["norm"] = torch.zeros_like(y).index_add_(1, syn.post, syn.w * syn.w).sqrt()
        return {}


class ForceReadout(_ReadoutRule):
    """FORCE learning (Sussillo & Abbott 2009): recursive least squares on a readout Projection,
    the global least-squares method the seed paper compares its local rule with.

    ``x``: presynaptic trace as above; ``y = W x`` with the current weights; every ``every``
    steps where the gate is on: ``k = P x / (lam + x^T P x)``, ``W += k e^T`` (``e = teacher -
    y``), ``P <- (P - k x^T P) / lam``, from ``P = I / alpha``. With ``lam`` = 1 (FORCE as
    published, no reset) ``P`` shrinks like 1/(samples seen), so learning slows for good; a
    forgetting factor ``lam`` < 1 keeps it able to follow changes. Needs an all-to-all
    projection (dense weights, synapses ordered pre-major).
    """

    alpha = param.Number(1.0, bounds=(1e-6, None), doc="initial P = I / alpha (regulariser)")
    lam = param.Number(1.0, bounds=(0.5, 1.0), doc="forgetting factor (1: FORCE without reset)")
    every = param.Integer(2, bounds=(1, None), doc="update every this many steps")
    structural = ("alpha",)
    footprint = {"memory": (("batch", "target_pre", "target_pre"),),
                 "step": (("batch", "target_pre", "target_pre", 4),)}
    probes = {
        "y": Probe("y", "trace", "readouts (predictions)"),
        "error": Probe("e", "trace", "prediction errors"),
        "mse": Probe("mse", "scalar", "running mean squared prediction error (attention window)"),
    }

    def check(self, ctx):
        super().check(ctx)
        n_syn = ctx.sizes.get("target_synapses")
        if n_syn is not None and n_syn != ctx.sizes["target_pre"] * ctx.sizes["target_post"]:
            raise ValueError("ForceReadout needs an all_to_all projection")

    def init_state(self, ctx, p):
        n_pre, n_post = ctx.sizes["target_pre"], ctx.sizes["target_post"]
        P = torch.eye(n_pre, dtype=torch.float64, device=ctx.device) / self.alpha
        return {"x": ctx.zeros(ctx.batch, n_pre), "P": P.expand(ctx.batch, n_pre, n_pre).clone(),
                "y": ctx.zeros(ctx.batch, n_post), "e": ctx.zeros(ctx.batch, n_post), "mse": ctx.zeros(ctx.batch, 1)}

    def step(self, ctx, p, state, inputs):
        syn = inputs["target"]["synapses"]
        if len(syn) != syn.n_pre * syn.n_post:
            raise ValueError("ForceReadout needs an all_to_all projection")
        x = state["x"].mul_(p.decay_pre).add_(inputs["target"]["pre_spikes"])
        y = state["y"] = linear_post(syn, x)
        e = state["e"] = inputs["teacher"] - y
        gate = self.gate(p, inputs) > 0
        self.track_error(ctx, state, e, gate)
        if ctx.t % self.every:
            return {}
        on = gate[:, 0]
        if not bool(on.any()):
            return {}
        P, xd = state["P"], x.double()
        Px = torch.einsum("bij,bj->bi", P, xd)
        k = Px / (p.lam.double() + (xd * Px).sum(1, keepdim=True))
        W = syn.w.view(ctx.batch, syn.n_pre, syn.n_post)
        dW = (k[:, :, None] * e.double()[:, None, :]).to(W.dtype)
        W.add_(torch.where(on[:, None, None], dW, 0.0))
        newP = (P - k[:, :, None] * Px[:, None, :]) / p.lam.double()[:, :, None]
        state["P"] = torch.where(on[:, None, None], newP, P)
        return {}
