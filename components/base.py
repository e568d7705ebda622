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
import numbers
import reprlib
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


MAX_MAGNITUDE = 1e30  # beyond any physical value, well inside float32 (3.4e38): no overflow on load


def _number_problem(value, integral: bool) -> str | None:
    """What is wrong with ``value`` as a parameter number (None: nothing)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"should be a number, got {type(value).__name__} {short(value)}"
    limit = 2 ** 53 if integral else MAX_MAGNITUDE
    if isinstance(value, numbers.Integral):
        return None if abs(value) <= limit else f"is too large: {short(value)} (at most {limit:g} in magnitude)"
    if not math.isfinite(value):
        return f"should be finite, got {value!r}"
    if abs(value) > limit:
        return f"is too large: {value!r} (at most {limit:g} in magnitude)"
    if integral and value != int(value):
        return f"should be a whole number, got {value!r}"
    return None


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 6, 4, 40, 40, 40


def short(value) -> str:
    """A bounded repr for messages (safe for 5,000-digit integers, huge or deep lists)."""
    try:
        return _SHORT.repr(value)
    except (ValueError, RecursionError):  # an integer too long for str()
        return f"<{type(value).__name__}>"


class Table(param.List):
    """A list of rows of numbers (edges, patterns, spike lists), with its element types declared.

    ``widths``: the row lengths allowed (None: any, e.g. a pattern of n values, checked by the
    block against its sizes); the first ``index_columns`` entries of a row are whole numbers
    >= 0 (neuron indices; ``None``: every entry); the other entries are finite numbers within
    ``values`` (inclusive). A file or a Python caller can put nothing else in it.
    """

    __slots__ = ["widths", "index_columns", "values"]
    _slot_defaults = dict(param.List._slot_defaults, widths=None, index_columns=0, values=(None, None))

    def __init__(self, default=[], *, widths=None, index_columns=0, values=(None, None), **params):  # noqa: B006
        super().__init__(default=default, **params)
        self.widths, self.index_columns, self.values = widths, index_columns, tuple(values)

    def _validate(self, val):
        super()._validate(val)
        if val is None:
            return
        for k, row in enumerate(val):
            problem = self.row_problem(row)
            if problem:
                owner = getattr(self.owner, "__name__", type(self.owner).__name__)
                raise ValueError(f"{owner}.{self.name}[{k}] {problem}")

    def row_problem(self, row) -> str | None:
        if not isinstance(row, (list, tuple)):
            return f"should be a list of numbers, got {type(row).__name__} {short(row)}"
        if self.widths is not None and len(row) not in self.widths:
            return f"has {len(row)} entries; expected {' or '.join(map(str, self.widths))}"
        lo, hi = self.values
        for j, x in enumerate(row):
            index = self.index_columns is None or j < self.index_columns
            problem = _number_problem(x, integral=index)
            if problem is None and index and x < 0:
                problem = f"is a negative index ({x!r})"
            if problem is None and not index and ((lo is not None and x < lo) or (hi is not None and x > hi)):
                problem = f"{x!r} is outside [{lo}, {hi}]"
            if problem:
                return f"entry {j} {problem}"
        return None


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
    # (low, high) parameter pairs that must satisfy low <= high, e.g. ("w_min", "w_max")
    ordered: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Files saved before a parameter was added: {new parameter: {parameter: the value such a
    # file meant}}; when a file lacks the new parameter, the reader fills these in where absent.
    file_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    # What building and stepping the block costs, as shapes whose factors are parameter names,
    # port names (their widths), "batch", numbers, or "<time param>/dt" (a duration in steps):
    # "memory" counts tensor elements beyond the ports' own state, "build" the operations done
    # once at compile (training, sampling; about a nanosecond each), "step" those of one step.
    # ``cost`` sums them; the simulator refuses a circuit over its limits before allocating
    # anything (simulations.limits).
    footprint: ClassVar[dict[str, tuple[tuple, ...]]] = {}

    def __init__(self, **params):
        super().__init__(**params)
        problems = self.value_problems()
        if problems:
            raise ValueError("; ".join(problems))

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

    def value_problems(self, values: dict[str, Any] | None = None, pairs: bool = True) -> list[str]:
        """What is wrong with the parameter values (this block's, updated by ``values``), each as
        "field: problem". Derived from the declarations: every number finite and of a sane
        magnitude, integers whole and below 2**53, ``ordered`` pairs in order (Tables check
        their own rows when set)."""
        cls, found = type(self), []
        current = {p: getattr(self, p) for p in self.user_params()}
        current.update(values or {})
        for name, value in current.items():
            decl = cls.param[name]
            if isinstance(decl, param.Number) and value is not None:
                problem = _number_problem(value, integral=isinstance(decl, param.Integer))
                if problem:
                    found.append(f"{name} {problem}")
        for low, high in cls.ordered if pairs else ():
            a, b = current[low], current[high]
            if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (a, b)) and a > b:
                found.append(f"{low} = {short(a)} is more than {high} = {short(b)}")
        return found

    def cost(self, ctx: Context) -> dict[str, float]:
        """Estimated "memory" (bytes), "build" and "step" work (operations) with these sizes,
        computed from the ports and ``footprint`` before anything is allocated."""
        def factor(f):
            if isinstance(f, str):
                if f == "batch":
                    return ctx.batch
                if f.endswith("/dt"):
                    return (getattr(self, f[:-3]) or 0) / ctx.dt + 1
                if f in ctx.sizes or f in self.inputs or f in self.outputs:
                    return ctx.sizes.get(f, 0)
                v = getattr(self, f)
                return len(v) if isinstance(v, (list, dict, str)) else (v or 0)
            return f
        widths = sum(ctx.sizes.get(port, 0) for port in {**self.inputs, **self.outputs})
        out = {"memory": 4 * ctx.batch * widths, "build": 0, "step": ctx.batch * widths}
        for kind, shapes in self.footprint.items():
            out[kind] += sum(math.prod(factor(f) for f in shape) for shape in shapes)
        out["memory"] *= 8  # bytes per element: int64 indices and float64 tables are common
        return out

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
