"""Compile a circuit into a torch simulator and run it.

One step calls every block's ``step`` in a fixed order that follows the wires. A *latent*
output (a synaptic current) is published only when the whole step is done, so its readers see
the previous step's value wherever they sit in the order; a loop of non-latent wires is run in
the order its blocks were added. So a spike emitted at step t changes the membrane from step
t + 1 on, as in Brian2's schedule (update, threshold, propagate, reset).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import torch

from components import Block, Context, Params

from . import fused
from .circuit import Circuit, Wire
from .errors import CircuitError, DivergenceError
from .probes import SampleRecorder, SpikeRecorder, default_recorder


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
    return not (isinstance(value, torch.Tensor) and value.is_floating_point()) or bool(torch.isfinite(value).all())


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
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        variants = dict(variants or {})
        for key, values in variants.items():
            if len(values) != batch:
                raise ValueError(f"variant {key!r} has {len(values)} values but batch is {batch}")
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
        for w in self.circuit.wires:
            if _is_rule_wire(self.circuit, w):
                self.nodes[w.source].target = w.target
            else:
                self.nodes[w.target].sources.setdefault(w.input, []).append((w.source, w.output))
        self._ordered = [self.nodes[name] for name in self.order]
        for key, values in variants.items():
            name, pname = self._split_param(key)
            self._set_live(name, pname, values)
        self.recorders: dict[str, SpikeRecorder | SampleRecorder] = {}
        self._recording: list = []  # (recorder, node, source) for each recorded probe
        self._record_request = record
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to t = 0 with the same seed: the same run again, recorders emptied."""
        self.generator.manual_seed(self.seed)
        self.t = 0
        self.diverged: DivergenceError | None = None
        self._state_handed_out = False
        self.outputs: dict[tuple[str, str], torch.Tensor] = {}
        for node in self.nodes.values():
            node.params = self._derive(node)
            node.state = node.block.init_state(node.ctx, node.params)
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
        """Advance n steps. Raises DivergenceError (and stays paused) if a state went non-finite."""
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
            if self.t % self.check_every == 0:
                self._check_finite()
        for _ in range(n):
            self._step_once()
            if self.t % self.check_every == 0:
                self._check_finite()
        return self

    def _step_once(self) -> None:
        outputs, published_later, t = self.outputs, {}, self.t
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
        outputs.update(published_later)
        for rec, node, source in self._recording:
            rec.record(t, node.state[source] if source in node.state else outputs[(node.name, source)])
        self.t += 1

    def _check_finite(self, full: bool = False) -> None:
        """Value outputs every ``check_every`` steps (cheap; spikes cannot be NaN), all state
        every 100 checks. The error names the state variable that went bad where one did."""
        full = full or self.t % (100 * self.check_every) == 0
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
        values = list(value) if isinstance(value, (Sequence, np.ndarray, torch.Tensor)) else [value] * self.batch
        if len(values) != self.batch:
            raise ValueError(f"{name}.{pname}: got {len(values)} values for a batch of {self.batch}")
        for v in values:  # the param's own bounds check and message; block is our frozen copy
            setattr(block, pname, float(v))
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
        self.recorders[path] = recorder or default_recorder(paths[path], tuple(self.probe_value(path).shape))
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
            self.record(path)

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
