"""NeuralMemory: the Titans long-term memory, an MLP learned at test time by surprise, read and
written through projections W_K, W_V, W_Q that an outer loop trains (``fit``)."""
import param
import torch
import torch.nn.functional as F

from .base import Block, Port, Probe

PROJECTIONS = ("W_K", "W_V", "W_Q")
GATES = ("gate_w", "gate_b")  # data-dependent theta, eta, alpha (rows in that order)


def memory_read(mem, q):
    """M(q) for (batch, d) inputs, with the hidden pre-activation of a depth-2 memory (else None)."""
    if "M2" not in mem:
        return torch.einsum("bij,bj->bi", mem["M"], q), None
    hid = torch.einsum("bij,bj->bi", mem["M"], q)
    return torch.einsum("bij,bj->bi", mem["M2"], F.relu(hid)), hid


def memory_write(mem, surprise, k, v, theta, eta, alpha):
    """One test-time step of the inner loop: loss ``l = ||M(k) - v||^2``, momentary surprise
    ``grad l`` (written out by hand, so the outer loop can differentiate through it), surprise
    with momentum ``S <- eta S - theta grad l`` and forgetting ``M <- (1 - alpha) M + S``.
    ``theta``, ``eta``, ``alpha``: (batch, 1) or scalars. Returns the new memory, the new
    surprise, the loss and the norm of the momentary surprise, each per batch row."""
    out, hid = memory_read(mem, k)
    err = 2.0 * (out - v)  # d l / d M(k)
    if hid is None:
        grads = {"M": err[:, :, None] * k[:, None, :]}
    else:
        back = torch.einsum("bij,bi->bj", mem["M2"], err) * (hid > 0).to(k.dtype)
        grads = {"M2": err[:, :, None] * F.relu(hid)[:, None, :], "M": back[:, :, None] * k[:, None, :]}
    norm = sum((g * g).sum(dim=(1, 2)) for g in grads.values()).sqrt()
    loss = ((out - v) ** 2).sum(1)
    a, th, et = (torch.as_tensor(z, dtype=k.dtype).reshape(-1, 1, 1) for z in (alpha, theta, eta))
    new_s = {name: et * surprise[name] - th * grads[name] for name in mem}
    new_mem = {name: (1.0 - a) * mem[name] + new_s[name] for name in mem}
    return new_mem, new_s, loss, norm


class NeuralMemory(Block):
    """Neural long-term memory of Behrouz, Zhong & Mirrokni 2024, "Titans: Learning to Memorize
    at Test Time": a memory M (linear, or a 2-layer ReLU MLP) learned while the circuit runs.

    Per step: key ``k = normalize(W_K x)``, value ``v = W_V x``, query ``q = normalize(W_Q
    query)`` (the ``query`` input, else x), three separate projections; the read ``y = M(q)``
    comes before the write; inner loss ``l = ||M(k) - v||^2``; surprise with momentum
    ``S <- eta S - theta grad l`` (past + momentary surprise); forgetting gate
    ``M <- (1 - alpha) M + S``.

    What is trained, and when (as in the paper, two loops): the memory M learns at test time,
    in every step of a run, by the rule above (the inner loop). W_K, W_V, W_Q are trained
    beforehand by ``fit`` (the outer loop): gradient descent through the unrolled inner updates
    on training sequences, with a recall loss on the memory's reads; then frozen and stored in
    ``weights`` (plain lists, so a circuit file keeps them). Without ``fit`` they are seeded
    random projections (v has about unit norm). Data-dependent gates (``gates`` on, as in the
    paper): per step ``theta_t, eta_t, alpha_t`` = the knobs theta, eta, alpha times
    ``sigmoid(w x_t + b)`` (one row of ``gate_w``, ``gate_b`` each), trained by ``fit`` with the
    projections; off (default), the knobs are used as they are (constants per batch row).
    Where we differ from the paper: the outer loss is the recall of the written items from cues (a contrastive loss over
    the items of a sequence), not a language-model loss of a larger architecture; the initial
    memory is not trained. Watch: ``surprise`` (norm of the momentary gradient), ``loss``,
    the memory weights.
    """

    category = "memory"
    d = param.Integer(64, bounds=(1, None), doc="key/value dimension")
    depth = param.Integer(1, bounds=(1, 2), doc="memory MLP depth (1: linear)")
    hidden = param.Integer(128, bounds=(1, None), doc="hidden width of a depth-2 memory")
    theta = param.Number(0.5, bounds=(0.0, None), doc="learning rate of the surprise (momentary)")
    eta = param.Number(0.3, bounds=(0.0, 1.0), doc="momentum of the surprise (past surprise kept)")
    alpha = param.Number(0.0, bounds=(0.0, 1.0), doc="forgetting gate (1: forget everything)")
    seed = param.Integer(0, doc="seed of the initial W_K, W_V, W_Q and of the initial memory")
    gates = param.Boolean(False, doc="data-dependent gates: theta, eta, alpha = knob * sigmoid(w x + b), trained by fit")
    weights = param.Dict(default={}, doc="trained W_K, W_V, W_Q (and gates) set by fit; empty: the seeded random ones")
    footprint = {"memory": (("d", "x", 3), ("batch", "d", "d", 3), ("batch", "d", "hidden", 6)),
                 "step": (("batch", "d", "x", 6), ("batch", "d", "d", 8), ("batch", "d", "hidden", 16))}

    inputs = {
        "x": Port("value", size=None, required=True, doc="input token/vector (keys and values come from it)"),
        "query": Port("value", size=None, doc="what to read with (default: x)"),
    }
    outputs = {"y": Port("value", size="d", doc="read-out M(q), before this step's write")}
    probes = {
        "surprise": Probe("surprise", "scalar", "norm of the momentary surprise (gradient)"),
        "loss": Probe("loss", "scalar", "associative loss ||M(k) - v||^2 before the write"),
        "memory": Probe("M", "heatmap", "memory weights (first layer)"),
    }

    # -- projections and the outer loop ---------------------------------------------------------
    def trained_names(self) -> tuple[str, ...]:
        return PROJECTIONS + (GATES if self.gates else ())

    def projections(self, n_in: int) -> dict[str, torch.Tensor]:
        """W_K, W_V, W_Q (d x n_in, float64), and with ``gates`` gate_w (3 x n_in), gate_b (3):
        the trained ones if set, else seeded random projections and gates open to 0.88 of the knobs."""
        if self.weights:
            return {k: torch.tensor(self.weights[k], dtype=torch.float64) for k in self.trained_names()}
        g = torch.Generator().manual_seed(self.seed)
        d = self.d
        W = {"W_K": torch.randn(d, n_in, generator=g, dtype=torch.float64) * n_in ** -0.5,
             "W_V": torch.randn(d, n_in, generator=g, dtype=torch.float64) * (n_in * d) ** -0.5,
             "W_Q": torch.randn(d, n_in, generator=g, dtype=torch.float64) * n_in ** -0.5}
        if self.gates:
            W.update(gate_w=torch.zeros(3, n_in, dtype=torch.float64), gate_b=torch.full((3,), 2.0, dtype=torch.float64))
        return W

    @staticmethod
    def gated(W, x, theta, eta, alpha):
        """theta, eta, alpha for inputs x (batch, n): the knobs, times sigmoid(w x + b) with gates."""
        if "gate_w" not in W:
            return theta, eta, alpha
        open_ = torch.sigmoid(x @ W["gate_w"].T + W["gate_b"])  # (batch, 3)
        return tuple(knob * open_[:, i:i + 1] for i, knob in enumerate((theta, eta, alpha)))

    def initial_memory(self, batch: int, dtype=torch.float64) -> dict[str, torch.Tensor]:
        d, h = self.d, self.hidden
        if self.depth == 1:
            return {"M": torch.zeros(batch, d, d, dtype=dtype)}
        g = torch.Generator().manual_seed(self.seed + 7919)
        first = torch.randn(h, d, generator=g, dtype=torch.float64).to(dtype) * d ** -0.5
        return {"M": first.expand(batch, h, d).clone(), "M2": torch.zeros(batch, d, h, dtype=dtype)}

    def recall(self, W, items, cues, theta=None, eta=None, alpha=None):
        """Write ``items`` (B, T, n) into a fresh memory one by one (inner loop, test time),
        then read with ``cues`` (B, C, n). Returns the reads (B, C, d) and the values of the
        items (B, T, d). Differentiable in W."""
        theta = self.theta if theta is None else theta
        eta = self.eta if eta is None else eta
        alpha = self.alpha if alpha is None else alpha
        B, T, _ = items.shape
        mem = self.initial_memory(B, items.dtype)
        s = {k: torch.zeros_like(v) for k, v in mem.items()}
        keys = F.normalize(items @ W["W_K"].T, dim=-1)
        values = items @ W["W_V"].T
        for t in range(T):
            mem, s, _, _ = memory_write(mem, s, keys[:, t], values[:, t], *self.gated(W, items[:, t], theta, eta, alpha))
        q = F.normalize(cues @ W["W_Q"].T, dim=-1)
        reads = torch.stack([memory_read(mem, q[:, c])[0] for c in range(cues.shape[1])], 1)
        return reads, values

    def fit(self, items, cues, targets=None, iterations: int = 200, lr: float = 0.02,
            temperature: float = 0.1) -> list[float]:
        """Outer loop: train W_K, W_V, W_Q (and the gates) by Adam on training sequences
        (``items`` (B, T, n), ``cues`` (B, C, n)) so that the read with cue c picks out the value
        of item ``targets[b, c]`` (default: item c) among the sequence's values (cross-entropy
        over cosine similarities / ``temperature``), through the unrolled test-time updates of
        M. Stores the result in ``weights``; returns the losses."""
        items, cues = (torch.as_tensor(z, dtype=torch.float64) for z in (items, cues))
        W = {k: v.clone().requires_grad_(True) for k, v in self.projections(items.shape[-1]).items()}
        opt = torch.optim.Adam(list(W.values()), lr=lr)
        if targets is None:
            targets = torch.arange(cues.shape[1]).expand(items.shape[0], -1)
        labels = torch.as_tensor(targets, dtype=torch.long).reshape(-1)
        losses = []
        for _ in range(iterations):
            opt.zero_grad()
            loss = F.cross_entropy(recall_logits(*self.recall(W, items, cues), temperature).flatten(0, 1), labels)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        self.weights = {k: v.detach().tolist() for k, v in W.items()}
        return losses

    # -- simulation -----------------------------------------------------------------------------
    def check(self, ctx):
        if "query" in ctx.sizes and ctx.sizes["query"] != ctx.sizes["x"]:
            raise ValueError(f"query has {ctx.sizes['query']} values but x has {ctx.sizes['x']}")
        if self.weights:
            shapes = {**{k: (self.d, ctx.sizes["x"]) for k in PROJECTIONS}, "gate_w": (3, ctx.sizes["x"]), "gate_b": (3,)}
            for key in self.trained_names():
                shape = shapes[key]
                if key not in self.weights:
                    raise ValueError(f"weights lack {key!r} (expected {', '.join(self.trained_names())})")
                try:
                    values = torch.tensor(self.weights[key], dtype=torch.float64)
                except (TypeError, ValueError, RuntimeError, OverflowError):
                    raise ValueError(f"weights[{key!r}] should be nested lists of numbers of shape {shape}") from None
                if not bool(torch.isfinite(values).all()):
                    raise ValueError(f"weights[{key!r}] holds NaN or infinite values")
                if tuple(values.shape) != shape:
                    raise ValueError(f"weights[{key!r}] has shape {tuple(values.shape)}, expected {shape} "
                                     f"for d={self.d} and {ctx.sizes['x']} inputs")

    def init_state(self, ctx, p):
        state = {k: v.to(ctx.device, ctx.dtype) for k, v in self.projections(ctx.sizes["x"]).items()}
        mem = {k: v.to(ctx.device, ctx.dtype) for k, v in self.initial_memory(ctx.batch).items()}
        state.update(mem, params=list(mem), surprise=ctx.zeros(ctx.batch, 1), loss=ctx.zeros(ctx.batch, 1))
        for name in mem:
            state["S_" + name] = torch.zeros_like(mem[name])
        return state

    def step(self, ctx, p, state, inputs):
        x = inputs["x"]
        k = F.normalize(x @ state["W_K"].T, dim=1)
        v = x @ state["W_V"].T
        q = F.normalize(inputs.get("query", x) @ state["W_Q"].T, dim=1)
        mem = {name: state[name] for name in state["params"]}
        y, _ = memory_read(mem, q)
        knobs = self.gated(state, x, p.theta, p.eta, p.alpha)
        mem, s, loss, norm = memory_write(mem, {n: state["S_" + n] for n in mem}, k, v, *knobs)
        for name in mem:
            state[name], state["S_" + name] = mem[name], s[name]
        state["surprise"], state["loss"] = norm.unsqueeze(1), loss.unsqueeze(1)
        return {"y": y}


def recall_logits(reads, values, temperature=0.1):
    """(B, T, T) cosine similarity of read t with value j, / temperature."""
    return torch.einsum("btd,bjd->btj", F.normalize(reads, dim=-1), F.normalize(values, dim=-1)) / temperature
