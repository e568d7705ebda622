"""NIR (Neuromorphic Intermediate Representation) export and import, as the peers use it.

NIR describes a network as continuous-time ODE nodes joined by edges (inputs arriving at a node
add up). The frameworks that exchange NIR graphs (snnTorch, Norse, via nirtorch) read a spike
as a **unit-height pulse lasting one time step** (the 0/1 tensor of that step), not as a
unit-area Dirac impulse, and they integrate the ODEs with **forward Euler** at a step ``dt``
(snnTorch fixes dt = 0.1 ms; Norse takes it as an argument). So a graph means something only
together with a ``dt``; this module takes ``dt`` (ms) and a stepping rule ``step``:

* ``"euler"`` (default): our circuit runs exactly the map the peers run,
  ``x <- x (1 - dt/tau) + (dt/tau) * input``: our decays ``e^(-dt/tau_ours)`` are set to
  ``1 - dt/tau_nir`` (so ``tau_ours = -dt / ln(1 - dt/tau_nir)``, slightly shorter than
  ``tau_nir``; a NIR tau <= dt is refused, Euler being unstable there).
* ``"exact"``: NIR's ODEs solved exactly for inputs held over a step (decays
  ``e^(-dt/tau_nir)``, tau unchanged); spike trains then differ from the peers' by Euler's error.

Mapping (our units ms, mV; NIR time constants in seconds, as the peers write them):

=================  ==========================================================================
ours               NIR
=================  ==========================================================================
input blocks       ``nir.Input`` (shape ``(n,)``); the block type and params ride in metadata
LIFPopulation      ``nir.CubaLIF`` when every current into it comes from projections sharing
                   one ``tau_syn``; ``nir.LIF`` fed straight by Linears when every projection
                   into it has the shortest synapse (0.01 ms, a one-step current); else
                   ``nir.LIF`` with one ``nir.LI`` synapse per projection. Voltages are written
                   relative to ``E_L`` (``v_leak`` = 0, ``v_threshold`` = ``v_th - E_L``,
                   ``v_reset`` = ``v_reset - E_L``), as the peers require ``v_leak`` = 0.
                   CubaLIF: ``r = tau_mem/dt``, ``w_in = tau_syn/dt`` (snnTorch's convention,
                   which Norse reads too); LIF: ``r = 1`` (Norse ignores r on a LIF).
Projection         ``nir.Linear`` (``nir.Affine`` when a TonicInput adds a bias), weights
                   ``(n_post, n_pre)`` realised by a compile (``seed``), absent synapses 0,
                   scaled so that a spike moves the membrane as our weight does.
TonicInput         the ``bias`` of the Affine feeding the same population (a constant
                   unit-height input every step); import turns a bias back into one.
population spikes  one ``nir.Output`` per population whose spikes feed no projection (the
                   layout nirtorch executes; ``output`` when there is one)
=================  ==========================================================================

Schedule: here a spike's current reaches its target one step later (Brian2's schedule); in the
peers a layer sees the previous layer's spikes in the same step. So in a feed-forward network
the spikes of the k-th population after the input come k steps later here, and otherwise
coincide (``"euler"``). We fire on ``v >= v_th``, the peers on ``v > v_threshold``.

Not expressible, hence kept only in node metadata (a round trip through this module restores
them; other frameworks ignore them): refractory period ``t_ref`` (a warning names populations
with ``t_ref > 0``), ``v_init``, ``E_L``, the input blocks' own parameters, block positions.
Refused, naming the block or node and the reason: plasticity, delays, other block types.

Hostile files: sizes are read from the HDF5 metadata before any array is loaded, and a file or
graph whose arrays or synapses would need more memory than ``max_bytes`` (default: half of the
RAM, or ``$WORKBENCH_MAX_MEMORY`` bytes) is refused with the estimate; every malformed field
raises ``NIRError`` naming the node and field.
"""
from __future__ import annotations

import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from components import get_block_type

from .circuit import NAME, Circuit
from .errors import CircuitError
from .limits import max_memory

MS = 1e-3  # seconds per ms
KEY = "workbench"  # metadata key of our own extras (a JSON string, so HDF5 stores it as is)
SHORTEST_TAU_SYN = 0.01  # ms: the Projection's lower bound, the stand-in for a one-step current
EXPRESSIBLE = ("LIFPopulation", "Projection")
STEPS = ("euler", "exact")
BYTES_PER_SYNAPSE = 400  # an edge row [pre, post, w] in the circuit document, plus its compiled copy
MAX_SYNAPSES = 2_000_000  # work bound: import and compile take about 10 us per synapse here


class NIRError(CircuitError):
    """A circuit or graph that NIR (or this mapping) cannot express; the message names what."""


def memory_limit() -> int:
    """Bytes a NIR import may plan to use: the shared limit (``$WORKBENCH_MAX_MEMORY``, default
    half of the RAM; see ``simulations.limits``)."""
    return int(max_memory())


def synapse_limit() -> int:
    """Synapses a NIR import may create: ``$WORKBENCH_MAX_SYNAPSES`` or ``MAX_SYNAPSES``."""
    env = os.environ.get("WORKBENCH_MAX_SYNAPSES")
    return int(float(env)) if env else MAX_SYNAPSES


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def _check_step(step: str, dt: float) -> None:
    if step not in STEPS:
        raise NIRError(f"step must be one of {STEPS}, got {step!r}")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise NIRError(f"dt must be a positive number of ms, got {dt!r}")


def _decay(tau_s: float, dt: float, step: str) -> float:
    """Per-step decay of ``tau dx/dt = -x`` under the stepping rule (NIR tau in s, dt in ms)."""
    h = dt * MS / tau_s
    return 1.0 - h if step == "euler" else math.exp(-h)


def _gain(tau_s: float, dt: float, step: str) -> float:
    """Rise of x in ``tau dx/dt = -x + u`` over one step of a unit input u (a NIR spike)."""
    h = dt * MS / tau_s
    return h if step == "euler" else -math.expm1(-h)


def _nir_tau(tau_ms: float, dt: float, step: str) -> float:
    """The NIR time constant (s) whose per-step decay under ``step`` is ours, ``e^(-dt/tau)``."""
    if step == "exact":
        return tau_ms * MS
    return dt * MS / -math.expm1(-dt / tau_ms)


def _our_tau(k: str, field: str, tau_s: float, dt: float, step: str) -> float:
    decay = _decay(tau_s, dt, step)
    if not 0 < decay < 1:
        raise NIRError(f"NIR node {k!r}: {field} = {tau_s:g} s is not longer than the step dt = {dt:g} ms; "
                       f"forward Euler is unstable there (import with a smaller dt, or step='exact')")
    return float(f"{-dt / math.log(decay):.12g}")


def _meta(**entries) -> dict:
    return {KEY: json.dumps(entries)}


def _read_meta(node) -> dict:
    raw = (getattr(node, "metadata", None) or {})
    raw = raw.get(KEY) if isinstance(raw, dict) else None
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


# -- export ------------------------------------------------------------------------------------
def _is_input(block) -> bool:
    return type(block).category == "inputs"


def _kind(block) -> str:
    return type(block).__name__


def to_nir(circuit: Circuit, dt: float = 0.1, seed: int = 0, step: str = "euler"):
    """The circuit as a ``nir.NIRGraph`` for peers that step at ``dt`` (ms) with ``step``.

    Raises NIRError naming every block NIR cannot express. Random connectivity and weights
    are drawn as ``compile(circuit, dt=dt, seed=seed)`` draws them, so the graph holds exactly
    the synapses that run here.
    """
    import nir

    from .simulator import compile

    _check_step(step, dt)
    blocks = circuit.blocks

    def input_size(b):
        sizes = [b.port_size(p) for p in b.outputs.values() if p.size is not None]
        return sizes[0] if len(sizes) == 1 else None

    def tonic(proj):
        return any(_kind(blocks[w.source]) == "TonicInput" for w in circuit.wires_into(proj, "spikes"))

    refused = [f"{n} ({_kind(b)})" for n, b in blocks.items()
               if _kind(b) not in EXPRESSIBLE and not (_is_input(b) and input_size(b))]
    for name, b in blocks.items():
        if _kind(b) == "Projection" and (b.delay > 0 or (b.delay_max or 0) > 0):
            refused.append(f"{name} (Projection with a delay)")
        if _kind(b) == "Projection" and circuit.wires_into(name, "plasticity"):
            refused.append(f"{name} (plastic Projection)")
    for w in circuit.wires:  # e.g. a population's v read by something
        src, dst = blocks[w.source], blocks[w.target]
        if (_kind(src), w.output, _kind(dst), w.input) not in (
            ("LIFPopulation", "spikes", "Projection", "spikes"), ("Projection", "current", "LIFPopulation", "current"),
        ) and not (_is_input(src) and w.source not in refused):
            if _kind(src) in EXPRESSIBLE and _kind(dst) in EXPRESSIBLE:
                refused.append(f"wire {w}")
    if refused:
        raise NIRError("NIR cannot express: " + ", ".join(dict.fromkeys(refused)) +
                       f". NIR export supports input blocks, {' and '.join(EXPRESSIBLE)} (static, no delays).")

    sim = compile(circuit, dt=dt, seed=seed, record="none")
    into: dict[str, list] = {}
    for w in circuit.wires:
        if w.input == "current":
            into.setdefault(w.target, []).append(w.source)
    form = {}  # population -> "direct" | "cuba" | "li"
    for name, b in blocks.items():
        if _kind(b) == "LIFPopulation":
            sources = [blocks[s] for s in into.get(name, [])]
            taus = {s.tau_syn for s in sources if _kind(s) == "Projection"}
            if not sources or not all(_kind(s) == "Projection" for s in sources) or len(taus) != 1:
                form[name] = "li"
            else:
                form[name] = "direct" if taus == {SHORTEST_TAU_SYN} else "cuba"
    # a TonicInput's projection becomes the bias of another projection into the same neurons
    carrier, bias_of = {}, {}
    for name, b in blocks.items():
        if _kind(b) == "Projection" and tonic(name):
            targets = [w.target for w in circuit.wires if w.source == name]
            options = [s for s in into.get(targets[0], []) if _kind(blocks[s]) == "Projection" and not tonic(s)
                       and blocks[s].tau_syn == b.tau_syn and s not in bias_of
                       and [w.target for w in circuit.wires if w.source == s] == targets] if len(targets) == 1 else []
            if not options:
                raise NIRError(f"NIR cannot express: {name} (a TonicInput's projection). NIR has a constant drive only "
                               "as the bias of an Affine: it needs a projection from spiking units with the same "
                               "tau_syn into the same population alone")
            carrier[name], bias_of[options[0]] = options[0], name

    def position(name):
        p = circuit.graph.nodes[name]["position"]
        return None if p is None else list(p)

    def extras(name, b):
        return dict(type=_kind(b), params=json.loads(json.dumps(b.values(), default=str)), position=position(name))

    def scale(proj, target):
        """Factor from our weight (current jump) to NIR's weight for ``target``'s form."""
        t = blocks[target]
        if form[target] == "direct":  # LIF, r = 1: v gets (1 - decay) r W; here (1 - decay) R w
            return t.R
        tau_s = _nir_tau(blocks[proj].tau_syn, dt, step)
        if form[target] == "cuba":  # r = tau_mem/dt, w_in = tau_syn/dt
            r = _nir_tau(t.tau_m, dt, step) / (dt * MS)
            return t.R / (r * (tau_s / (dt * MS)) * _gain(tau_s, dt, step))
        return t.R / ((tau_s / (dt * MS)) * _gain(tau_s, dt, step))  # LI (r = tau/dt), then LIF r = 1

    nodes, edges, no_ref = {}, [], []
    for name, b in blocks.items():
        if _kind(b) == "TonicInput" or name in carrier:
            continue
        if _is_input(b):
            nodes[name] = nir.Input(input_type={"input": np.array([input_size(b)])}, metadata=_meta(**extras(name, b)))
        elif _kind(b) == "Projection":
            targets = list(dict.fromkeys(w.target for w in circuit.wires if w.source == name))
            scales = {scale(name, t) for t in targets} or {1.0}
            if len(scales) > 1 or len({form[t] for t in targets}) > 1:
                raise NIRError(f"NIR cannot express: {name} (one Projection into populations of different forms or "
                               "resistances; use one projection per population)")
            factor = scales.pop()
            w = sim.weights(name).cpu().numpy().astype(np.float64).T * factor  # (n_post, n_pre)
            meta = extras(name, b)
            if name in bias_of:
                tonic_proj = bias_of[name]
                source = circuit.wires_into(tonic_proj, "spikes")[0].source
                bias = sim.weights(tonic_proj).cpu().numpy().astype(np.float64).sum(0) * factor
                meta["bias_from"] = dict(projection=tonic_proj, source=source, params=extras(tonic_proj, blocks[tonic_proj]),
                                         source_params=extras(source, blocks[source]))
                nodes[name] = nir.Affine(weight=w, bias=bias, metadata=_meta(**meta))
            else:
                nodes[name] = nir.Linear(weight=w, metadata=_meta(**meta))
            if targets and form[targets[0]] == "li":
                tau = np.full(w.shape[0], _nir_tau(b.tau_syn, dt, step))
                nodes[f"{name}_syn"] = nir.LI(tau=tau, r=tau / (dt * MS), v_leak=np.zeros(w.shape[0]),
                                              metadata=_meta(synapse_of=name))
        else:
            n = b.n
            full = lambda v: np.full(n, float(v))  # noqa: E731
            common = dict(v_leak=full(0.0), v_threshold=full(b.v_th - b.E_L), v_reset=full(b.v_reset - b.E_L),
                          metadata=_meta(**extras(name, b)))
            if b.t_ref > 0:
                no_ref.append(name)
            tau_m = _nir_tau(b.tau_m, dt, step)
            if form[name] == "cuba":
                tau_s = _nir_tau(blocks[into[name][0]].tau_syn, dt, step)
                nodes[name] = nir.CubaLIF(tau_syn=full(tau_s), tau_mem=full(tau_m), r=full(tau_m / (dt * MS)),
                                          w_in=full(tau_s / (dt * MS)), **common)
            else:
                nodes[name] = nir.LIF(tau=full(tau_m), r=full(1.0), **common)
    for w in circuit.wires:
        if w.source in carrier or w.target in carrier:
            continue
        if w.input == "current" and _kind(blocks[w.source]) == "Projection" and f"{w.source}_syn" in nodes:
            edges += [(w.source, f"{w.source}_syn"), (f"{w.source}_syn", w.target)]
        else:
            edges.append((w.source, w.target))
    edges = list(dict.fromkeys(edges))  # a projection's LI node is shared by its targets
    populations = [n for n, b in blocks.items() if _kind(b) == "LIFPopulation"]
    sinks = [n for n in populations if not any(w.source == n for w in circuit.wires)] or populations[-1:]
    for name in sinks:  # observable spikes: the populations nothing reads, as nirtorch executes them
        out = "output" if len(sinks) == 1 else f"{name}_output"
        while out in nodes:
            out += "_"
        nodes[out] = nir.Output(output_type={"output": np.array([blocks[name].n])})
        edges.append((name, out))
    if no_ref:
        warnings.warn(f"NIR has no refractory period: t_ref of {', '.join(no_ref)} is kept only in "
                      "the workbench's metadata (other frameworks ignore it)", stacklevel=2)
    if not any(isinstance(node, nir.Input) for node in nodes.values()):
        raise NIRError("a NIR graph needs an entry point: add an input block (e.g. PoissonInput or "
                       "SpikeTimes) wired to a projection")
    return nir.NIRGraph(nodes=nodes, edges=edges,
                        metadata=_meta(name=circuit.name, dt_ms=dt, seed=seed, step=step, time_unit="s"))


def write_nir(circuit: Circuit, path, **kw) -> None:
    """``to_nir`` written to an HDF5 ``.nir`` file with ``nir.write``."""
    import nir

    nir.write(str(path), to_nir(circuit, **kw))


# -- reading files safely ----------------------------------------------------------------------
def _check_file(path: Path, max_bytes: int) -> None:
    """Refuse a file whose datasets (sizes from the HDF5 metadata, nothing loaded) are too big."""
    import h5py

    total, count = 0, 0
    try:
        with h5py.File(path, "r") as f:
            def visit(name, obj):
                nonlocal total, count
                count += 1
                if name.count("/") > 64:
                    raise NIRError(f"{path.name}: groups nested more than 64 deep ({name[:80]}...)")
                if isinstance(obj, h5py.Dataset):
                    total += int(np.prod(obj.shape, dtype=np.float64)) * max(obj.dtype.itemsize, 1)
            f.visititems(visit)
    except NIRError:
        raise
    except Exception as e:  # not HDF5, truncated, ...
        raise NIRError(f"{path.name} is not a readable NIR (HDF5) file: {type(e).__name__}: {e}") from None
    estimate = 2 * total + 2_000 * count  # the arrays read, a float64 copy, per-object overhead
    if estimate > max_bytes:
        raise NIRError(f"{path.name}: reading it would need about {_gib(estimate)} ({count} HDF5 objects, "
                       f"{_gib(total)} of arrays once decompressed), above the limit of {_gib(max_bytes)} "
                       "(max_bytes, or $WORKBENCH_MAX_MEMORY)")


READ_TIMEOUT_S = 30.0


def _rewrite(source: str, clean: str) -> None:
    """In a child process: parse a file and write the graph again (or the error) for the parent."""
    import faulthandler

    import nir

    faulthandler.disable()  # a crash here is expected and reported by the parent, not dumped

    try:
        nir.write(clean, nir.read(source))
    except BaseException as e:  # whatever a malformed file provokes, reported to the parent
        Path(clean + ".error").write_text(f"{type(e).__name__}: {e}"[:2000])
    os._exit(0)


def _read(path: Path, max_bytes: int):
    """``nir.read`` of a file checked first, parsed in a forked child: a corrupt HDF5 file can
    crash the HDF5 library itself (a segfault was found by fuzzing) or make it loop, and then
    only the child dies. The parent reads the child's clean rewrite of the graph."""
    import multiprocessing
    import tempfile

    import nir

    _check_file(path, max_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        clean = os.path.join(tmp, "clean.nir")
        if "fork" in multiprocessing.get_all_start_methods():
            child = multiprocessing.get_context("fork").Process(target=_rewrite, args=(str(path), clean), daemon=True)
            child.start()
            child.join(READ_TIMEOUT_S)
            if child.is_alive():
                child.kill()
                child.join()
                raise NIRError(f"{path.name}: reading it did not finish within {READ_TIMEOUT_S:g} s")
            if child.exitcode != 0:
                raise NIRError(f"{path.name} is not a valid NIR graph: the HDF5 reader crashed on it "
                               f"(exit code {child.exitcode})")
        else:  # no fork (e.g. Windows): parse here
            try:
                nir.write(clean, nir.read(str(path)))
            except Exception as e:
                Path(clean + ".error").write_text(f"{type(e).__name__}: {e}"[:2000])
        if os.path.exists(clean + ".error"):
            raise NIRError(f"{path.name} is not a valid NIR graph: {Path(clean + '.error').read_text()}")
        try:
            return nir.read(clean)
        except Exception as e:
            raise NIRError(f"{path.name} is not a valid NIR graph: {type(e).__name__}: {e}") from None


# -- import ------------------------------------------------------------------------------------
def _array(k: str, node, field: str, positive: bool = False) -> np.ndarray:
    """A node's numeric field as a flat float64 array; NIRError naming node and field otherwise."""
    value = getattr(node, field, None)
    if value is None:
        raise NIRError(f"NIR node {k!r} ({type(node).__name__}): {field} is missing")
    try:
        arr = np.asarray(getattr(value, "detach", lambda: value)(), dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise NIRError(f"NIR node {k!r} ({type(node).__name__}): {field} is not numeric "
                       f"({type(value).__name__})") from None
    if not np.all(np.isfinite(arr)):
        raise NIRError(f"NIR node {k!r} ({type(node).__name__}): {field} holds NaN or infinite values")
    if positive and not np.all(arr > 0):
        raise NIRError(f"NIR node {k!r} ({type(node).__name__}): {field} must be positive, got {arr.min():g}")
    return arr.ravel()


def _per_neuron(k: str, node, field: str, n: int, positive: bool = False) -> np.ndarray:
    arr = _array(k, node, field, positive)
    if arr.size == 1:
        return np.full(n, arr[0])
    if arr.size != n:
        raise NIRError(f"NIR node {k!r} ({type(node).__name__}): {field} has {arr.size} values for {n} neurons")
    return arr


def _one(k: str, node, field: str, n: int, positive: bool = False) -> float:
    arr = _per_neuron(k, node, field, n, positive)
    if not np.all(arr == arr[0]):
        raise NIRError(f"NIR node {k!r}: {field} differs between neurons; a LIFPopulation has one "
                       f"value per population (split the node into populations)")
    return float(arr[0])


def _shape_size(k: str, node, which: str) -> int:
    types = getattr(node, f"{which}_type", None) or {}
    shape = types.get(which) if isinstance(types, dict) else None
    if shape is None:
        return 0
    try:
        arr = np.asarray(shape, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise NIRError(f"NIR node {k!r}: {which}_type is not a shape") from None
    if arr.size == 0:
        return 0
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.prod(arr) > 2**31:
        raise NIRError(f"NIR node {k!r}: {which}_type {arr.tolist()} is not a valid shape")
    return int(np.prod(arr))


def _same(a: float, b) -> bool:
    return isinstance(b, (int, float)) and not isinstance(b, bool) and math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-12)


def from_nir(graph, dt: float | None = None, name: str | None = None, step: str | None = None,
             max_bytes: int | None = None, max_synapses: int | None = None) -> Circuit:
    """A Circuit from a ``nir.NIRGraph`` (or a path to a ``.nir`` file).

    ``dt`` (ms) and ``step`` say how the graph's peer steps it (see the module docstring;
    defaults: what a workbench export recorded, else 0.1 ms, snnTorch's step, and "euler");
    run the circuit at that ``dt``. Raises NIRError naming every node this mapping cannot
    express, or the node and field that are malformed; ``max_bytes`` and ``max_synapses``
    bound the memory and work an import may plan (defaults: ``memory_limit()``,
    ``synapse_limit()``).
    """
    import nir

    max_bytes = memory_limit() if max_bytes is None else int(max_bytes)
    max_synapses = synapse_limit() if max_synapses is None else int(max_synapses)
    if isinstance(graph, (str, Path)):
        graph = _read(Path(graph), max_bytes)
    if not isinstance(graph, nir.NIRGraph):
        raise NIRError(f"expected a NIR graph, got {type(graph).__name__}")
    gmeta = _read_meta(graph)
    if dt is None:
        dt = gmeta["dt_ms"] if isinstance(gmeta.get("dt_ms"), (int, float)) else 0.1
    if step is None:
        step = gmeta["step"] if gmeta.get("step") in STEPS else "euler"
    _check_step(step, dt)
    try:
        return _from_graph(graph, float(dt), name, step, max_bytes, max_synapses, gmeta)
    except RecursionError:
        raise NIRError("the NIR graph is nested too deeply") from None


def _from_graph(graph, dt, name, step, max_bytes, max_synapses, gmeta) -> Circuit:
    import nir

    nodes = graph.nodes
    if not isinstance(nodes, dict) or not all(isinstance(k, str) for k in nodes):
        raise NIRError("the NIR graph's nodes must be a mapping from names to nodes")
    edges = []
    for e in graph.edges or []:
        if not (isinstance(e, (tuple, list)) and len(e) == 2 and all(isinstance(x, str) for x in e)):
            raise NIRError(f"NIR edge {e!r} is not a pair of node names")
        for x in e:
            if x not in nodes:
                raise NIRError(f"NIR edge {e[0]} -> {e[1]} names a node that does not exist: {x!r}")
        edges.append(tuple(e))
    edges = list(dict.fromkeys(edges))
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succs[a].append(b)
        preds[b].append(a)
    spiking = (nir.Input, nir.LIF, nir.CubaLIF)
    neurons = (nir.LIF, nir.CubaLIF)
    linear = (nir.Linear, nir.Affine)

    def is_synapse(k):
        n = nodes[k]
        return (isinstance(n, nir.LI) and preds[k] and all(isinstance(nodes[p], linear) for p in preds[k])
                and succs[k] and all(isinstance(nodes[s], nir.LIF) for s in succs[k]))

    refused = []
    for k, n in nodes.items():
        if isinstance(n, (nir.Input, nir.Output, nir.LIF, nir.CubaLIF)):
            continue
        if isinstance(n, linear):
            if len(preds[k]) != 1 or not isinstance(nodes[preds[k][0]], spiking):
                refused.append(f"{k} ({type(n).__name__} not fed by exactly one spiking node)")
            elif not all(isinstance(nodes[s], (*neurons, nir.Output)) or is_synapse(s) for s in succs[k]):
                refused.append(f"{k} ({type(n).__name__} feeding something other than neurons)")
            continue
        if is_synapse(k):
            continue
        if isinstance(n, nir.NIRGraph):
            refused.append(f"{k} (a nested NIRGraph, e.g. a recurrent subgraph: flatten it)")
        elif isinstance(n, nir.LI):
            refused.append(f"{k} (LI that is not a synapse from Linear/Affine nodes into LIF nodes)")
        else:
            refused.append(f"{k} ({type(n).__name__})")
    for a, b in edges:  # direct edges between spiking nodes: identity weights
        if isinstance(nodes[b], (*linear, nir.Output, nir.LI)) or isinstance(nodes[a], (*linear, nir.LI)):
            continue
        if not (isinstance(nodes[a], spiking) and isinstance(nodes[b], neurons)):
            refused.append(f"edge {a} -> {b}")
    for k, n in nodes.items():
        if isinstance(n, neurons) and any(isinstance(nodes[p], nir.LI) for p in preds[k]) \
                and any(not isinstance(nodes[p], nir.LI) for p in preds[k]):
            refused.append(f"{k} (LIF fed both through LI synapses and directly)")
    if refused:
        raise NIRError("cannot import these NIR nodes: " + ", ".join(dict.fromkeys(refused)) +
                       ". Supported: Input, Output, LIF, CubaLIF, Linear/Affine between spiking nodes "
                       "and neurons, LI with v_leak = 0 as a synaptic current into a LIF.")

    # sizes, weights and the memory they will take, before building anything
    size: dict[str, int] = {}
    for k, n in nodes.items():
        if isinstance(n, neurons):
            rows = {int(np.shape(getattr(nodes[p], "weight", np.zeros((0, 0))))[0]) for p in preds[k]
                    if isinstance(nodes[p], linear) and np.ndim(getattr(nodes[p], "weight", None)) == 2}
            thr = _array(k, n, "v_threshold")
            size[k] = thr.size if thr.size > 1 else (rows.pop() if len(rows) == 1 else _shape_size(k, n, "output") or 1)
    weights: dict[str, np.ndarray] = {}
    synapses = 0
    for k, n in nodes.items():
        if isinstance(n, linear):
            w = _array(k, n, "weight")
            shape = np.shape(getattr(n.weight, "detach", lambda: n.weight)())
            if len(shape) != 2:
                raise NIRError(f"NIR node {k!r} ({type(n).__name__}): weight must be a matrix (post x pre), "
                               f"got shape {tuple(shape)}")
            w = w.reshape(shape)
            synapses += int(np.count_nonzero(w))
            if synapses * BYTES_PER_SYNAPSE > max_bytes or synapses > max_synapses:
                raise NIRError(f"NIR node {k!r}: the graph's {synapses:,}+ synapses would need about "
                               f"{_gib(synapses * BYTES_PER_SYNAPSE)} and {synapses * 1e-5:.0f} s to build as a circuit, "
                               f"above the limits of {_gib(max_bytes)} (max_bytes, or $WORKBENCH_MAX_MEMORY) and "
                               f"{max_synapses:,} synapses (max_synapses, or $WORKBENCH_MAX_SYNAPSES)")
            weights[k] = w
            pre = preds[k][0]
            for post in [s for t in succs[k] for s in (succs[t] if is_synapse(t) else [t])]:
                if isinstance(nodes[post], neurons) and w.shape[0] != size[post]:
                    raise NIRError(f"NIR node {k!r}: weight has {w.shape[0]} rows but {post!r} has {size[post]} neurons")
            if isinstance(nodes[pre], neurons) and w.shape[1] != size[pre]:
                raise NIRError(f"NIR node {k!r}: weight has {w.shape[1]} columns but {pre!r} has {size[pre]} neurons")
            if isinstance(nodes[pre], nir.Input):
                size.setdefault(pre, w.shape[1])
                if size[pre] != w.shape[1]:
                    raise NIRError(f"NIR node {k!r}: weight has {w.shape[1]} columns but Input {pre!r} "
                                   f"feeds another node {size[pre]} wide")
            if isinstance(n, nir.Affine):
                bias = _array(k, n, "bias")
                if bias.size not in (1, w.shape[0]):
                    raise NIRError(f"NIR node {k!r} (Affine): bias has {bias.size} values for {w.shape[0]} outputs")
    for k, n in nodes.items():
        if isinstance(n, nir.Input) and k not in size:
            size[k] = _shape_size(k, n, "output") or _shape_size(k, n, "input")
            if size[k] < 1:
                raise NIRError(f"NIR node {k!r} (Input): its size is not given (input_type) and no Linear reads it")

    # block names: NIR allows any string; a block name is an identifier
    block_name: dict[str, str] = {}
    taken: set[str] = set()

    def claim(wanted: str) -> str:
        base = wanted if NAME.match(wanted) else "n_" + re.sub(r"\W", "_", wanted)[:60]
        out, i = base, 2
        while out in taken or out in nodes and out != wanted:
            out, i = f"{base}_{i}", i + 1
        taken.add(out)
        return out

    for k in nodes:
        block_name[k] = claim(k)

    circuit = Circuit(name or str(gmeta.get("name") or "nir_import")[:200])
    depth: dict[str, int] = {}

    def layout(k, row):
        d = max((depth.get(p, 0) for p in preds.get(k, ()) if p in depth), default=-1) + 1
        depth[k] = d
        return (250.0 * d, 130.0 * row)

    def add(block, type_name, params, row, meta=None, k=None):
        meta = meta or {}
        pos = meta.get("position")
        try:
            pos = tuple(float(x) for x in pos) if pos and len(pos) == 2 else layout(k or block, row)
        except (TypeError, ValueError):
            pos = layout(k or block, row)
        try:
            circuit.add(block, type_name, position=pos, **params)
        except (ValueError, TypeError) as e:  # a param's bounds: name the node
            raise NIRError(f"NIR node {k or block!r}: {e}") from None

    neuron_info: dict[str, dict] = {}  # NIR neuron node -> our R and its r, w_in, tau_syn
    for row, (k, n) in enumerate(nodes.items()):
        meta = _read_meta(n)
        if isinstance(n, nir.Input):
            restored = False
            if meta.get("type") in _registry() and get_block_type(meta["type"]).category == "inputs":
                cls = get_block_type(meta["type"])
                params = {p: v for p, v in (meta.get("params") or {}).items() if p in cls.user_params()}
                try:
                    add(block_name[k], meta["type"], _numbers(cls, params), row, meta, k)
                    restored = True
                except NIRError:
                    pass
            if not restored:
                add(block_name[k], "SpikeTimes", {"n": size[k]}, row, meta, k)
        elif isinstance(n, neurons):
            neuron_info[k] = _add_population(k, n, size[k], meta, dt, step, add, block_name[k], row)
    for row, (k, n) in enumerate(nodes.items()):
        if not isinstance(n, linear):
            continue
        meta = _read_meta(n)
        chains = [(t, post) for t in succs[k] for post in (succs[t] if is_synapse(t) else [t])
                  if isinstance(nodes[post], neurons)]
        for via, post in chains:
            proj = block_name[k] if len(chains) == 1 else claim(f"{block_name[k]}_{block_name[post]}")
            syn = nodes[via] if is_synapse(via) else None
            tau_syn, scale = _synapse(via, syn, post, nodes[post], neuron_info[post], dt, step)
            ours = meta.get("params", {}) if meta.get("type") == "Projection" else {}
            if _same(tau_syn, ours.get("tau_syn")):
                tau_syn = float(ours["tau_syn"])
            add(proj, "Projection", _projection(weights[k] * scale[:, None], tau_syn, ours), row, meta, k)
            circuit.connect(f"{block_name[preds[k][0]]}.spikes", f"{proj}.spikes")
            circuit.connect(f"{proj}.current", f"{block_name[post]}.current")
            if isinstance(n, nir.Affine):
                bias = np.broadcast_to(_array(k, n, "bias"), (weights[k].shape[0],)) * scale
                if np.any(bias != 0):
                    _add_bias(circuit, claim, proj, post, block_name, bias, tau_syn, meta, add, row)
    for a, b in edges:  # spikes or currents straight from a spiking node into neurons
        if isinstance(nodes[b], neurons) and isinstance(nodes[a], spiking):
            src = circuit.block(block_name[a])
            if "current" in src.outputs:  # a current input block (e.g. CurrentInput) into a membrane
                circuit.connect(f"{block_name[a]}.current", f"{block_name[b]}.current")
                continue
            if size[a] != size[b]:
                raise NIRError(f"NIR edge {a} -> {b}: spikes of {size[a]} units straight into {size[b]} neurons "
                               "(identity weights need equal sizes)")
            proj = claim(f"{block_name[a]}_{block_name[b]}")
            tau_syn, scale = _synapse(None, None, b, nodes[b], neuron_info[b], dt, step)
            add(proj, "Projection", _projection(np.diag(scale), tau_syn, {}), 0)
            circuit.connect(f"{block_name[a]}.spikes", f"{proj}.spikes")
            circuit.connect(f"{proj}.current", f"{block_name[b]}.current")
    return circuit


def _add_population(k, n, size, meta, dt, step, add, block, row) -> dict:
    """A LIFPopulation for a NIR LIF or CubaLIF node; returns what its synapses need."""
    import nir

    cuba = isinstance(n, nir.CubaLIF)
    tau = _one(k, n, "tau_mem" if cuba else "tau", size, positive=True)
    r = _per_neuron(k, n, "r", size)
    leak = _one(k, n, "v_leak", size)
    thr = _one(k, n, "v_threshold", size)
    reset = _one(k, n, "v_reset", size) if getattr(n, "v_reset", None) is not None else 0.0
    ours = meta.get("params", {}) if meta.get("type") == "LIFPopulation" else {}
    E_L = ours.get("E_L")
    offset = float(E_L) - leak if isinstance(E_L, (int, float)) and math.isfinite(E_L) else 0.0
    tau_m = _our_tau(k, "tau_mem" if cuba else "tau", tau, dt, step)
    if _same(tau_m, ours.get("tau_m")):
        tau_m = float(ours["tau_m"])
    r_one = float(r[0]) if np.all(r == r[0]) else 1.0
    R = float(ours["R"]) if isinstance(ours.get("R"), (int, float)) and ours["R"] > 0 and math.isfinite(ours["R"]) \
        else (r_one if r_one > 0 else 1.0)
    params = dict(n=size, tau_m=tau_m, R=R, E_L=leak + offset, v_th=thr + offset, v_reset=reset + offset)
    for key in ("E_L", "v_th", "v_reset"):
        if _same(params[key], ours.get(key)):
            params[key] = float(ours[key])
    t_ref = ours.get("t_ref", 0.0)
    params["t_ref"] = float(t_ref) if isinstance(t_ref, (int, float)) and 0 <= t_ref < 1e6 else 0.0
    if ours.get("v_init") in ("rest", "uniform"):
        params["v_init"] = ours["v_init"]
    add(block, "LIFPopulation", params, row, meta, k)
    info = dict(R=R, r=r)
    if cuba:
        info.update(tau_syn=_one(k, n, "tau_syn", size, positive=True), w_in=_per_neuron(k, n, "w_in", size))
    return info


def _synapse(via, li, post, target, info, dt, step) -> tuple[float, np.ndarray]:
    """(tau_syn in ms, per-neuron factor from NIR weight to our weight) for spikes into ``post``."""
    import nir

    if li is not None:  # Linear -> LI -> LIF: the LI's state is the current
        n = info["r"].size
        tau_s = _one(via, li, "tau", n, positive=True)
        if np.any(_per_neuron(via, li, "v_leak", n) != 0):
            raise NIRError(f"NIR node {via!r} (LI): v_leak must be 0 for a synaptic current")
        gain = _per_neuron(via, li, "r", n) * _gain(tau_s, dt, step)
        return _our_tau(via, "tau", tau_s, dt, step), gain * info["r"] / info["R"]
    if isinstance(target, nir.CubaLIF):
        tau_s = info["tau_syn"]
        gain = info["w_in"] * _gain(tau_s, dt, step)
        return _our_tau(post, "tau_syn", tau_s, dt, step), gain * info["r"] / info["R"]
    # a one-step current straight into the membrane: the shortest synapse carries it
    return SHORTEST_TAU_SYN, info["r"] / info["R"]


def _projection(w: np.ndarray, tau_syn: float, ours: dict) -> dict:
    """Projection params for a (post, pre) weight matrix."""
    post_idx, pre_idx = np.nonzero(w)
    edges = [[int(i), int(j), float(x)] for i, j, x in zip(pre_idx.tolist(), post_idx.tolist(), w[post_idx, pre_idx].tolist())]
    params = dict(connectivity="edges", edges=edges, tau_syn=tau_syn)
    if "autapses" in ours:
        params["autapses"] = bool(ours["autapses"])
    return params


def _add_bias(circuit, claim, proj, post, block_name, bias, tau_syn, meta, add, row):
    """An Affine's bias: a TonicInput spiking every step through a projection of weights ``bias``."""
    saved = meta.get("bias_from") if isinstance(meta.get("bias_from"), dict) else {}
    source = saved.get("source") if isinstance(saved.get("source"), str) and NAME.match(saved["source"]) \
        and saved["source"] not in circuit.blocks else claim(f"{proj}_bias_source")
    bias_proj = saved.get("projection") if isinstance(saved.get("projection"), str) and NAME.match(saved["projection"]) \
        and saved["projection"] not in circuit.blocks and saved["projection"] != source else claim(f"{proj}_bias")
    add(source, "TonicInput", {"n": 1}, row, saved.get("source_params") or {})
    add(bias_proj, "Projection", _projection(bias[:, None], tau_syn, {}), row, saved.get("params") or {})
    circuit.connect(f"{source}.spikes", f"{bias_proj}.spikes")
    circuit.connect(f"{bias_proj}.current", f"{block_name[post]}.current")


def read_nir(path, **kw) -> Circuit:
    """``from_nir`` of a ``.nir`` file."""
    return from_nir(Path(path), **kw)


def _registry():
    from components import REGISTRY

    return REGISTRY


def _numbers(cls, params: dict) -> dict:
    import param as _param

    out = {}
    for k, v in params.items():
        if isinstance(cls.param[k], _param.Number) and isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        out[k] = v
    return out


__all__ = ["to_nir", "from_nir", "write_nir", "read_nir", "NIRError", "memory_limit", "synapse_limit"]
