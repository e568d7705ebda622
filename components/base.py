"""The block contract: what every block in the library declares.

A block type is a ``param.Parameterized`` class. Its parameters (with bounds and docs) are the
single declaration from which the inspector, the JSON file and validation all derive. Its maths
lives in ``init_state`` and ``step`` over torch tensors whose leading dimension is the batch.

Numeric parameters (``param.Number`` that are not listed in ``structural``) are *live*: the
simulator holds them as tensors of shape ``(batch, 1)``, so each batch row can run a different
value and a value can change while the circuit runs. Every other parameter is *structural*: it
shapes state or connectivity and takes effect on the next compile.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

import param
import torch

PORT_KINDS = ("spikes", "current", "value", "modulation", "plasticity")
VIEW_KINDS = ("raster", "trace", "heatmap", "scalar", "graph")


@dataclass(frozen=True)
class Port:
    """A typed, named input or output of a block.

    ``size`` names the integer parameter that gives the port's width (e.g. ``"n"``), is a
    fixed width (e.g. 1 for a scalar such as an energy), or is ``None`` when the width is
    taken from whatever the port is wired to (a projection's pre and
    post sizes). A ``latent`` output is published at the end of the step, so its readers see
    the previous step's value: this is how synaptic currents reach neurons and close loops.
    A block must return a fresh tensor for a latent output, never one it mutates later.
    """

    kind: str
    size: str | int | None = "n"
    doc: str = ""
    required: bool = False
    latent: bool = False

    def __post_init__(self):
        if self.kind not in PORT_KINDS:
            raise ValueError(f"unknown port kind {self.kind!r}; expected one of {PORT_KINDS}")


@dataclass(frozen=True)
class Probe:
    """A signal a user can watch: a state variable or output, and how to show it by default."""

    source: str
    view: str
    doc: str = ""

    def __post_init__(self):
        if self.view not in VIEW_KINDS:
            raise ValueError(f"unknown view kind {self.view!r}; expected one of {VIEW_KINDS}")


@dataclass
class Context:
    """What a block sees of the simulator: sizes of its ports, batch, dt, RNG, device, step."""

    batch: int
    dt: float
    device: torch.device
    dtype: torch.dtype
    generator: torch.Generator
    sizes: dict[str, int] = field(default_factory=dict)
    wired: frozenset[str] = frozenset()  # names of this block's input ports that have wires
    t: int = 0  # index of the step being computed

    def zeros(self, *shape, dtype=None) -> torch.Tensor:
        return torch.zeros(*shape, dtype=dtype or self.dtype, device=self.device)

    def rand(self, *shape) -> torch.Tensor:
        """Uniform [0, 1) numbers from the circuit's seeded stream.

        Blocks draw one row and broadcast it over the batch ("common random numbers"), so batch
        row b sees exactly what a separate run of variant b would see. Numbers are drawn on the
        CPU and moved, so a GPU run sees the same numbers as a CPU run.
        """
        return torch.rand(*shape, generator=self.generator, dtype=self.dtype).to(self.device)

    def randn(self, *shape) -> torch.Tensor:
        """Standard normal numbers from the circuit's seeded stream (see ``rand``)."""
        return torch.randn(*shape, generator=self.generator, dtype=self.dtype).to(self.device)


class Params:
    """Attribute access to a block's live parameter tensors and the values derived from them."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    def __repr__(self):
        return f"Params({', '.join(sorted(self.__dict__))})"


def exp_decay(dt: float, tau: torch.Tensor) -> torch.Tensor:
    """``exp(-dt/tau)`` per element, computed in float64 by the C library (as Brian2 does), so
    a decay factor is bit-identical on every device and batch layout."""
    values = [math.exp(-dt / t) for t in tau.flatten().tolist()]
    decay = torch.tensor(values, dtype=tau.dtype, device=tau.device).reshape(tau.shape)
    if tau.requires_grad:  # training a time constant: same value, exact gradient
        exact = torch.exp(-dt / tau)
        decay = decay + (exact - exact.detach())
    return decay


# -- the spike nonlinearity ----------------------------------------------------------------------
# Surrogates: smooth steps from 0 to 1 (value 0.5 at x = 0) whose derivative stands in for the
# Heaviside's in training; ``slope`` is in 1/(units of x), e.g. 1/mV for a membrane.
SURROGATES = {
    "fast_sigmoid": lambda x, k: 0.5 + 0.5 * (k * x) / (1 + (k * x).abs()),  # d/dx = (k/2) / (1 + k|x|)^2
    "arctan": lambda x, k: 0.5 + torch.atan(0.5 * math.pi * k * x) / math.pi,  # d/dx = (k/2) / (1 + (pi k x/2)^2)
}
_SPIKE_MODE: ContextVar[tuple | None] = ContextVar("spike_mode", default=None)


@contextmanager
def surrogate(name: str = "fast_sigmoid", slope: float = 1.0, soft: bool = False):
    """Within this context ``spike`` back-propagates through surrogate ``name``. Forward values
    stay exact Heaviside steps, so training sees the spikes inference sees; ``soft=True`` also
    makes the forward value the smooth step (only for checking gradients by finite differences)."""
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; expected one of {sorted(SURROGATES)}")
    token = _SPIKE_MODE.set((SURROGATES[name], float(slope), soft))
    try:
        yield
    finally:
        _SPIKE_MODE.reset(token)


def spike(x: torch.Tensor) -> torch.Tensor:
    """1.0 where ``x >= 0`` else 0.0 (x is e.g. ``v - v_th``): the one place a neuron decides
    to fire, so that training can give the step a surrogate gradient (see ``surrogate``)."""
    mode = _SPIKE_MODE.get()
    if mode is None or not (x.requires_grad or mode[2]):
        return (x >= 0).to(x.dtype)
    smooth_step, slope, soft = mode
    smooth = smooth_step(x, slope)
    if soft:
        return smooth
    return (x >= 0).to(x.dtype) + (smooth - smooth.detach())  # exact step forward, smooth backward


REGISTRY: dict[str, type[Block]] = {}


class Block(param.Parameterized):
    """Base class of every block. Subclasses are registered by class name when defined."""

    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {}
    probes: ClassVar[dict[str, Probe]] = {}
    structural: ClassVar[tuple[str, ...]] = ()
    category: ClassVar[str] = "other"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        shared = set(cls.inputs) & set(cls.outputs)
        if shared:  # sizes and wires are looked up by port name
            raise TypeError(f"{cls.__name__}: ports {sorted(shared)} are both an input and an output; rename one")
        if "target" in cls.inputs:
            raise TypeError(f"{cls.__name__}: the input name 'target' is reserved for a rule's projection state")
        if not cls.__name__.startswith("_"):
            REGISTRY[cls.__name__] = cls

    # -- declarations derived from the params --------------------------------------------------
    @classmethod
    def user_params(cls) -> list[str]:
        """Names of the parameters a user sets (everything except param's own ``name``)."""
        return [p for p in cls.param if p != "name"]

    @classmethod
    def live_params(cls) -> list[str]:
        return [
            p
            for p in cls.user_params()
            if isinstance(cls.param[p], param.Number)
            and not isinstance(cls.param[p], param.Integer)
            and p not in cls.structural
        ]

    def values(self) -> dict[str, Any]:
        """The block's parameter values, as plain JSON-friendly Python."""
        return {p: getattr(self, p) for p in self.user_params()}

    def port_size(self, port: Port) -> int | None:
        if port.size is None or isinstance(port.size, int):
            return port.size
        return int(getattr(self, port.size))

    # -- maths: subclasses override ------------------------------------------------------------
    def derive(self, p: Params, dt: float) -> dict[str, torch.Tensor]:
        """Quantities computed from live params whenever they change (e.g. decay factors)."""
        return {}

    def check(self, ctx: Context) -> None:
        """Raise ValueError naming the problem if the block cannot be built with these sizes."""

    def init_state(self, ctx: Context, p: Params) -> dict[str, Any]:
        return {}

    def step(self, ctx: Context, p: Params, state: dict[str, Any], inputs: dict[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError
