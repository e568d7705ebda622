"""AstroModulatedUnit (AM-SU): astrocyte calcium that scales the synapses it ensheathes."""
import param
import torch

from .base import Block, Port, Probe, exp_decay


class AstroModulatedUnit(Block):
    """Tripartite synapses: each astrocyte domain integrates its presynaptic activity into calcium,
    and calcium multiplies the efficacy of the domain's synapses.

    Inspired by "Astrocyte-Enabled Advancements in Spiking Neural Networks for Large Language
    Modeling" (AM-SU / AstroSNN), but not checked against it: we found no public reference code
    and the block's equations are not taken from the paper. It is a generic tripartite-synapse
    calcium gain (the catalogue's weight form), not a reproduction of AM-SU. Implemented: the
    presynaptic neurons of the projection this rule is wired to are split into ``n_domains``
    contiguous astrocyte domains; per domain
    ``ca <- ca e^(-dt/tau_ca) + alpha * pre_activity`` with ``pre_activity`` the fraction of the
    domain's presynaptic neurons that spiked this step, and every synapse leaving the domain has
    effective weight ``w * (1 + beta * ca)``. The scaling is applied multiplicatively to the
    stored weights (``w <- w * (1 + beta ca_new) / (1 + beta ca_old)``), so other rules (STDP)
    on the same projection keep acting on the underlying weight. For sustained Poisson input at
    rate r, calcium settles at ``alpha * r dt / (1 - e^(-dt/tau_ca))`` (r dt: spikes per step).
    The modulation reaches the current from the next step on (the rule runs after propagation).
    """

    category = "astrocytes"
    n_domains = param.Integer(4, bounds=(1, None), doc="number of astrocytes (domains of presynaptic neurons)")
    tau_ca = param.Number(500.0, bounds=(0.01, None), doc="calcium decay time constant (ms)")
    alpha = param.Number(1.0, bounds=(0.0, None), doc="calcium increment per unit presynaptic activity")
    beta = param.Number(0.5, bounds=(0.0, None), doc="weight gain per unit calcium")

    inputs = {}
    outputs = {
        "rule": Port("plasticity", size=None, doc="wire to a Projection's plasticity input"),
        "calcium": Port("value", size="n_domains", doc="calcium per astrocyte domain"),
    }
    probes = {"calcium": Probe("ca", "heatmap", "astrocyte calcium per domain")}

    def derive(self, p, dt):
        return {"decay": exp_decay(dt, p.tau_ca)}

    def check(self, ctx):
        if self.n_domains > ctx.sizes["target_pre"]:
            raise ValueError(f"{self.n_domains} domains for only {ctx.sizes['target_pre']} presynaptic neurons")

    def init_state(self, ctx, p):
        n_pre = ctx.sizes["target_pre"]
        domain = torch.arange(n_pre, device=ctx.device) * self.n_domains // n_pre
        size = torch.bincount(domain, minlength=self.n_domains).to(ctx.dtype)
        return {"ca": ctx.zeros(ctx.batch, self.n_domains), "domain": domain, "domain_size": size}

    def step(self, ctx, p, state, inputs):
        target = inputs.get("target")
        ca_old = state["ca"]
        if target is None:
            return {"calcium": ca_old.clone()}
        syn, pre = target["synapses"], target["pre_spikes"]
        activity = torch.zeros_like(ca_old).index_add_(1, state["domain"], pre) / state["domain_size"]
        ca = ca_old * p.decay + p.alpha * activity
        factor = (1 + p.beta * ca) / (1 + p.beta * ca_old)  # (batch, n_domains)
        per_syn = factor[:, state["domain"][syn.pre]]
        if syn.w.shape[0] == 1 and ctx.batch > 1:
            raise ValueError("AstroModulatedUnit needs a plastic projection (one weight row per batch row)")
        syn.w.mul_(per_syn)
        state["ca"] = ca
        return {"calcium": ca}
