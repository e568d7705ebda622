"""TokenEncoder: a small public-domain text (shipped in assets/) as one token per step."""
from functools import lru_cache

import param
import torch

from .assets import ASSETS
from .base import Block, Port, Probe

DEFAULT_TEXT = "text/alice_chapter1.txt"


@lru_cache(maxsize=8)
def load_tokens(path: str = DEFAULT_TEXT) -> torch.Tensor:
    """The bytes of a text under assets/ as int64 tokens (byte-level vocabulary of 256, as in
    the BDH reference code)."""
    full = (ASSETS / path).resolve()
    if ASSETS not in full.parents or not full.is_file():
        raise ValueError(f"text {path!r} is not a file under {ASSETS}")
    return torch.tensor(list(full.read_bytes()), dtype=torch.long)


class TokenEncoder(Block):
    """Reads a text shipped in ``assets/`` one byte-token per ``t_present`` ms (wrapping around).

    Out: ``x``, the one-hot token (vocab 256, bytes as in the BDH reference code); ``next``, the
    one-hot of the following token (the target for a language-model readout or the ``next``
    input of HebbianStateLayer); ``embedding``, a fixed random Gaussian embedding of dimension
    ``d`` (seeded) for blocks that want dense input. Default text: the opening of Lewis Carroll's
    *Alice's Adventures in Wonderland* (1865, public domain; see assets/README.md).
    """

    category = "inputs"
    text = param.String(DEFAULT_TEXT, doc="text file under assets/")
    footprint = {"memory": (("vocab", "d"),)}
    vocab = param.Integer(256, bounds=(256, 256), doc="vocabulary size (bytes)")
    d = param.Integer(32, bounds=(1, None), doc="embedding dimension")
    offset = param.Integer(0, bounds=(0, None), doc="first token read")
    t_present = param.Number(1.0, bounds=(0.0, None), doc="how long each token is shown (ms; at least a step)")
    seed = param.Integer(0, doc="seed of the random embedding")
    structural = ("t_present",)

    outputs = {
        "x": Port("value", size="vocab", doc="one-hot token"),
        "next": Port("value", size="vocab", doc="one-hot of the next token"),
        "embedding": Port("value", size="d", doc="fixed random embedding of the token"),
    }
    probes = {"token": Probe("token", "scalar", "token (byte value) shown")}

    def check(self, ctx):
        tokens = load_tokens(self.text)
        if len(tokens) < 2:
            raise ValueError(f"text {self.text!r} has fewer than 2 tokens")

    def init_state(self, ctx, p):
        g = torch.Generator().manual_seed(self.seed)
        return {"tokens": load_tokens(self.text).to(ctx.device),
                "table": torch.randn(self.vocab, self.d, generator=g, dtype=ctx.dtype).to(ctx.device),
                "token": ctx.zeros(ctx.batch, 1), "x": ctx.zeros(ctx.batch, self.vocab),
                "next": ctx.zeros(ctx.batch, self.vocab), "embedding": ctx.zeros(ctx.batch, self.d)}

    def step(self, ctx, p, state, inputs):
        hold = max(1, int(round(self.t_present / ctx.dt)))
        if ctx.t % hold == 0:
            tokens = state["tokens"]
            i = (self.offset + ctx.t // hold) % len(tokens)
            tok, nxt = int(tokens[i]), int(tokens[(i + 1) % len(tokens)])
            state["x"] = ctx.zeros(ctx.batch, self.vocab)
            state["x"][:, tok] = 1.0
            state["next"] = ctx.zeros(ctx.batch, self.vocab)
            state["next"][:, nxt] = 1.0
            state["embedding"] = state["table"][tok].expand(ctx.batch, self.d).clone()
            state["token"] = ctx.zeros(ctx.batch, 1) + tok
        return {"x": state["x"], "next": state["next"], "embedding": state["embedding"]}
