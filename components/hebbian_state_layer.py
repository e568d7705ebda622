"""HebbianStateLayer: the BDH ("Dragon Hatchling") layer, whose working memory is a Hebbian
synaptic state over sparse positive neuron activations."""
from __future__ import annotations


import param
import torch
import torch.nn.functional as F

from .base import Block, Port, Probe
from .token_encoder import DEFAULT_TEXT, load_tokens

_TRAINED: dict[tuple, dict[str, torch.Tensor]] = {}  # trained weights, by configuration


def _ln(x):
    return F.layer_norm(x, x.shape[-1:])


def init_weights(vocab: int, n: int, d: int, seed: int) -> dict[str, torch.Tensor]:
    """Gaussian (std 0.02) weights as in the reference code: embedding (vocab, d), encoders
    E, E_v (d, n), decoder D (n, d), language-model head (d, vocab). Float64, so that training
    and the analyses below give the same result on every CPU path (float32 sums in a different
    SIMD order flipped which synapse won on AVX-512 vs AVX2 machines)."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"emb": (vocab, d), "enc": (d, n), "enc_v": (d, n), "dec": (n, d), "head": (d, vocab)}
    return {k: torch.randn(*s, generator=g, dtype=torch.float64) * 0.02 for k, s in shapes.items()}


def bdh_parallel(w: dict, tokens: torch.Tensor, lam: float, n_layer: int):
    """The layer stack over whole sequences (training form). tokens (B, T) -> logits (B, T, V)
    and the last layer's activations (x_sparse, y_sparse), each (B, T, n).

    Linear attention over positive sparse activations with a causal decaying mask:
    ``a_t = sum_{s<t} lam^(t-1-s) (x_t . x_s) v_s`` equals reading the Hebbian state
    ``rho_t = sum_{s<t} lam^(t-1-s) x_s v_s^T`` of the recurrent form (``step``)."""
    T = tokens.shape[1]
    t = torch.arange(T, dtype=w["emb"].dtype)
    gap = t[:, None] - t[None, :] - 1
    mask = torch.where(gap >= 0, lam ** gap.clamp_min(0), torch.zeros((), dtype=t.dtype))
    x = _ln(w["emb"][tokens])
    for _ in range(n_layer):
        xs = F.relu(x @ w["enc"])
        a = _ln(((xs @ xs.transpose(1, 2)) * mask) @ x)
        ys = F.relu(a @ w["enc_v"])
        x = _ln(x + _ln((xs * ys) @ w["dec"]))
    return x @ w["head"], xs, ys


def train_bdh(n=256, d=32, n_layer=2, lam=0.97, steps=200, seq=64, batch=16, lr=3e-3, l1=0.2, seed=0,
              text=DEFAULT_TEXT, holdout=0.1, vocab=256, shuffle=False) -> dict[str, torch.Tensor]:
    """Train the tiny model on the first ``1 - holdout`` of a shipped text (next-byte
    prediction, Adam, float64). ``l1`` adds an activity penalty on the sparse activations.
    ``shuffle`` trains on a random permutation of the same bytes instead (a control: the same
    byte statistics, no words). Cached by configuration, so a compile after the first is instant."""
    key = (n, d, n_layer, lam, steps, seq, batch, lr, l1, seed, text, holdout, vocab, shuffle)
    if key in _TRAINED:
        return _TRAINED[key]
    tokens = load_tokens(text)
    train = tokens[: int(len(tokens) * (1 - holdout))]
    if shuffle:
        train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + 2))]
    w = {k: v.requires_grad_() for k, v in init_weights(vocab, n, d, seed).items()}
    opt = torch.optim.Adam(w.values(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.enable_grad():
        for _ in range(steps):
            start = torch.randint(0, len(train) - seq - 1, (batch,), generator=g)
            chunk = torch.stack([train[s: s + seq + 1] for s in start.tolist()])
            logits, xs, ys = bdh_parallel(w, chunk[:, :-1], lam, n_layer)
            loss = F.cross_entropy(logits.reshape(-1, vocab), chunk[:, 1:].reshape(-1))
            if l1 > 0:
                loss = loss + l1 * (xs.mean() + ys.mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    _TRAINED[key] = {k: v.detach() for k, v in w.items()}
    return _TRAINED[key]


class HebbianStateLayer(Block):
    """The BDH layer of Kosowski et al. 2025, "The Dragon Hatchling: The Missing Link between
    the Transformer and Models of the Brain" (reference code: pathwaycom/bdh), in its recurrent
    (state-space) form, one token per step.

    Per layer (weights shared across layers, as in the reference code): ``x_s = ReLU(x E)``
    (n neurons, sparse and positive), read the synaptic state ``a = LN(x_s rho)``, ``y_s =
    ReLU(a E_v)``, ``x <- LN(x + LN((x_s * y_s) D))``; then the Hebbian update ``rho <- lam rho
    + x_s^T x`` (co-activation of neuron and input strengthens the synapse, decaying by ``lam``).
    Logits ``x H`` predict the next byte. Variant: a single head, no RoPE, a decay ``lam`` on
    the state (the reference uses RoPE and no decay); encoders/decoder rank is ``d``.

    Weights: trained at compile time on the first 90% of the shipped text for ``train_steps``
    Adam steps (a few seconds; cached), with an L1 activity penalty ``l1`` on x_s and y_s that
    makes the activations sparse in so short a training; random when ``train_steps`` is 0. Watch: ``sparsity`` (fraction of
    neurons active; the paper reports about 5%), ``rho`` (synapse heatmap), ``loss``.
    """

    category = "memory"
    n = param.Integer(256, bounds=(1, None), doc="number of neurons")
    d = param.Integer(32, bounds=(1, None), doc="rank of the encoders/decoder (embedding dimension)")
    vocab = param.Integer(256, bounds=(2, None), doc="vocabulary (bytes: 256)")
    n_layer = param.Integer(2, bounds=(1, None), doc="layers (weights shared, one state each)")
    lam = param.Number(0.97, bounds=(0.0, 1.0), doc="decay of the synaptic state per token")
    train_steps = param.Integer(200, bounds=(0, None), doc="Adam steps on the shipped text at compile (0: random)")
    l1 = param.Number(0.2, bounds=(0.0, None), doc="activity penalty on x_s and y_s in training (sparsity)")
    text = param.String(DEFAULT_TEXT, doc="training text under assets/")
    seed = param.Integer(0, doc="seed of the initial weights")
    structural = ("l1",)
    # training: train_steps Adam steps on 16 sequences of 64 tokens (forward, backward, update)
    footprint = {"memory": (("n_layer", "batch", "n", "d"), ("vocab", "d", 4), ("n", "d", 12),
                            (16, 64, "n_layer", "n", 12)),
                 "build": (("train_steps", 16 * 64 * 12, "n_layer", "n", "d"), ("train_steps", 16 * 64 * 6, "vocab", "d")),
                 "step": (("batch", "n_layer", "n", "d", 8), ("batch", "vocab", "d", 2))}

    inputs = {
        "x": Port("value", size="vocab", required=True, doc="one-hot token"),
        "next": Port("value", size="vocab", doc="one-hot next token (to score the prediction)"),
    }
    outputs = {
        "logits": Port("value", size="vocab", doc="next-token logits"),
        "activity": Port("value", size="n", doc="sparse positive neuron activations x_s (last layer)"),
    }
    probes = {
        "sparsity": Probe("sparsity", "scalar", "fraction of neurons active (last layer)"),
        "rho": Probe("rho_last", "heatmap", "synaptic state of the last layer (neurons x d)"),
        "activity": Probe("xs", "heatmap", "neuron activations"),
        "loss": Probe("loss", "scalar", "cross-entropy of the prediction of this token (nats)"),
    }

    def weights(self) -> dict[str, torch.Tensor]:
        if self.train_steps == 0:
            return init_weights(self.vocab, self.n, self.d, self.seed)
        return train_bdh(n=self.n, d=self.d, n_layer=self.n_layer, lam=float(self.lam), steps=self.train_steps,
                         l1=float(self.l1), seed=self.seed, text=self.text, vocab=self.vocab)

    def init_state(self, ctx, p):
        w = {k: v.to(ctx.device, ctx.dtype) for k, v in self.weights().items()}
        rho = ctx.zeros(self.n_layer, ctx.batch, self.n, self.d)
        return {"w": w, "rho": rho, "rho_last": rho[-1], "xs": ctx.zeros(ctx.batch, self.n),
                "sparsity": ctx.zeros(ctx.batch, 1), "loss": ctx.zeros(ctx.batch, 1)}

    def step(self, ctx, p, state, inputs):
        w, rho = state["w"], state["rho"]
        x = _ln(inputs["x"] @ w["emb"])
        lam = p.lam[:, :, None]  # (batch, 1, 1)
        for layer in range(self.n_layer):
            xs = F.relu(x @ w["enc"])
            a = _ln(torch.einsum("bn,bnd->bd", xs, rho[layer]))
            ys = F.relu(a @ w["enc_v"])
            rho[layer] = lam * rho[layer] + xs[:, :, None] * x[:, None, :]
            x = _ln(x + _ln((xs * ys) @ w["dec"]))
        logits = x @ w["head"]
        state["xs"] = xs
        state["sparsity"] = (xs > 0).to(ctx.dtype).mean(1, keepdim=True)
        if "next" in inputs:
            state["loss"] = -(torch.log_softmax(logits, 1) * inputs["next"]).sum(1, keepdim=True)
        return {"logits": logits, "activity": xs}


def bdh_recurrent(w: dict, tokens: torch.Tensor, lam: float, n_layer: int):
    """The recurrent form (as ``HebbianStateLayer.step``) over one sequence, in the weights'
    dtype: per token the last layer's sparse activations x_s (T, n) and its input x (T, d),
    whose outer products build that layer's synaptic state."""
    rho = torch.zeros(n_layer, w["enc"].shape[1], w["enc"].shape[0], dtype=w["enc"].dtype)
    xs_all, x_all = [], []
    with torch.no_grad():
        for tok in tokens.tolist():
            x = _ln(w["emb"][tok])
            for layer in range(n_layer):
                xs = F.relu(x @ w["enc"])
                a = _ln(xs @ rho[layer])
                ys = F.relu(a @ w["enc_v"])
                rho[layer] = lam * rho[layer] + xs[:, None] * x[None, :]
                x_in, x = x, _ln(x + _ln((xs * ys) @ w["dec"]))
            xs_all.append(xs)
            x_all.append(x_in)
    return torch.stack(xs_all), torch.stack(x_all)


def concept_synapses(xs: torch.Tensor, x: torch.Tensor, starts: list[int], length: int, lam: float) -> list[tuple[int, int]]:
    """Per occurrence of a word (start indices, ``length`` tokens), the synapse (neuron, input
    dimension) of the last layer's state that the word strengthened most: the argmax of
    ``sum_k lam^(length-1-k) x_s[t+k]^T x[t+k]`` (the state's change beyond its decay)."""
    tops = []
    for t in starts:
        k = torch.arange(length, dtype=xs.dtype)
        weights = lam ** (length - 1 - k)
        change = torch.einsum("k,kn,kd->nd", weights, xs[t: t + length], x[t: t + length])
        flat = int(change.argmax())
        tops.append((flat // change.shape[1], flat % change.shape[1]))
    return tops
