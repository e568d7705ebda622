"""STDP: pair-based spike-timing-dependent plasticity with traces, a rule on a Projection."""
import param
import torch

from . import native
from .base import Block, Port, Probe, exp_decay


class STDP(Block):
    """Pair rule with exponential traces, acting on the Projection wired to ``rule``.

    ``x <- x e^(-dt/tau_plus) + s_pre``, ``y <- y e^(-dt/tau_minus) + s_post``; on a post spike
    ``w += A_plus x``, on a pre spike ``w -= A_minus y``; w is clipped to [w_min, w_max]. Both
    updates are event-driven (only synapses of spiking neurons are touched). Pre spikes are
    taken where they leave the presynaptic neuron (before any axonal delay). An optional global
    ``modulation`` input (one value per batch row) multiplies both learning rates and may flip
    their sign (``modulated = "both"``), or only the depression rate (``"depression"``: the
    NALSM astrocyte's rule, potentiation fixed).
    """

    category = "plasticity"
    A_plus = param.Number(0.01, bounds=(0.0, None), doc="potentiation per pre-before-post pair")
    A_minus = param.Number(0.0105, bounds=(0.0, None), doc="depression per post-before-pre pair")
    tau_plus = param.Number(20.0, bounds=(0.01, None), doc="presynaptic trace time constant (ms)")
    tau_minus = param.Number(20.0, bounds=(0.01, None), doc="postsynaptic trace time constant (ms)")
    w_min = param.Number(0.0, doc="lower weight bound")
    w_max = param.Number(10.0, doc="upper weight bound")
    modulated = param.Selector(default="both", objects=["both", "depression"],
                               doc="which rate the modulation input scales (depression: NALSM astrocyte)")

    ordered = (("w_min", "w_max"),)

    inputs = {
        "post": Port("spikes", size=None, required=True, doc="spikes of the postsynaptic population"),
        "modulation": Port("modulation", size=None, doc="learning-rate factor, one per batch row"),
    }
    outputs = {"rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input")}
    probes = {
        "pre_trace": Probe("x", "trace", "presynaptic traces"),
        "post_trace": Probe("y", "trace", "postsynaptic traces"),
    }

    def derive(self, p, dt):
        return {"decay_plus": exp_decay(dt, p.tau_plus), "decay_minus": exp_decay(dt, p.tau_minus)}

    def check(self, ctx):
        if ctx.sizes["post"] != ctx.sizes["target_post"]:
            raise ValueError(
                f"post input has {ctx.sizes['post']} neurons but the projection it acts on "
                f"targets {ctx.sizes['target_post']}"
            )

    def init_state(self, ctx, p):
        return {"x": ctx.zeros(ctx.batch, ctx.sizes["target_pre"]), "y": ctx.zeros(ctx.batch, ctx.sizes["post"])}

    def _apply(self, syn, ids, rows, dw, p):
        w = syn.w
        w[rows, ids] = torch.clamp(w[rows, ids] + dw, min=p.w_min[rows, 0], max=p.w_max[rows, 0])

    def native_args(self, p, state, syn):
        """The compiled kernel's argument struct, packed again after a parameter change."""
        if state.get("packed_for") is not p:
            by_post, post_ptr = syn.post_index()
            state["packed"], state["packed_for"] = native.pack(
                native.StdpArgs, B=syn.w.shape[0], n_pre=syn.n_pre, n_post=syn.n_post, n_syn=len(syn),
                x=state["x"], y=state["y"], decay_plus=p.decay_plus, decay_minus=p.decay_minus, A_plus=p.A_plus,
                A_minus=p.A_minus, w_min=p.w_min, w_max=p.w_max, ptr=syn.ptr, post=syn.post, pre=syn.pre,
                by_post=by_post, post_ptr=post_ptr, w=syn.w,
            ), p
        return state["packed"]

    def step(self, ctx, p, state, inputs):
        target, post = inputs["target"], inputs["post"]
        syn, pre = target["synapses"], target["pre_spikes"]
        scale = inputs.get("modulation")
        depression_only = scale is not None and self.modulated == "depression"
        fused = None if depression_only else native.kernel("stdp_step", ctx.device, ctx.dtype)
        if fused is not None:  # the same updates in one compiled call
            scale = None if scale is None else scale.contiguous()
            pre, post = pre.contiguous(), post.contiguous()  # held until the call returns
            fused(self.native_args(p, state, syn), pre.data_ptr(), post.data_ptr(),
                  native.ptr(scale), 0 if scale is None else scale.shape[1])
            return {}
        x, y = state["x"], state["y"]
        x.mul_(p.decay_plus).add_(pre)
        y.mul_(p.decay_minus).add_(post)
        scale = torch.ones_like(p.A_plus) if scale is None else scale[:, :1]
        up = torch.ones_like(scale) if depression_only else scale

        rows, neurons = pre.nonzero(as_tuple=True)  # depression at pre spikes
        ids, r = syn.outgoing(rows, neurons)
        self._apply(syn, ids, r, -(p.A_minus * scale)[r, 0] * y[r, syn.post[ids]], p)

        rows, neurons = post.nonzero(as_tuple=True)  # potentiation at post spikes
        ids, r = syn.incoming(rows, neurons)
        self._apply(syn, ids, r, (p.A_plus * up)[r, 0] * x[r, syn.pre[ids]], p)
        return {}
