"""Fused runs: many steps of a circuit inside one compiled call, with no Python per step.

Applies when every block has a compiled kernel that can run unattended (LIF populations,
equation-defined neurons with at most one wire per input, projections without learning rules,
static or with short-term plasticity, or subclasses that keep their step, on CPU) and every
recorder is a spike recorder of such a population. The program calls the same maths as the
per-step kernels, in the same order, so spikes are identical; anything else runs step by step.
It runs on up to ``torch.get_num_threads()`` threads, each owning a share of every population's
neurons and of every projection's targets: spikes are identical for any thread count. A small
circuit runs on one (threads wait for each other twice a step: that only pays off with
``NEURONS_PER_THREAD`` neurons or more each).
"""
from __future__ import annotations

import ctypes

import torch

from components import native
from components.equation_neuron import _EquationNeuronBase
from components.lif_population import LIFPopulation
from components.projection import Projection

from .probes import SpikeRecorder

NEURONS_PER_THREAD = 10_000


def _plain(block, kind) -> bool:
    """A ``kind`` block whose step is ``kind``'s own (a subclass with its own maths is not)."""
    return isinstance(block, kind) and type(block).step is kind.step


def _spiking(block) -> bool:
    """A population whose spikes the compiled program produces."""
    return _plain(block, LIFPopulation) or _plain(block, _EquationNeuronBase)


class Program:
    """The circuit as an array of compiled ops, rebuilt by ``build`` before each run."""

    def __init__(self, sim, ops, recorded, run):
        self.sim, self.ops, self.recorded, self._run = sim, ops, recorded, run
        widths = [node.ctx.batch * node.ctx.sizes["spikes"] for node, _ in recorded]
        self.neurons = sum(node.state["v"].numel() for node in sim.nodes.values() if _spiking(node.block))
        self.per_step_max = max(sum(widths), 1)
        self.events = torch.empty(3 * max(self.per_step_max * 8, 300_000), dtype=torch.long)
        self._count = ctypes.c_int64()

    def threads(self) -> int:
        """Threads for this circuit: torch's count, fewer when each would get too few neurons."""
        return max(1, min(torch.get_num_threads(), self.neurons // max(NEURONS_PER_THREAD, 1)))

    def run(self, steps: int) -> int:
        """Advance up to ``steps`` steps (fewer if the event buffer fills); returns steps done."""
        sim = self.sim
        done = self._run(self.ops, len(self.ops), sim.t, steps, self.events.data_ptr(), len(self.events),
                         self.per_step_max, ctypes.byref(self._count), self.threads())
        events = self.events[: 3 * self._count.value].view(-1, 3)
        for index, (node, recorder) in enumerate(self.recorded):
            mine = events[events[:, 1] == index]
            n = node.ctx.sizes["spikes"]
            recorder.extend(sim.t, sim.t + done, mine[:, 0], mine[:, 2] // n, mine[:, 2] % n)
        for node in sim.nodes.values():
            if isinstance(node.block, Projection):
                node.block.published(sim.t + done, node.state)
                sim.outputs[(node.name, "current")] = node.state["current"]
            else:
                sim.outputs[(node.name, "spikes")] = node.state["spikes"]
                sim.outputs[(node.name, "v")] = node.state["v"]
        return done


def build(sim) -> Program | None:
    """A program for ``sim`` as it is now, or None when some part must run step by step."""
    run = native.kernel("run_program", sim.device, sim.dtype)
    if run is None:
        return None
    for node in sim.nodes.values():
        node.ctx.t = sim.t
    recorded = []
    for path, recorder in sim.recorders.items():
        name, _, probe = path.partition(".")
        node = sim.nodes[name]
        if not (isinstance(recorder, SpikeRecorder) and _spiking(node.block) and probe == "spikes"):
            return None
        recorded.append((node, recorder))
    record_id = {node.name: i for i, (node, _) in enumerate(recorded)}
    ops = (native.ProgramOp * len(sim.order))()
    op_of = {node.name: op for op, node in zip(ops, sim._ordered)}
    for op, node in zip(ops, sim._ordered):
        block, state = node.block, node.state
        if _plain(block, LIFPopulation):
            sources = node.sources.get("current", [])
            if len(sources) > native.MAX_SOURCES or any(
                    port != "current" or not _plain(sim.nodes[src].block, Projection) for src, port in sources):
                return None
            op.kind, op.n_sources, op.record = native.OP_LIF, len(sources), record_id.get(node.name, -1)
            op.args = ctypes.addressof(block.native_args(node.ctx, node.params, state))
            for k, (src, _) in enumerate(sources):
                source = sim.nodes[src]
                op.sources[k] = ctypes.addressof(source.block.native_args(source.ctx, source.params, source.state))
            if len(sources) > 2:
                state.setdefault("summed_current", torch.zeros_like(state["v"]))
                op.scratch = state["summed_current"].data_ptr()
            op.fired = _fired(state, state["v"])
        elif _plain(block, _EquationNeuronBase):
            kernel = block.native_kernel(node.ctx)
            if kernel is None:
                return None
            op.kind, op.record = native.OP_MODEL, record_id.get(node.name, -1)
            block.native_args(node.ctx, node.params, state, {})
            op.args = ctypes.addressof(state["packed_args"])
            op.scratch = state["zeros"].data_ptr()  # read for unwired inputs
            op.fn = ctypes.cast(block.native_kernel(node.ctx, span=True), ctypes.c_void_p).value
            op.fired = _fired(state, state["v"])
            for k, port in enumerate(("current", "exc", "inh")):
                sources = node.sources.get(port, [])
                if len(sources) > 1 or any(not _plain(sim.nodes[src].block, Projection) for src, _ in sources):
                    return None
                for src, _ in sources:
                    source = sim.nodes[src]
                    op.inputs[k] = ctypes.addressof(source.block.native_args(source.ctx, source.params, source.state))
        elif _plain(block, Projection) and node.target is None and "plasticity" not in node.ctx.wired:
            (src, port), = node.sources["spikes"]
            if not _spiking(sim.nodes[src].block):
                return None
            op.kind, op.record = native.OP_PROPAGATE, -1
            op.args = ctypes.addressof(block.native_args(node.ctx, node.params, state))
            op.source = ctypes.pointer(op_of[src])
        else:
            return None
    return Program(sim, ops, recorded, run)


def _fired(state, v) -> int:
    """A population's buffer for the indices of its spikes in a step (written by the program)."""
    if state.get("fired") is None or state["fired"].numel() != 3 * v.numel():
        state["fired"] = torch.empty(3 * v.numel(), dtype=torch.long)
    return state["fired"].data_ptr()
