"""An excitatory-inhibitory rate reservoir and the local rule that sets each neuron's inhibition.

Seed paper: Srinivasan, Plenz & Girvan (2025), "Boosting Reservoir Computing with
Brain-inspired Adaptive Dynamics" (arXiv:2504.12480). Its reservoir is made of discrete-time
sigmoid *rate* units obeying Dale's law, not spiking neurons, so these blocks are rate units too
(the library's Izhikevich neurons would change the model the claim is about): the paper's point
is the E/I balance of the recurrent input, which a sigmoid unit exposes directly as its
operating point on the nonlinearity.

Sources, honestly: we could read the paper's abstract and introduction only. The update
``V = (E - I) r + W_in u, r = sigmoid(gain (V - theta))``, the rule (each inhibitory weight onto
unit i changes by ``eta (r_i - rho_i)``) and the defaults (in-degree 50, 80% excitatory, gain
10, theta 0, 30% of units driven by weights uniform in +-0.25) follow a public re-implementation
that quotes the paper's equations 1 and 7 and its Table I; the authors' code was not found. The
distribution of heterogeneous targets is ours (uniform around a mean; that re-implementation
uses Beta(2, 2), close to our mean 0.5, spread 0.8).
"""
import param
import torch

from .base import Block, Port, Probe


class EIRateReservoir(Block):
    """Sigmoid rate units with separate excitatory and inhibitory inputs (Dale's law).

    Each step ``V_i <- leak V_i + sum_j E_ij r_j - beta sum_j I_ij r_j + sum_k W_ik u_k`` and
    ``r_i = 1 / (1 + exp(-gain (V_i - theta)))`` (0 < r < 1, the unit's firing rate as a fraction
    of its maximum). A fraction ``f_exc`` of the units is excitatory; every unit receives ``k``
    inputs, ``k_E = f_exc k`` from random excitatory units and ``k_I = k - k_E`` from random
    inhibitory ones, weights ``|N(w/k_E, 0.2 w/k_E)|`` and ``|N(w/k_I, 0.2 w/k_I)|``, so at
    ``beta = 1`` a unit's summed excitatory and inhibitory weights are both ``w`` on average
    (balanced); ``beta > 1`` is over-inhibited, ``beta < 1`` excitation-dominated: the single
    global E/I knob a conventional reservoir is tuned with. A fraction ``f_in`` of the units gets
    the input through weights uniform in ``[-sigma_in/2, sigma_in/2]``. The ``inhibition`` input
    (one value per unit, from ``InhibitoryHomeostasis``) is added to each of that unit's incoming
    inhibitory weights, which stay >= 0 (Dale's law).
    The wiring is drawn from the circuit's seed and shared by all batch rows.
    """

    category = "neurons"
    n = param.Integer(200, bounds=(2, None), doc="number of units")
    f_exc = param.Number(0.8, bounds=(0.05, 0.95), doc="fraction of excitatory units")
    k = param.Integer(50, bounds=(2, None), doc="recurrent inputs per unit (excitatory and inhibitory)")
    w = param.Number(1.0, bounds=(0.0, None), doc="mean summed excitatory weight onto a unit")
    beta = param.Number(1.0, bounds=(0.0, None), doc="global inhibition scale (1: balanced)")
    gain = param.Number(10.0, bounds=(0.0, None), doc="sigmoid slope")
    theta = param.Number(0.0, doc="sigmoid threshold")
    leak = param.Number(0.0, bounds=(0.0, 1.0), doc="fraction of V kept from the last step")
    sigma_in = param.Number(0.5, bounds=(0.0, None), doc="input weights uniform in [-sigma_in/2, sigma_in/2]")
    f_in = param.Number(0.3, bounds=(0.0, 1.0), doc="fraction of units that receive the input")
    structural = ("f_exc", "f_in")
    footprint = {"memory": (("n", "n", 3), ("batch", "n", "n")), "step": (("batch", "n", "n", 4),)}

    inputs = {
        "input": Port("value", size=None, doc="the signal driven into the reservoir"),
        "inhibition": Port("modulation", size="n", doc="added to each unit's inhibitory weights"),
    }
    outputs = {"rate": Port("value", doc="unit rates r in (0, 1)")}
    probes = {"rate": Probe("r", "heatmap", "unit rates"), "V": Probe("V", "trace", "summed input")}

    def split(self) -> tuple[int, int, int]:
        """(excitatory units, excitatory inputs per unit, inhibitory inputs per unit)."""
        k_exc = min(max(round(self.f_exc * self.k), 1), self.k - 1)
        return round(self.f_exc * self.n), k_exc, self.k - k_exc

    def check(self, ctx):
        n_exc, k_exc, k_inh = self.split()
        if k_exc > n_exc or k_inh > self.n - n_exc:
            raise ValueError(f"k = {self.k} needs {k_exc} excitatory and {k_inh} inhibitory inputs per unit but "
                             f"there are {n_exc} excitatory and {self.n - n_exc} inhibitory units; lower k or raise n")

    def init_state(self, ctx, p):
        n = self.n
        n_exc, k_exc, k_inh = self.split()
        g = ctx.generator

        def draw(pool, offset, k):
            mean = self.w / k
            pick = torch.rand(n, pool, generator=g).argsort(1)[:, :k] + offset  # k distinct inputs per unit
            weights = (mean + 0.2 * mean * torch.randn(n, k, generator=g)).abs()
            W = torch.zeros(n, n)
            W.scatter_(1, pick, weights)
            return W.to(ctx.device, ctx.dtype)

        E, I = draw(n_exc, 0, k_exc), draw(n - n_exc, n_exc, k_inh)
        n_in = ctx.sizes.get("input", 0)
        W_in = (torch.rand(n, max(n_in, 1), generator=g) - 0.5) * (torch.rand(n, 1, generator=g) < self.f_in)
        return {"E": E, "I": I, "I_mask": I > 0, "W_in": W_in.to(ctx.device, ctx.dtype),
                "V": ctx.zeros(ctx.batch, n), "r": ctx.zeros(ctx.batch, n) + 0.5, "delta": None, "beta": None, "W": None}

    def step(self, ctx, p, state, inputs):
        r = state["r"]
        if "inhibition" in inputs:  # per-row recurrent matrix E - beta max(I + delta_i, 0), rebuilt when either changes
            delta = inputs["inhibition"]
            if state["delta"] is None or not (torch.equal(delta, state["delta"]) and torch.equal(p.beta, state["beta"])):
                state["delta"], state["beta"] = delta.clone(), p.beta.clone()
                I_eff = (state["I"].unsqueeze(0) + delta.unsqueeze(2)).clamp(min=0) * state["I_mask"]
                state["W"] = state["E"].unsqueeze(0) - p.beta.unsqueeze(2) * I_eff
            recurrent = torch.bmm(state["W"], r.unsqueeze(2)).squeeze(2)
        else:
            recurrent = r @ state["E"].T - p.beta * (r @ state["I"].T)
        V = p.leak * state["V"] + recurrent
        if "input" in inputs:
            V = V + p.sigma_in * inputs["input"] @ state["W_in"].T
        state["V"] = V
        state["r"] = torch.sigmoid(p.gain * (V - p.theta))
        return {"rate": state["r"]}


class InhibitoryHomeostasis(Block):
    """Each unit moves its own inhibition until its rate sits at its own target.

    The paper's local rule: every inhibitory weight onto unit ``i`` changes by
    ``eta (r_i - rho_i)`` per step, more inhibition while the unit is above its target
    ``rho_i`` and less while below; the output ``inhibition`` is this per-unit sum of changes
    (wire it to ``EIRateReservoir.inhibition``). Targets are heterogeneous:
    ``rho_i = rho_mean (1 + rho_spread z_i)`` with ``z_i`` uniform in [-1, 1], drawn once from the
    circuit's seed (``rho_spread = 0``: one target for all). The rule learns for the first
    ``learn_ms`` ms (0: always) and then holds the inhibition it reached, so a readout trained
    afterwards sees a fixed reservoir. ``eta = 0``: no adaptation (the globally tuned reservoir).
    """

    category = "plasticity"
    n = param.Integer(200, bounds=(1, None), doc="number of units")
    eta = param.Number(0.001, bounds=(0.0, None), doc="learning rate (weight change per unit rate error per step)")
    rho_mean = param.Number(0.35, bounds=(0.0, 1.0), doc="mean target rate")
    rho_spread = param.Number(0.8, bounds=(0.0, 1.0), doc="targets spread +- this fraction of the mean")
    learn_ms = param.Number(2000.0, bounds=(0.0, None), doc="learning stops after this time (0: never)")

    inputs = {"rate": Port("value", required=True, doc="the units' rates")}
    outputs = {"inhibition": Port("modulation", latent=True, doc="change of each unit's inhibitory weights")}
    probes = {"inhibition": Probe("delta", "heatmap", "per-unit inhibitory weight change"),
              "error": Probe("error", "trace", "rate minus target")}

    def check(self, ctx):
        if ctx.sizes.get("rate", self.n) != self.n:
            raise ValueError(f"rate has {ctx.sizes['rate']} units but n = {self.n}")

    def init_state(self, ctx, p):
        z = 2 * ctx.rand(1, self.n) - 1
        return {"z": z, "delta": ctx.zeros(ctx.batch, self.n), "error": ctx.zeros(ctx.batch, self.n)}

    def targets(self, p, state) -> torch.Tensor:
        return (p.rho_mean * (1 + p.rho_spread * state["z"])).clamp(0.0, 1.0)

    def step(self, ctx, p, state, inputs):
        state["error"] = inputs["rate"] - self.targets(p, state)
        learning = (p.learn_ms <= 0) | (ctx.t * ctx.dt < p.learn_ms)  # (batch, 1)
        if bool(learning.any()):
            state["delta"] = state["delta"] + learning * p.eta * state["error"]
        return {"inhibition": state["delta"]}
