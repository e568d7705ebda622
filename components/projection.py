"""Projection: weighted synapses from one population's spikes to another's input current."""
import math

import param
import torch

from . import native
from . import synapses as conn
from .base import Block, Port, Probe, Table, exp_decay


class Projection(Block):
    """Synapses with an exponential current, ``I <- I e^(-dt/tau_syn) + sum of arriving w``.

    Connectivity: all-to-all, one-to-one, each pair with probability ``p``, or an explicit
    ``edges`` list (use ``Projection.from_graph`` for a networkx graph). Storage is a sparse
    synapse list, and propagation is event-driven: a step touches only the synapses of neurons
    that spiked. Optional per-synapse delays (whole steps, in a ring buffer): a spike emitted
    at step t reaches the current at step t + d. Plasticity rules (e.g. STDP) attach to the
    ``plasticity`` input; a plastic projection keeps one weight vector per batch row.
    """

    category = "synapses"
    connectivity = param.Selector(
        default="fixed_probability", objects=["fixed_probability", "all_to_all", "one_to_one", "edges"],
        doc="how pre and post neurons are paired",
    )
    p = param.Number(0.1, bounds=(0.0, 1.0), doc="fixed_probability: probability of each pair")
    autapses = param.Boolean(True, doc="keep i -> i pairs (turn off for a recurrent projection)")
    weight = param.Number(
        20.0, doc="synaptic weight, the current jump per spike; 20 lets a default PoissonInput -> Projection -> "
        "LIFPopulation chain fire at about 7 Hz")
    weight_std = param.Number(0.0, bounds=(0.0, None), doc="standard deviation of the weights")
    tau_syn = param.Number(5.0, bounds=(0.01, None), doc="synaptic current time constant (ms)")
    synapse = param.Selector(
        default="exponential", objects=["exponential", "jump"],
        doc="exponential: publish a current decaying with tau_syn; jump: publish only the weights "
            "arriving this step (for neurons whose equations hold the synaptic variable, e.g. EquationNeuron)",
    )
    delay = param.Number(0.0, bounds=(0.0, None), doc="axonal delay (ms), rounded to steps")
    delay_max = param.Number(
        None, allow_None=True, bounds=(0.0, None),
        doc="if set, each synapse's delay is drawn uniformly in [delay, delay_max] (ms)",
    )
    stp = param.Selector(
        default="none", objects=["none", "tsodyks_markram"],
        doc="short-term plasticity: tsodyks_markram scales each spike's weights by u x (as NEST tsodyks2_synapse)",
    )
    U = param.Number(0.5, bounds=(0.0, 1.0), doc="Tsodyks-Markram: release increment U")
    tau_rec = param.Number(800.0, bounds=(0.01, None), doc="Tsodyks-Markram: recovery time constant (ms)")
    tau_fac = param.Number(0.0, bounds=(0.0, None), doc="Tsodyks-Markram: facilitation time constant (ms); 0 = none")
    sign = param.Selector(
        default="free", objects=["free", "excitatory", "inhibitory"],
        doc="Dale's law: excitatory weights stay >= 0 and inhibitory <= 0 under every plasticity rule",
    )
    edges = Table(
        default=[], widths=(2, 3, 4), index_columns=2,
        doc="edges: rows [pre, post] or [pre, post, weight] or [pre, post, weight, delay_ms]",
    )
    seed = param.Integer(None, allow_None=True, doc="own seed for connectivity (default: the circuit's)")
    structural = ("p", "weight", "weight_std", "delay", "delay_max")  # stp, sign: selectors, also structural
    ordered = (("delay", "delay_max"),)

    inputs = {
        "spikes": Port("spikes", size=None, required=True, doc="presynaptic spikes"),
        "plasticity": Port("plasticity", size=None, doc="learning rules acting on the weights"),
    }
    outputs = {"current": Port("current", size=None, latent=True, doc="synaptic current")}
    probes = {
        "current": Probe("current", "trace", "synaptic current"),
        "weights": Probe("w", "heatmap", "synaptic weights"),
    }

    @classmethod
    def from_graph(cls, graph, weight_attr: str = "weight", **params) -> "Projection":
        """A projection over the edges of a networkx graph whose nodes are 0..n-1.

        Edge attribute ``weight_attr`` (if present) sets a synapse's weight, else ``weight``.
        An undirected graph gives synapses both ways.
        """
        default = params.get("weight", cls.param["weight"].default)
        rows = [[int(u), int(v), float(d.get(weight_attr, default))] for u, v, d in graph.edges(data=True)]
        if not graph.is_directed():
            rows += [[v, u, w] for u, v, w in rows if u != v]
        return cls(connectivity="edges", edges=rows, **params)

    def derive(self, p, dt):
        decay = exp_decay(dt, p.tau_syn)
        return {"decay": decay if self.synapse == "exponential" else torch.zeros_like(decay)}

    def n_synapses(self, ctx) -> float:
        """Expected number of synapses, known before any is drawn."""
        n_pre, n_post = ctx.sizes.get("spikes", 0), ctx.sizes.get("current", 0)
        return {"all_to_all": n_pre * n_post, "one_to_one": n_pre, "edges": len(self.edges)}.get(
            self.connectivity, n_pre * n_post * self.p)

    def cost(self, ctx):
        out = super().cost(ctx)
        n_syn = self.n_synapses(ctx)
        rows = ctx.batch if "plasticity" in ctx.wired else 1
        delays = [self.delay, self.delay_max or 0.0] + [r[3] for r in self.edges if len(r) == 4]
        slots = max(delays) / ctx.dt + 1
        out["memory"] += n_syn * (48 + 8 * rows) + 8 * slots * ctx.batch * ctx.sizes.get("current", 0)
        out["build"] += 300 * n_syn  # sampling, sorting and indexing, measured at ~0.1-0.3 us a synapse
        return out

    def check(self, ctx):
        n_pre, n_post = ctx.sizes["spikes"], ctx.sizes["current"]
        if self.connectivity == "one_to_one" and n_pre != n_post:
            raise ValueError(f"one_to_one needs equal sizes, got {n_pre} pre and {n_post} post")
        for k, row in enumerate(self.edges if self.connectivity == "edges" else []):
            if len(row) not in (2, 3, 4):
                raise ValueError(f"edge {k} has {len(row)} entries; expected 2, 3 or 4")
            if len(row) == 4 and row[3] < 0:
                raise ValueError(f"edge {k} has a negative delay ({row[3]} ms)")
            if not (0 <= row[0] < n_pre and 0 <= row[1] < n_post):
                raise ValueError(
                    f"edge {k} ({row[0]} -> {row[1]}) is outside the wired sizes {n_pre} pre x {n_post} post"
                )

    def _connect(self, ctx, generator):
        n_pre, n_post = ctx.sizes["spikes"], ctx.sizes["current"]
        weights = delays = None
        if self.connectivity == "all_to_all":
            pre, post = conn.all_to_all(n_pre, n_post)
        elif self.connectivity == "one_to_one":
            pre, post = conn.one_to_one(n_pre, n_post)
        elif self.connectivity == "fixed_probability":
            pre, post = conn.fixed_probability(n_pre, n_post, self.p, generator)
        else:
            rows = self.edges
            pre = torch.tensor([int(r[0]) for r in rows], dtype=torch.long)
            post = torch.tensor([int(r[1]) for r in rows], dtype=torch.long)
            if rows and all(len(r) >= 3 for r in rows):
                weights = torch.tensor([float(r[2]) for r in rows], dtype=torch.float64)
            if rows and all(len(r) == 4 for r in rows):
                delays = torch.tensor([float(r[3]) for r in rows], dtype=torch.float64)
        if not self.autapses:
            keep = pre != post
            pre, post = pre[keep], post[keep]
            weights = None if weights is None else weights[keep]
            delays = None if delays is None else delays[keep]
        return pre, post, weights, delays

    def init_state(self, ctx, p):
        generator = ctx.generator
        if self.seed is not None:
            generator = torch.Generator().manual_seed(self.seed)
        pre, post, weights, delays = self._connect(ctx, generator)
        n = len(pre)
        if weights is None:
            weights = torch.full((n,), float(self.weight), dtype=torch.float64)
            if self.weight_std > 0:
                weights += self.weight_std * torch.randn(n, generator=generator, dtype=torch.float64)
        if delays is None:
            delays = torch.full((n,), float(self.delay), dtype=torch.float64)
            if self.delay_max is not None and self.delay_max > self.delay:
                delays += (self.delay_max - self.delay) * torch.rand(n, generator=generator, dtype=torch.float64)
        plastic = "plasticity" in ctx.wired
        rows = ctx.batch if plastic else 1
        syn = conn.Synapses(
            pre.to(ctx.device), post.to(ctx.device),
            weights.to(ctx.device, ctx.dtype).expand(rows, n).clone(),
            torch.round(delays / ctx.dt).long().to(ctx.device),
            ctx.sizes["spikes"], ctx.sizes["current"],
        )
        self.keep_sign(syn)
        state = {"synapses": syn, "w": syn.w, "current": ctx.zeros(ctx.batch, syn.n_post)}
        if self.stp == "tsodyks_markram":  # per presynaptic neuron: every synapse of one neuron sees its spikes
            state["stp_x"] = ctx.zeros(ctx.batch, syn.n_pre) + 1.0  # recovered
            state["stp_u"] = ctx.zeros(ctx.batch, syn.n_pre) + p.U  # so the first spike releases U
            state["stp_last"] = ctx.zeros(ctx.batch, syn.n_pre) - 1.0  # < 0: no spike yet
        if syn.max_delay > 0:
            state["in_flight"] = ctx.zeros(syn.max_delay + 1, ctx.batch, syn.n_post)
        return state

    def native_args(self, ctx, p, state):
        """The compiled kernel's argument struct, packed again after a parameter change.

        The kernel alternates between two buffers: step t writes buffer t % 2 from the other
        one, so the current published to readers is never written while they may read it.
        """
        if state.get("packed_for") is not p:
            syn, queue, stp = state["synapses"], state.get("in_flight"), self.stp != "none"
            if stp:
                state.setdefault("stp_scale", torch.zeros_like(state["stp_x"]))
            spare = torch.zeros_like(state["current"])
            state["buffers"] = (spare, state["current"]) if ctx.t % 2 == 0 else (state["current"], spare)
            state["packed"], state["packed_for"] = native.pack(
                native.PropagateArgs, B=ctx.batch, n_pre=syn.n_pre, n_post=syn.n_post, w_rows=syn.w.shape[0],
                n_syn=len(syn), slots=0 if queue is None else queue.shape[0], ptr=syn.ptr, post=syn.post,
                w=syn.w, decay=p.decay, buf0=state["buffers"][0], buf1=state["buffers"][1],
                delay=syn.delay if queue is not None else None, ring=queue, jump=int(self.synapse == "jump"),
                stp_x=state["stp_x"] if stp else None, stp_u=state.get("stp_u"), stp_last=state.get("stp_last"),
                U=p.U if stp else None, tau_rec=p.tau_rec if stp else None, tau_fac=p.tau_fac if stp else None,
                scale=state.get("stp_scale"), dt=ctx.dt,
            ), p
        return state["packed"]

    def published(self, t, state) -> None:
        """Point state["current"] at the buffer the compiled kernel published before step t."""
        state["current"] = state["buffers"][(t + 1) % 2]

    def keep_sign(self, syn) -> None:
        """Dale's law: clip weights to the projection's sign (after init and after every rule's step)."""
        if self.sign == "excitatory":
            syn.w.clamp_(min=0.0)
        elif self.sign == "inhibitory":
            syn.w.clamp_(max=0.0)

    def _release(self, ctx, p, state, rows, neurons) -> torch.Tensor:
        """Tsodyks-Markram efficacy u x of each spiking (row, neuron), as NEST's tsodyks2_synapse:
        the first spike releases x u = U (x = 1, u = U); each later one first updates, with h the
        time since the neuron's previous spike, x <- 1 + (x - x u - 1) e^(-h/tau_rec) and
        u <- U + u (1 - U) e^(-h/tau_fac) (u = U when tau_fac = 0). The exponentials are computed
        in double by libm (``math.exp``), as the compiled kernel does: both give the same bits."""
        x, u, last = state["stp_x"], state["stp_u"], state["stp_last"]
        U, tau_rec, tau_fac = p.U[rows, 0], p.tau_rec[rows, 0], p.tau_fac[rows, 0]
        h = ctx.t * ctx.dt - last[rows, neurons].double()
        xe, ue = x[rows, neurons], u[rows, neurons]

        def exp_of(values):
            return torch.tensor([math.exp(v) for v in values.tolist()], dtype=torch.float64).to(x.device, x.dtype)

        x_new = 1.0 + (xe - xe * ue - 1.0) * exp_of(-h / tau_rec.double())
        facilitating = tau_fac > 0
        u_decay = torch.where(facilitating, exp_of(-h / torch.where(facilitating, tau_fac, 1.0).double()), 0.0)
        u_new = U + ue * (1.0 - U) * u_decay
        first = last[rows, neurons] < 0
        x_new, u_new = torch.where(first, xe, x_new), torch.where(first, ue, u_new)
        x[rows, neurons], u[rows, neurons], last[rows, neurons] = x_new, u_new, ctx.t * ctx.dt
        return x_new * u_new

    def step(self, ctx, p, state, inputs):
        syn, spikes = state["synapses"], inputs["spikes"]
        state["pre_spikes"] = spikes
        queue = state.get("in_flight")
        fused = native.kernel("propagate", ctx.device, ctx.dtype)
        if fused is not None:
            held = spikes.contiguous()  # a temporary copy must outlive the call that reads it
            fused(self.native_args(ctx, p, state), held.data_ptr(), ctx.t)
            self.published(ctx.t + 1, state)
            return {"current": state["current"]}

        current = state["current"] * p.decay  # a fresh tensor: the published one stays intact
        rows, neurons = spikes.nonzero(as_tuple=True)
        ids, batch_rows = syn.outgoing(rows, neurons)
        w = syn.weights_of(ids, batch_rows)
        if self.stp != "none":
            scale = torch.zeros_like(spikes)
            scale[rows, neurons] = self._release(ctx, p, state, rows, neurons)
            w = w * scale[batch_rows, syn.pre[ids]]
        if queue is not None:
            slots = queue.shape[0]
            slot = (ctx.t + syn.delay[ids]) % slots
            queue.view(-1).index_add_(0, (slot * ctx.batch + batch_rows) * syn.n_post + syn.post[ids], w)
            now = queue[ctx.t % slots]
            current.add_(now)
            now.zero_()
        else:
            current.view(-1).index_add_(0, batch_rows * syn.n_post + syn.post[ids], w)
        state["current"] = current
        return {"current": current}
