"""NeuralMemory: the Titans long-term memory, an MLP learned at test time by surprise."""
import param
import torch
import torch.nn.functional as F

from .base import Block, Port, Probe


class NeuralMemory(Block):
    """Neural long-term memory of Behrouz, Zhong & Mirrokni 2024, "Titans: Learning to Memorize
    at Test Time": a memory M (linear, or a 2-layer ReLU MLP) learned while the circuit runs.

    Per step: ``k = normalize(W_k x)``, ``v = W_v x`` (fixed random projections, seeded; v has about unit norm);
    the read ``y = M(q)`` with ``q = normalize(W_k query)`` (``query`` input, else the key)
    comes before the write; loss ``l = ||M(k) - v||^2``; surprise with momentum
    ``S <- eta S - theta grad l`` (past + momentary surprise); forgetting gate
    ``M <- (1 - alpha) M + S``. Variant: eta, theta and alpha are live knobs (constants per
    batch row) rather than data-dependent gates; W_k, W_v are not trained (no outer loop).
    Watch: ``surprise`` (norm of the momentary gradient), ``loss``, the memory weights.
    """

    category = "memory"
    d = param.Integer(64, bounds=(1, None), doc="key/value dimension")
    depth = param.Integer(1, bounds=(1, 2), doc="memory MLP depth (1: linear)")
    hidden = param.Integer(128, bounds=(1, None), doc="hidden width of a depth-2 memory")
    theta = param.Number(0.5, bounds=(0.0, None), doc="learning rate of the surprise (momentary)")
    eta = param.Number(0.3, bounds=(0.0, 1.0), doc="momentum of the surprise (past surprise kept)")
    alpha = param.Number(0.0, bounds=(0.0, 1.0), doc="forgetting gate (1: forget everything)")
    seed = param.Integer(0, doc="seed of W_k, W_v and the initial memory")
    footprint = {"memory": (("d", "x", 2), ("batch", "d", "d", 3), ("batch", "d", "hidden", 6)),
                 "step": (("batch", "d", "x", 4), ("batch", "d", "d", 8), ("batch", "d", "hidden", 16))}

    inputs = {
        "x": Port("value", size=None, required=True, doc="input token/vector (keys and values come from it)"),
        "query": Port("value", size=None, doc="what to read with (default: the key of x)"),
    }
    outputs = {"y": Port("value", size="d", doc="read-out M(q), before this step's write")}
    probes = {
        "surprise": Probe("surprise", "scalar", "norm of the momentary surprise (gradient)"),
        "loss": Probe("loss", "scalar", "associative loss ||M(k) - v||^2 before the write"),
        "memory": Probe("M", "heatmap", "memory weights (first layer)"),
    }

    def check(self, ctx):
        if "query" in ctx.sizes and ctx.sizes["query"] != ctx.sizes["x"]:
            raise ValueError(f"query has {ctx.sizes['query']} values but x has {ctx.sizes['x']}")

    def init_state(self, ctx, p):
        g = torch.Generator().manual_seed(self.seed)
        n_in, d, h = ctx.sizes["x"], self.d, self.hidden

        def rand(*shape, scale):
            return (torch.randn(*shape, generator=g) * scale).to(ctx.device, ctx.dtype)

        state = {"W_k": rand(d, n_in, scale=n_in ** -0.5), "W_v": rand(d, n_in, scale=(n_in * d) ** -0.5),
                 "surprise": ctx.zeros(ctx.batch, 1), "loss": ctx.zeros(ctx.batch, 1)}
        if self.depth == 1:
            state["M"] = ctx.zeros(ctx.batch, d, d)
            state["params"] = ["M"]
        else:
            state["M"] = rand(h, d, scale=d ** -0.5).expand(ctx.batch, h, d).clone()
            state["M2"] = ctx.zeros(ctx.batch, d, h)
            state["params"] = ["M", "M2"]
        for name in state["params"]:
            state["S_" + name] = torch.zeros_like(state[name])
        return state

    def memory(self, state, k):
        """M(k) for (batch, d) keys, with the hidden activity of a depth-2 memory."""
        if self.depth == 1:
            return torch.einsum("bij,bj->bi", state["M"], k), None
        hid = torch.einsum("bij,bj->bi", state["M"], k)
        return torch.einsum("bij,bj->bi", state["M2"], F.relu(hid)), hid

    def step(self, ctx, p, state, inputs):
        x = inputs["x"]
        k = F.normalize(x @ state["W_k"].T, dim=1)
        v = x @ state["W_v"].T
        q = k if "query" not in inputs else F.normalize(inputs["query"] @ state["W_k"].T, dim=1)
        y, _ = self.memory(state, q)
        out, hid = self.memory(state, k)
        err = 2.0 * (out - v)  # d loss / d M(k)
        if self.depth == 1:
            grads = {"M": err[:, :, None] * k[:, None, :]}
        else:
            act = F.relu(hid)
            back = torch.einsum("bij,bi->bj", state["M2"], err) * (hid > 0).to(ctx.dtype)
            grads = {"M2": err[:, :, None] * act[:, None, :], "M": back[:, :, None] * k[:, None, :]}
        sq = sum((g * g).sum(dim=(1, 2)) for g in grads.values())
        state["surprise"] = sq.sqrt().unsqueeze(1)
        state["loss"] = ((out - v) ** 2).sum(1, keepdim=True)
        a, th, et = p.alpha[:, :, None], p.theta[:, :, None], p.eta[:, :, None]
        for name in state["params"]:
            s = state["S_" + name] = et * state["S_" + name] - th * grads[name]
            state[name] = (1.0 - a) * state[name] + s
        return {"y": y}
