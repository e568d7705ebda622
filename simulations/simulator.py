"""Compile a circuit into a torch simulator and run it.

One step calls every block's ``step`` in a fixed order that follows the wires. A *latent*
output (a synaptic current) is published only when the whole step is done, so its readers see
the previous step's value wherever they sit in the order; a loop of non-latent wires is run in
the order its blocks were added. So a spike emitted at step t changes the membrane from step
t + 1 on, as in Brian2's schedule (update, threshold, propagate, reset).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import param
import torch

from components import Block, Context, Params
from components.base import short

from . import fused
from .circuit import Circuit, Wire
from .errors import BlockFailure, CircuitError, DivergenceError, ParameterError, ResourceLimitError
from .limits import check_budget, max_memory, recorder_bytes
from .probes import SampleRecorder, SpikeRecorder, default_recorder

# What a block's own code may raise on inputs its checks did not foresee; turned into a
# BlockFailure naming the block (the user's error, not a crash).
_BLOCK_ERRORS = (LookupError, TypeError, ValueError, ArithmeticError, RuntimeError, MemoryError)


@dataclass
class _Node:
    """A block as built inside a simulator: a frozen copy, its tensors and its wiring."""

    name: str
    block: Block
    ctx: Context
    live: dict[str, torch.Tensor]  # live parameter values, shape (batch, 1)
    params: Params = None
    state: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # input -> [(block, output)]
    target: str | None = None  # for a learning rule: the projection it acts on
    latent: frozenset[str] = frozenset()  # outputs published at the end of the step

    def __post_init__(self):
        self.step = self.block.step  # bound once: attribute access on a Parameterized is slow
        self.checked = [k for k, port in self.block.outputs.items() if port.kind not in ("spikes", "plasticity")]


def _finite(value) -> bool:
    """No NaN or infinity in a float tensor. A sum (one pass, no mask) is finite when every term
    is; only when it is not (or overflowed) does the exact element test run."""
    if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
        return True
    return bool(torch.isfinite(value.sum())) or bool(torch.isfinite(value).all())


def _is_rule_wire(circuit: Circuit, w: Wire) -> bool:
    return circuit.block(w.source).outputs[w.output].kind == "plasticity"


def _step_order(circuit: Circuit) -> list[str]:
    """Blocks in an order where each reads this step's value of its non-latent inputs."""
    names = list(circuit.graph.nodes)
    rank = {n: i for i, n in enumerate(names)}
    deps = nx.DiGraph()
    deps.add_nodes_from(names)
    for w in circuit.wires:
        if _is_rule_wire(circuit, w):
            deps.add_edge(w.target, w.source)  # a rule runs after its projection
        elif not circuit.block(w.source).outputs[w.output].latent:
            deps.add_edge(w.source, w.target)
    groups = nx.condensation(deps)
    first = {g: min(rank[n] for n in groups.nodes[g]["members"]) for g in groups}
    order = []
    for g in nx.lexicographical_topological_sort(groups, key=lambda g: first[g]):
        order += sorted(groups.nodes[g]["members"], key=rank.get)
    return order


class Simulator:
    """A compiled circuit: state tensors with a leading batch dimension, stepped in order."""

    def __init__(self, circuit: Circuit, dt: float = 0.1, batch: int = 1, seed: int = 0,
                 device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 variants: dict[str, Sequence] | None = None, record: str | Sequence[str] = "default",
                 check_every: int = 1000):
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < 1e6:
            raise ParameterError(f"dt must be a positive number of ms, got {dt!r}")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ParameterError(f"batch must be a positive integer, got {batch!r}")
        variants = dict(variants or {})
        for key, values in variants.items():
            if len(values) != batch:
                raise ParameterError(f"variant {key!r} has {len(values)} values but batch is {batch}")
        circuit.validate()
        self.circuit = circuit.copy()  # frozen: later edits to the document need a new compile
        self.dt, self.batch, self.seed = float(dt), int(batch), int(seed)
        self.device, self.dtype = torch.device(device), dtype
        self.check_every = check_every
        self.generator = torch.Generator()  # on the CPU for every device: same seed, same numbers
        contexts = self.circuit._contexts()
        self.order = _step_order(self.circuit)
        self.nodes: dict[str, _Node] = {}
        for name in self.order:
            block = self.circuit.block(name)
            ctx = contexts[name]
            ctx.batch, ctx.dt, ctx.device, ctx.dtype, ctx.generator = self.batch, self.dt, self.device, dtype, self.generator
            live = {p: torch.full((self.batch, 1), float(getattr(block, p)), dtype=dtype, device=self.device)
                    for p in block.live_params()}
            latent = frozenset(k for k, port in block.outputs.items() if port.latent)
            self.nodes[name] = _Node(name, block, ctx, live, latent=latent)
        self.memory_estimate = check_budget({n: node.block for n, node in self.nodes.items()},
                                            {n: node.ctx for n, node in self.nodes.items()})
        self.skipped_probes: list[str] = []  # default probes left unrecorded: too big for the memory limit
        for w in self.circuit.wires:
            if _is_rule_wire(self.circuit, w):
                self.nodes[w.source].target = w.target
            else:
                self.nodes[w.target].sources.setdefault(w.input, []).append((w.source, w.output))
        self._ordered = [self.nodes[name] for name in self.order]
        self._checked = [(node.name, port) for node in self._ordered for port in node.checked]
        for key, values in variants.items():
            name, pname = self._split_param(key)
            self._set_live(name, pname, values)
        self.recorders: dict[str, SpikeRecorder | SampleRecorder] = {}
        self._recording: list = []  # (recorder, node, source) for each recorded probe
        self._record_request = record
        self.reset()

    # -- pickling and checkpoints --------------------------------------------------------------
    def __getstate__(self) -> dict:
        """For process pools: everything but compiled-kernel handles, which blocks rebuild."""
        from .checkpoint import REBUILT

        state = dict(self.__dict__)
        state["generator"] = self.generator.get_state()
        state["diverged"] = None if self.diverged is None else (self.diverged.block, self.diverged.variable, self.diverged.step)
        state["nodes"] = {}
        for name, node in self.nodes.items():
            twin = copy.copy(node)
            twin.state = {k: v for k, v in node.state.items() if k not in REBUILT}
            twin.ctx = copy.copy(node.ctx)
            twin.ctx.generator = None
            state["nodes"][name] = twin
        state["_ordered"] = [state["nodes"][n] for n in self.order]
        state["_recording"] = [(rec, state["nodes"][node.name], source) for rec, node, source in self._recording]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.generator = torch.Generator()
        self.generator.set_state(state["generator"])
        for node in self.nodes.values():
            node.ctx.generator = self.generator
        if state["diverged"] is not None:
            self.diverged = DivergenceError(*state["diverged"], self.dt)

    def save_checkpoint(self, path) -> None:
        """The full running state in an ``.npz`` file (no pickle); ``simulations.load_checkpoint`` resumes it."""
        from .checkpoint import save_checkpoint

        save_checkpoint(self, path)

    def to_xarray(self):
        """What the recorders kept as a labelled ``xarray.Dataset`` (see ``simulations.data``)."""
        from .data import to_xarray

        return to_xarray(self)

    # -- lifecycle -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0 with the same seed: the same run again, recorders emptied."""
        self.generator.manual_seed(self.seed)
        self.t = 0
        self.diverged: DivergenceError | None = None
        self._state_handed_out = False
        self.outputs: dict[tuple[str, str], torch.Tensor] = {}
        for node in self.nodes.values():
            try:
                node.params = self._derive(node)
                node.state = node.block.init_state(node.ctx, node.params)
            except CircuitError:
                raise
            except _BLOCK_ERRORS as e:
                raise BlockFailure(f"{node.name} ({type(node.block).__name__}) cannot be built: "
                                   f"{type(e).__name__}: {e}") from e
            for port_name, port in node.block.outputs.items():
                if port.kind != "plasticity":
                    width = node.ctx.sizes[port_name]
                    self.outputs[(node.name, port_name)] = torch.zeros(self.batch, width, dtype=self.dtype, device=self.device)
        if not self.recorders:
            self._default_recorders(self._record_request)
        for rec in self.recorders.values():
            rec.clear()

    def _derive(self, node: _Node) -> Params:
        p = Params(dict(node.live))
        p.__dict__.update(node.block.derive(p, self.dt))
        return p

    @property
    def time(self) -> float:
        """Biological time simulated so far (ms)."""
        return self.t * self.dt

    def run(self, seconds: float) -> "Simulator":
        """Simulate ``seconds`` of biological time."""
        return self.step(int(round(seconds * 1000.0 / self.dt)))

    def step(self, n: int = 1) -> "Simulator":
        """Advance n steps. Raises DivergenceError (and stays paused) if a state went non-finite:
        value outputs are checked after every step (after every compiled run of many steps), all
        state every ``check_every`` steps, so the error names where the divergence began."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ParameterError(f"the number of steps must be a whole number >= 0, got {n!r}")
        n = int(n)
        if self.diverged is not None:
            raise self.diverged
        if self._state_handed_out:  # state edited from outside: check it before using it
            self._state_handed_out = False
            self._check_finite(full=True)
        program = fused.build(self) if n > 1 else None
        while program is not None and n > 0:  # many steps in one compiled call
            done = program.run(min(n, self.check_every - self.t % self.check_every))
            self.t += done
            n -= done
            self._check_finite()
        for _ in range(n):
            self._step_once()
            self._check_finite()
        return self

    def _step_once(self) -> None:
        outputs, published_later, t = self.outputs, {}, self.t
        try:
            for node in self._ordered:
                node.ctx.t = t
                inputs = {}
                for port, sources in node.sources.items():
                    value = outputs[sources[0]]
                    for src in sources[1:]:
                        value = value + outputs[src]
                    inputs[port] = value
                if node.target is not None:
                    inputs["target"] = self.nodes[node.target].state
                for port, value in node.step(node.ctx, node.params, node.state, inputs).items():
                    (published_later if port in node.latent else outputs)[(node.name, port)] = value
                if node.target is not None and getattr(self.nodes[node.target].block, "sign", "free") != "free":
                    self.nodes[node.target].block.keep_sign(inputs["target"]["synapses"])  # Dale's law
        except _BLOCK_ERRORS as e:
            if isinstance(e, (CircuitError, DivergenceError)):
                raise
            self.diverged = BlockFailure(f"{node.name} ({type(node.block).__name__}) failed at step {t}: "
                                         f"{type(e).__name__}: {e}; the run is paused")
            raise self.diverged from e
        outputs.update(published_later)
        for rec, node, source in self._recording:
            rec.record(t, node.state[source] if source in node.state else outputs[(node.name, source)])
        self.t += 1

    def _outputs_finite(self) -> bool:
        """One cheap test of every value output (spikes cannot be NaN): a sum is NaN or
        infinite when any term is (or, rarely, when it overflows: then the exact scan runs)."""
        if not self._checked:
            return True
        return bool(torch.isfinite(torch.cat([self.outputs[key].reshape(-1) for key in self._checked]).sum()))

    def _check_finite(self, full: bool = False) -> None:
        """Value outputs after every step, all state every ``check_every`` steps. The first
        block in step order whose outputs went bad is blamed, naming its state variable that
        went bad where one did (a weight), else the output."""
        full = full or self.t % self.check_every == 0
        if not full and self._outputs_finite():
            return
        for node in self._ordered:
            outputs = {port: self.outputs[(node.name, port)] for port in node.checked}
            if full or not all(_finite(v) for v in outputs.values()):
                bad = [k for k, v in {**node.state, **outputs}.items() if not _finite(v)]
                if bad:
                    self.diverged = DivergenceError(node.name, bad[0], self.t, self.dt)
                    raise self.diverged

    # -- parameters and state ------------------------------------------------------------------
    def _split_param(self, key: str) -> tuple[str, str]:
        name, _, pname = key.partition(".")
        self.node(name)
        return name, pname

    def node(self, name: str) -> _Node:
        if name not in self.nodes:
            raise CircuitError(f"no block named {name!r} in this simulator (blocks: {', '.join(self.nodes)})")
        return self.nodes[name]

    def _set_live(self, name: str, pname: str, value) -> None:
        node = self.node(name)
        block = node.block
        if pname not in block.user_params():
            raise CircuitError(f"{name} ({type(block).__name__}) has no parameter {pname!r}")
        if pname not in node.live:
            raise CircuitError(
                f"{name}.{pname} shapes the circuit's structure; change it in the circuit and compile again"
            )
        if isinstance(value, (np.ndarray, torch.Tensor)):
            value = value.tolist()
        values = list(value) if isinstance(value, (list, tuple)) else [value] * self.batch
        if len(values) != self.batch:
            raise ParameterError(f"{name}.{pname}: got {len(values)} values for a batch of {self.batch}")
        if isinstance(block.param[pname], param.Number):
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
        for v in values:  # the declared checks (type, bounds, finite); block is our frozen copy
            problems = block.value_problems({pname: v}, pairs=False)
            if problems:
                raise ParameterError(f"{name} ({type(block).__name__}): {'; '.join(problems)}")
            try:
                setattr(block, pname, float(v))
            except ValueError as e:
                raise ParameterError(f"{name} ({type(block).__name__}): {e}") from None
        rows = torch.tensor([[float(v)] for v in values], dtype=torch.float64)
        for low, high in block.ordered:  # the declared pairs, in order in every batch row
            if pname in (low, high):
                other = high if pname == low else low
                theirs = node.live[other].double().cpu() if other in node.live else torch.tensor(float(getattr(block, other)))
                lo, hi = (rows, theirs) if pname == low else (theirs, rows)
                if bool((lo > hi).any()):
                    raise ParameterError(f"{name} ({type(block).__name__}): {low} would be more than {high} "
                                         f"({short(values if pname == low else theirs.flatten().tolist())} > "
                                         f"{short(theirs.flatten().tolist() if pname == low else values)})")
        node.live[pname] = torch.tensor([[float(v)] for v in values], dtype=self.dtype, device=self.device)

    def set_param(self, block: str, name: str, value) -> None:
        """Change a live parameter now (between or during runs); a sequence sets each batch row."""
        self._set_live(block, name, value)
        node = self.nodes[block]
        node.params = self._derive(node)

    def get_state(self, block: str, variable: str) -> torch.Tensor:
        """A block's state tensor itself (not a copy): edits to it take effect."""
        state = self.node(block).state
        if variable not in state:
            raise CircuitError(f"{block} has no state {variable!r} (state: {', '.join(state)})")
        self._state_handed_out = True
        return state[variable]

    def set_state(self, block: str, variable: str, value) -> None:
        """Overwrite a state tensor (e.g. initial voltages imported from another simulator)."""
        current = self.get_state(block, variable)
        current.copy_(torch.as_tensor(value, dtype=current.dtype, device=current.device).expand_as(current))

    # -- probes --------------------------------------------------------------------------------
    def probe_paths(self) -> dict[str, str]:
        """Every declared probe as ``"block.probe"`` -> view kind."""
        return {f"{n}.{k}": pr.view for n, node in self.nodes.items() for k, pr in node.block.probes.items()}

    def _probe_source(self, path: str) -> str:
        name, _, probe = path.partition(".")
        return self.nodes[name].block.probes[probe].source

    def probe_value(self, path: str) -> torch.Tensor:
        """The current value of the signal probe ``path`` watches (not a copy)."""
        node, source = self.nodes[path.partition(".")[0]], self._probe_source(path)
        if source in node.state:
            return node.state[source]
        return self.outputs[(node.name, source)]

    def record(self, path: str, recorder: SpikeRecorder | SampleRecorder | None = None) -> None:
        """Record probe ``path`` with ``recorder`` (default: chosen by the probe's view kind)."""
        paths = self.probe_paths()
        if path not in paths:
            raise CircuitError(f"no probe {path!r}; probes: {', '.join(paths)}")
        value = self.probe_value(path)
        recorder = recorder or default_recorder(paths[path], tuple(value.shape))
        others = sum(recorder_bytes(r, self.probe_value(p)) for p, r in self.recorders.items() if p != path)
        needed = recorder_bytes(recorder, value)
        if self.memory_estimate + others + needed > max_memory():
            raise ResourceLimitError(
                f"recording {path} would take {needed / 2 ** 20:.1f} MiB, over the memory limit with the circuit's "
                f"{(self.memory_estimate + others) / 2 ** 20:.1f} MiB; record fewer probes or raise WORKBENCH_MAX_MEMORY")
        self.recorders[path] = recorder
        recorder.label = path
        self._recording = [(rec, self.nodes[p.partition(".")[0]], self._probe_source(p)) for p, rec in self.recorders.items()]

    def _default_recorders(self, request) -> None:
        paths = self.probe_paths()
        if request == "default":
            chosen = list(paths)
        elif request in ("none", None):
            chosen = []
        else:
            chosen = list(request)
        for path in chosen:
            try:
                self.record(path)
            except ResourceLimitError:
                if request != "default":
                    raise
                self.skipped_probes.append(path)  # a big heatmap left out rather than the run refused

    def recorder(self, path: str):
        if path not in self.recorders:
            raise CircuitError(f"probe {path!r} is not recorded; recorded: {', '.join(self.recorders) or 'none'}")
        return self.recorders[path]

    def spikes(self, block: str, probe: str = "spikes", row: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (ms) and neuron indices of one batch row, in time order."""
        events = self.recorder(f"{block}.{probe}").events()
        events = events[events[:, 1] == row]
        return events[:, 0] * self.dt, events[:, 2]

    def trace(self, block: str, probe: str) -> tuple[np.ndarray, np.ndarray]:
        """Sample times (ms) and values (time, batch, ...) of a sampled probe."""
        steps, values = self.recorder(f"{block}.{probe}").samples()
        return steps * self.dt, values

    def rates(self, block: str, probe: str = "spikes") -> np.ndarray:
        """Mean firing rate (Hz) per batch row over the recorded window."""
        rec = self.recorder(f"{block}.{probe}")
        if rec.first_step is None:
            return np.zeros(self.batch)
        events = rec.events()
        width = self.probe_value(f"{block}.{probe}").shape[-1]
        seconds = (rec.last_step - rec.first_step + 1) * self.dt * 1e-3
        counts = np.bincount(events[:, 1], minlength=self.batch)
        return counts / (width * seconds)

    def weights(self, block: str, row: int = 0) -> torch.Tensor:
        """A projection's current weights as a dense (pre, post) matrix for one batch row."""
        return self.get_state(block, "synapses").dense(row)


def compile(circuit: Circuit, dt: float = 0.1, batch: int | None = None, seed: int = 0,
            device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
            variants: dict[str, Sequence] | None = None, record="default") -> Simulator:
    """Validate ``circuit`` and build a Simulator.

    ``variants`` maps ``"block.param"`` to one value per batch row, so one compile runs a
    parameter sweep; ``batch`` defaults to the variants' length (or 1). ``record`` is
    ``"default"`` (every declared probe), ``"none"``, or a list of ``"block.probe"`` paths.
    """
    if batch is None:
        lengths = {len(v) for v in (variants or {}).values()}
        if len(lengths) > 1:
            raise ValueError(f"variants have different lengths: {sorted(lengths)}")
        batch = lengths.pop() if lengths else 1
    return Simulator(circuit, dt=dt, batch=batch, seed=seed, device=device, dtype=dtype,
                     variants=variants, record=record)
