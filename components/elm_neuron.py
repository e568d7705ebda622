"""ELMNeuron: the Expressive Leaky Memory neuron, with a small autograd training routine."""
from __future__ import annotations

import math

import param
import torch

from .base import Block, Port, Probe

PARAM_NAMES = ("w_s", "log_tau_m", "W1", "b1", "W2", "Wy", "by")


def init_params(n: int, n_in: int, n_memory: int, n_hidden: int, tau_min: float, tau_max: float,
                seed: int = 0) -> dict[str, torch.Tensor]:
    """Random initial parameters (float32, CPU) of n ELM neurons; memory timescales log-uniform
    in [tau_min, tau_max]."""
    g = torch.Generator().manual_seed(seed)
    d = n_in + n_memory
    taus = torch.exp(torch.linspace(math.log(tau_min), math.log(tau_max), n_memory)).expand(n, n_memory)
    return {
        "w_s": torch.full((n, n_in), 0.5),
        "log_tau_m": taus.log().clone(),
        "W1": torch.randn(n, n_hidden, d, generator=g) / math.sqrt(d),
        "b1": torch.zeros(n, n_hidden),
        "W2": torch.randn(n, n_memory, n_hidden, generator=g) / math.sqrt(n_hidden),
        "Wy": torch.randn(n, n_memory, generator=g) / math.sqrt(n_memory),
        "by": torch.zeros(n),
    }


def elm_step(prm: dict, decay_s, s, m, x, dt: float, lam: float = 5.0):
    """One step of n ELM neurons for a batch. s: (B, n, n_in) synaptic traces, m: (B, n, M)
    memory, x: (B, n_in) input. Returns new s, m and the output y (B, n)."""
    s = decay_s * s + torch.relu(prm["w_s"]) * x[:, None, :]
    k = torch.exp(-dt / torch.exp(prm["log_tau_m"]))  # (n, M) memory decay per step
    hidden = torch.relu(torch.einsum("nhd,bnd->bnh", prm["W1"], torch.cat([s, k * m], -1)) + prm["b1"])
    dm = torch.tanh(torch.einsum("nmh,bnh->bnm", prm["W2"], hidden))
    m = k * m + lam * (1 - k) * dm
    y = (prm["Wy"] * m).sum(-1) + prm["by"]
    return s, m, y


def elm_run(prm: dict, xs: torch.Tensor, tau_s: float, dt: float, lam: float = 5.0) -> torch.Tensor:
    """Outputs (B, T, n) of the ELM neurons for input sequences xs (B, T, n_in), from rest."""
    B, T, n_in = xs.shape
    n, M = prm["log_tau_m"].shape
    s, m = xs.new_zeros(B, n, n_in), xs.new_zeros(B, n, M)
    decay_s = math.exp(-dt / tau_s)
    ys = []
    for t in range(T):
        s, m, y = elm_step(prm, decay_s, s, m, xs[:, t], dt, lam)
        ys.append(y)
    return torch.stack(ys, 1)


class ELMNeuron(Block):
    """Expressive Leaky Memory neurons: synaptic traces, M leaky memory units with learnable
    timescales, updated through a small MLP; output a linear readout of the memory.

    Seed paper: "The Expressive Leaky Memory Neuron: an Efficient and Expressive
    Phenomenological Neuron Model Can Solve Long-Horizon Tasks" (Spieler et al., ICLR 2024).
    As its reference code (AaronSpieler/elmneuron), per neuron, in discrete time ``dt``:
      ``s <- s e^(-dt/tau_s) + relu(w_s) * x`` (synaptic traces, one per input, w_s from 0.5),
      ``dm = tanh(W2 relu(W1 [s, k m] + b1))`` (the MLP sees the decayed memory ``k m``),
      ``m <- k m + lambda (1 - k) dm`` with ``k = e^(-dt/tau_m)`` and the scale ``lambda_value``,
      ``y = Wy . m + by``.
    Differences: one MLP layer per neuron with ``n_hidden`` units, plain tanh, no synapse
    routing onto branches; the M timescales ``tau_m`` start log-uniform in [tau_min, tau_max]
    and, unlike the reference default, are trained with the rest (as log tau, unbounded). ``tau_s`` is shared and fixed. Train with ``fit`` (torch autograd, Adam)
    on input/target sequences; the trained parameters are stored in ``weights`` (plain lists, so
    a circuit file keeps them) and used by the simulator. Inputs come as values (``x``) and/or
    spikes (``spikes``), which add.
    """

    category = "neurons"
    n = param.Integer(1, bounds=(1, None), doc="number of ELM neurons (each has its own parameters)")
    n_memory = param.Integer(10, bounds=(1, None), doc="memory units per neuron (M)")
    n_hidden = param.Integer(16, bounds=(1, None), doc="hidden units of each neuron's MLP")
    tau_s = param.Number(5.0, bounds=(0.01, None), doc="synaptic trace time constant (ms)")
    tau_min = param.Number(1.0, bounds=(0.01, None), doc="shortest initial memory timescale (ms)")
    tau_max = param.Number(1000.0, bounds=(0.01, None), doc="longest initial memory timescale (ms)")
    lambda_value = param.Number(5.0, bounds=(0.0, None), doc="scale of the memory update (the reference's lambda)")
    seed = param.Integer(0, doc="seed of the initial parameters")
    weights = param.Dict(default={}, doc="trained parameters (set by fit); empty: the seeded initial ones")
    structural = ("tau_s", "tau_min", "tau_max")
    ordered = (("tau_min", "tau_max"),)
    footprint = {"memory": (("n", "n_hidden", "x", 2), ("n", "n_hidden", "spikes", 2), ("n", "n_hidden", "n_memory", 4),
                            ("batch", "n", "x"), ("batch", "n", "spikes"), ("batch", "n", "n_memory")),
                 "step": (("batch", "n", "n_hidden", "x", 2), ("batch", "n", "n_hidden", "spikes", 2),
                          ("batch", "n", "n_hidden", "n_memory", 4))}

    inputs = {
        "x": Port("value", size=None, doc="input values"),
        "spikes": Port("spikes", size=None, doc="input spikes (added to x)"),
    }
    outputs = {"y": Port("value", doc="neuron outputs")}
    probes = {
        "y": Probe("y", "trace", "outputs"),
        "memory": Probe("m", "heatmap", "memory units (neuron x unit)"),
    }

    # -- parameters and training ----------------------------------------------------------------
    def parameters_for(self, n_in: int) -> dict[str, torch.Tensor]:
        if self.weights:
            return {k: torch.tensor(self.weights[k], dtype=torch.float32) for k in PARAM_NAMES}
        return init_params(self.n, n_in, self.n_memory, self.n_hidden, self.tau_min, self.tau_max, self.seed)

    def fit(self, xs, ys, mask=None, dt: float = 1.0, iterations: int = 300, lr: float = 0.01,
            learn_timescales: bool = True) -> list[float]:
        """Train on sequences ``xs`` (B, T, n_in) -> targets ``ys`` (B, T, n) by Adam on the
        squared error at the steps where ``mask`` (B, T) is true (all steps if None), through
        time with torch autograd. Stores the result in ``weights``; returns the loss per iteration."""
        xs, ys = torch.as_tensor(xs, dtype=torch.float32), torch.as_tensor(ys, dtype=torch.float32)
        mask = torch.ones(ys.shape[:2], dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        prm = {k: v.clone().requires_grad_(k != "log_tau_m" or learn_timescales)
               for k, v in self.parameters_for(xs.shape[-1]).items()}
        opt = torch.optim.Adam([v for v in prm.values() if v.requires_grad], lr=lr)
        losses = []
        for _ in range(iterations):
            opt.zero_grad()
            err = (elm_run(prm, xs, self.tau_s, dt, self.lambda_value) - ys)[mask]
            loss = (err ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        self.weights = {k: v.detach().tolist() for k, v in prm.items()}
        return losses

    def predict(self, xs, dt: float = 1.0) -> torch.Tensor:
        """Outputs (B, T, n) for input sequences (B, T, n_in) with the current parameters."""
        xs = torch.as_tensor(xs, dtype=torch.float32)
        with torch.no_grad():
            return elm_run(self.parameters_for(xs.shape[-1]), xs, self.tau_s, dt, self.lambda_value)

    # -- simulation -----------------------------------------------------------------------------
    def check(self, ctx):
        widths = {ctx.sizes[k] for k in ("x", "spikes") if k in ctx.wired}
        if not widths:
            raise ValueError("wire x or spikes: the neuron has no input")
        if len(widths) > 1:
            raise ValueError(f"x and spikes must have the same width, got {sorted(widths)}")
        n_in = widths.pop()
        if self.weights:
            shapes = self.param_shapes(n_in)
            for key, shape in shapes.items():
                if key not in self.weights:
                    raise ValueError(f"weights lack {key!r} (expected {', '.join(shapes)})")
                try:
                    values = torch.tensor(self.weights[key], dtype=torch.float32)
                except (TypeError, ValueError, RuntimeError, OverflowError):
                    raise ValueError(f"weights[{key!r}] should be nested lists of numbers of shape {shape}") from None
                if not bool(torch.isfinite(values).all()):
                    raise ValueError(f"weights[{key!r}] holds NaN or infinite values")
                got = tuple(values.shape)
                if got != shape:
                    raise ValueError(f"weights[{key!r}] has shape {got}, expected {shape} for n={self.n}, "
                                     f"n_hidden={self.n_hidden}, n_memory={self.n_memory} and {n_in} inputs")

    def param_shapes(self, n_in: int) -> dict[str, tuple[int, ...]]:
        """The shape of each trained parameter with ``n_in`` inputs."""
        n, h, m = self.n, self.n_hidden, self.n_memory
        return {"w_s": (n, n_in), "log_tau_m": (n, m), "W1": (n, h, n_in + m), "b1": (n, h), "W2": (n, m, h),
                "Wy": (n, m), "by": (n,)}

    def init_state(self, ctx, p):
        n_in = ctx.sizes["x"] if "x" in ctx.wired else ctx.sizes["spikes"]
        prm = {k: v.to(ctx.device, ctx.dtype) for k, v in self.parameters_for(n_in).items()}
        return {"params": prm, "s": ctx.zeros(ctx.batch, self.n, n_in), "m": ctx.zeros(ctx.batch, self.n, self.n_memory),
                "y": ctx.zeros(ctx.batch, self.n)}

    def step(self, ctx, p, state, inputs):
        x = inputs.get("x")
        if "spikes" in inputs:
            x = inputs["spikes"] if x is None else x + inputs["spikes"]
        state["s"], state["m"], y = elm_step(state["params"], math.exp(-ctx.dt / self.tau_s), state["s"], state["m"],
                                             x, ctx.dt, self.lambda_value)
        state["y"] = y
        return {"y": y}
