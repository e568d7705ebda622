"""NIR (Neuromorphic Intermediate Representation) export and import.

NIR describes a network as continuous-time ODE nodes joined by edges (inputs arriving at a node
add up). This module maps the part of a circuit NIR can express and refuses the rest, naming
the blocks or NIR nodes it cannot express.

Mapping (our units: ms, mV, current in "mV per unit R"; NIR has no unit system, and the
frameworks that exchange NIR graphs use seconds for time constants, so we write seconds):

=================  ==========================================================================
ours               NIR
=================  ==========================================================================
input blocks       ``nir.Input`` (shape ``(n,)``); the block type and params ride in metadata
LIFPopulation      ``nir.CubaLIF`` when every current into it comes from projections sharing
                   one ``tau_syn``, else ``nir.LIF``. ``tau_mem``/``tau`` = ``tau_m``/1000 (s),
                   ``r`` = ``R``, ``v_leak`` = ``E_L``, ``v_threshold`` = ``v_th``,
                   ``v_reset`` = ``v_reset`` (mV).
Projection         ``nir.Linear`` with the weights realized by a compile (``seed``), shape
                   ``(n_post, n_pre)``, absent synapses 0. Into a CubaLIF its current is the
                   CubaLIF's synaptic part: ``tau_syn`` (s) and ``w_in = tau_syn``; into a LIF
                   it is followed by ``nir.LI(tau=tau_syn, r=tau_syn, v_leak=0)``, the
                   exponential current as a leaky integrator.
population spikes  ``nir.Output`` per population (``<name>_output``)
=================  ==========================================================================

Why ``w_in = tau_syn``: NIR's spikes are Dirac deltas, so ``tau_syn dI/dt = -I + w_in W S``
makes a spike raise I by ``w_in W / tau_syn``; with ``w_in = tau_syn`` the jump is ``W``, our
weight (``I <- I e^(-dt/tau_syn) + W s``), and the Linear node carries our weights unchanged.
The LI synapse gives the same jump ``r W / tau`` with ``r = tau``. Importing divides back:
weight = ``W * w_in / tau_syn`` (or ``W * r / tau``).

Discretization: NIR's equations are continuous; we integrate the membrane exactly for a
current held over each step and let the synaptic current decay exactly by ``e^(-dt/tau_syn)``;
a spike's current reaches its target one step later (Brian2's schedule). So a graph simulated
here differs from an ODE solution by O(dt) timing, as any discrete simulator does. We fire on
``v >= v_th``, NIR on ``v > v_threshold`` (differs only on exact equality).

Not expressible, hence kept only in node metadata (a round trip through this module restores
them; other frameworks ignore them): refractory period ``t_ref`` (a warning names populations
with ``t_ref > 0``), ``v_init``, the input blocks' own parameters, block positions. Refused:
plasticity rules and plastic projections, delays, every other block type.

Import also accepts a ``nir.LIF`` fed straight by a Linear (spikes as Dirac currents into the
membrane, as snnTorch's Leaky writes it): it becomes a projection with the shortest synapse
(``tau_syn`` = 0.01 ms) and weights scaled so that a spike's total charge ``r W / tau`` is kept.
A random initial voltage (``v_init="uniform"``) and random inputs are drawn again after an
import, from a different point of the seeded stream, so only deterministic circuits keep
identical spikes through a round trip.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np

from components import get_block_type

from .circuit import Circuit
from .errors import CircuitError

MS = 1e-3  # seconds per ms
KEY = "workbench"  # metadata key of our own extras (a JSON string, so HDF5 stores it as is)
SHORTEST_TAU_SYN = 0.01  # ms: the Projection's lower bound, a Dirac current's stand-in
EXPRESSIBLE = ("LIFPopulation", "Projection")


class NIRError(CircuitError):
    """A circuit or graph that NIR (or this mapping) cannot express; the message names what."""


def _seconds(ms: float) -> float:
    return float(f"{ms * MS:.15g}")


def _ms(seconds: float) -> float:
    return float(f"{seconds / MS:.12g}")  # 0.02 s -> 20.0 ms exactly, so decays match bit for bit


def _meta(**entries) -> dict:
    return {KEY: json.dumps(entries)}


def _read_meta(node) -> dict:
    raw = (getattr(node, "metadata", None) or {}).get(KEY)
    if raw is None:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        return json.loads(str(raw))
    except ValueError:
        return {}


# -- export ------------------------------------------------------------------------------------
def _is_input(block) -> bool:
    return type(block).category == "inputs"


def to_nir(circuit: Circuit, dt: float = 0.1, seed: int = 0):
    """The circuit as a ``nir.NIRGraph``; raises NIRError naming every block NIR cannot express.

    Random connectivity and weights are drawn as ``compile(circuit, dt=dt, seed=seed)`` draws
    them, so the graph holds exactly the synapses that run here.
    """
    import nir

    from .simulator import compile

    blocks = circuit.blocks
    def input_size(b):
        sizes = [b.port_size(p) for p in b.outputs.values() if p.size is not None]
        return sizes[0] if len(sizes) == 1 else None

    refused = [f"{n} ({type(b).__name__})" for n, b in blocks.items()
               if type(b).__name__ not in EXPRESSIBLE and not (_is_input(b) and input_size(b))]
    for name, b in blocks.items():
        if type(b).__name__ == "Projection" and (b.delay > 0 or (b.delay_max or 0) > 0):
            refused.append(f"{name} (Projection with a delay)")
        if type(b).__name__ == "Projection" and circuit.wires_into(name, "plasticity"):
            refused.append(f"{name} (plastic Projection)")
    for w in circuit.wires:  # e.g. a population's v read by something
        src, dst = blocks[w.source], blocks[w.target]
        if (type(src).__name__, w.output, type(dst).__name__, w.input) not in (
            ("LIFPopulation", "spikes", "Projection", "spikes"), ("Projection", "current", "LIFPopulation", "current"),
        ) and not (_is_input(src) and w.source not in refused):
            if type(src).__name__ in EXPRESSIBLE and type(dst).__name__ in EXPRESSIBLE:
                refused.append(f"wire {w}")
    if refused:
        raise NIRError("NIR cannot express: " + ", ".join(dict.fromkeys(refused)) +
                       f". NIR export supports input blocks, {' and '.join(EXPRESSIBLE)} (static, no delays).")

    sim = compile(circuit, dt=dt, seed=seed, record="none")
    into: dict[str, list] = {}
    for w in circuit.wires:
        if w.input == "current":
            into.setdefault(w.target, []).append(w)
    cuba = {}
    for name, b in blocks.items():
        if type(b).__name__ == "LIFPopulation":
            sources = [blocks[w.source] for w in into.get(name, [])]
            taus = {s.tau_syn for s in sources if type(s).__name__ == "Projection"}
            cuba[name] = bool(sources) and len(taus) == 1 and all(type(s).__name__ == "Projection" for s in sources)

    def position(name):
        p = circuit.graph.nodes[name]["position"]
        return None if p is None else list(p)

    nodes, edges, no_ref = {}, [], []
    for name, b in blocks.items():
        extras = dict(type=type(b).__name__, params=json.loads(json.dumps(b.values(), default=str)),
                      position=position(name))
        if _is_input(b):
            nodes[name] = nir.Input(input_type={"input": np.array([input_size(b)])}, metadata=_meta(**extras))
        elif type(b).__name__ == "Projection":
            w = sim.weights(name).cpu().numpy().astype(np.float64).T  # (n_post, n_pre)
            nodes[name] = nir.Linear(weight=w, metadata=_meta(**extras))
            targets = [x.target for x in circuit.wires if x.source == name]
            if not all(cuba[t] for t in targets):
                tau = np.full(w.shape[0], _seconds(b.tau_syn))
                nodes[f"{name}_syn"] = nir.LI(tau=tau, r=tau.copy(), v_leak=np.zeros(w.shape[0]),
                                              metadata=_meta(synapse_of=name))
        else:
            n = b.n
            full = lambda v: np.full(n, float(v))  # noqa: E731
            common = dict(r=full(b.R), v_leak=full(b.E_L), v_threshold=full(b.v_th), v_reset=full(b.v_reset),
                          metadata=_meta(**extras))
            if b.t_ref > 0:
                no_ref.append(name)
            if cuba[name]:
                tau_syn = _seconds(blocks[into[name][0].source].tau_syn)
                nodes[name] = nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(_seconds(b.tau_m)), w_in=full(tau_syn),
                                          **common)
            else:
                nodes[name] = nir.LIF(tau=full(_seconds(b.tau_m)), **common)
    for w in circuit.wires:
        if w.input == "current" and type(blocks[w.source]).__name__ == "Projection" and f"{w.source}_syn" in nodes:
            edges += [(w.source, f"{w.source}_syn"), (f"{w.source}_syn", w.target)]
        else:
            edges.append((w.source, w.target))
    edges = list(dict.fromkeys(edges))  # a projection's LI node is shared by its targets
    for name, b in blocks.items():  # every population's spikes are observable: one Output each
        if type(b).__name__ == "LIFPopulation":
            out = f"{name}_output"
            while out in nodes:
                out += "_"
            nodes[out] = nir.Output(output_type={"output": np.array([b.n])})
            edges.append((name, out))
    if no_ref:
        warnings.warn(f"NIR has no refractory period: t_ref of {', '.join(no_ref)} is kept only in "
                      "the workbench's metadata (other frameworks ignore it)", stacklevel=2)
    if not any(isinstance(node, nir.Input) for node in nodes.values()):
        raise NIRError("a NIR graph needs an entry point: add an input block (e.g. PoissonInput or "
                       "SpikeTimes) wired to a projection")
    return nir.NIRGraph(nodes=nodes, edges=edges,
                        metadata=_meta(name=circuit.name, dt_ms=dt, seed=seed, time_unit="s"))


def write_nir(circuit: Circuit, path, **kw) -> None:
    """``to_nir`` written to an HDF5 ``.nir`` file with ``nir.write``."""
    import nir

    nir.write(str(path), to_nir(circuit, **kw))


# -- import ------------------------------------------------------------------------------------
def _uniform(node_name: str, field: str, values) -> float:
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0 or not np.all(arr == arr[0]):
        raise NIRError(f"NIR node {node_name!r}: {field} differs between neurons; a LIFPopulation has one "
                       f"value per population (split the node into populations)")
    return float(arr[0])


def _size(node) -> int:
    shape = node.output_type.get("output") if node.output_type else None
    return int(np.prod(np.asarray(shape))) if shape is not None else 0


def from_nir(graph, dt: float = 0.1, name: str | None = None) -> Circuit:
    """A Circuit from a ``nir.NIRGraph`` (or a path to a ``.nir`` file).

    Raises NIRError naming every node this mapping cannot express. ``dt`` only matters for
    a LIF fed straight by spikes (see the module docstring).
    """
    import nir

    if isinstance(graph, (str, Path)):
        graph = nir.read(str(graph))
    gmeta = _read_meta(graph)
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succs[a].append(b)
        preds[b].append(a)
    spiking = (nir.Input, nir.LIF, nir.CubaLIF)
    neurons = (nir.LIF, nir.CubaLIF)

    def is_synapse(k):
        n = nodes[k]
        return (isinstance(n, nir.LI) and np.all(np.asarray(n.v_leak) == 0) and preds[k]
                and all(isinstance(nodes[p], (nir.Linear, nir.Affine)) for p in preds[k])
                and succs[k] and all(isinstance(nodes[s], nir.LIF) for s in succs[k]))

    refused = []
    for k, n in nodes.items():
        if isinstance(n, (nir.Input, nir.Output, nir.LIF, nir.CubaLIF)):
            continue
        if isinstance(n, (nir.Linear, nir.Affine)):
            if isinstance(n, nir.Affine) and np.any(np.asarray(n.bias) != 0):
                refused.append(f"{k} (Affine with a bias)")
            elif len(preds[k]) != 1 or not isinstance(nodes[preds[k][0]], spiking):
                refused.append(f"{k} ({type(n).__name__} not fed by exactly one spiking node)")
            elif not all(isinstance(nodes[s], (*neurons, nir.Output)) or is_synapse(s) for s in succs[k]):
                refused.append(f"{k} ({type(n).__name__} feeding something other than neurons)")
            continue
        if is_synapse(k):
            continue
        refused.append(f"{k} ({type(n).__name__})")
    for a, b in edges:  # direct edges between spiking nodes: identity weights
        if isinstance(nodes[b], (nir.Linear, nir.Affine, nir.Output, nir.LI)) or isinstance(nodes[a], (nir.Linear, nir.Affine, nir.LI)):
            continue
        if not (isinstance(nodes[a], spiking) and isinstance(nodes[b], neurons)):
            refused.append(f"edge {a} -> {b}")
    if refused:
        raise NIRError("cannot import these NIR nodes: " + ", ".join(dict.fromkeys(refused)) +
                       ". Supported: Input, Output, LIF, CubaLIF, Linear/Affine (no bias) between spiking nodes "
                       "and neurons, LI with v_leak = 0 as a synaptic current into a LIF.")

    circuit = Circuit(name or gmeta.get("name") or "nir_import")
    proj_of: dict[tuple[str, str], str] = {}  # (Linear node, neuron node) -> projection block
    depth = {}

    def layout(k, row):
        d = max((depth.get(p, 0) for p in preds[k] if p in depth), default=-1) + 1
        depth[k] = d
        return (250.0 * d, 130.0 * row)

    def add(k, type_name, params, row):
        meta = _read_meta(nodes[k])
        pos = tuple(meta["position"]) if meta.get("position") else layout(k, row)
        circuit.add(k, type_name, position=pos, **params)

    # blocks, in the graph's node order (so random draws at reset happen in the same order)
    for row, (k, n) in enumerate(nodes.items()):
        meta = _read_meta(n)
        if isinstance(n, nir.Input):
            if meta.get("type") and meta["type"] in _registry():
                cls = get_block_type(meta["type"])
                params = {p: v for p, v in meta.get("params", {}).items() if p in cls.user_params()}
                add(k, meta["type"], _numbers(cls, params), row)
            else:
                add(k, "SpikeTimes", {"n": _size(n)}, row)
        elif isinstance(n, neurons):
            tau = n.tau_mem if isinstance(n, nir.CubaLIF) else n.tau
            params = dict(n=int(np.asarray(n.v_threshold).size), tau_m=_ms(_uniform(k, "tau", tau)),
                          R=_uniform(k, "r", n.r), E_L=_uniform(k, "v_leak", n.v_leak),
                          v_th=_uniform(k, "v_threshold", n.v_threshold), v_reset=_uniform(k, "v_reset", n.v_reset))
            ours = meta.get("params", {}) if meta.get("type") == "LIFPopulation" else {}
            params["t_ref"] = float(ours.get("t_ref", 0.0))
            if "v_init" in ours:
                params["v_init"] = ours["v_init"]
            add(k, "LIFPopulation", params, row)
        elif isinstance(n, (nir.Linear, nir.Affine)):
            chains = [(t, post) for t in succs[k] for post in (succs[t] if is_synapse(t) else [t])
                      if not isinstance(nodes[post], nir.Output)]
            for via, post in chains:
                proj = k if len(chains) == 1 else f"{k}_{post}"
                proj_of[(k, post)] = proj
                add(proj, "Projection", _projection(n, via, post, nodes, is_synapse(via), dt, meta), row)
    # wires, in edge order (the order in which currents into a population are summed)
    for a, b in edges:
        if not isinstance(nodes[b], neurons):
            continue
        if isinstance(nodes[a], (nir.Linear, nir.Affine)):
            arrivals = [(proj_of[(a, b)], preds[a][0])]
        elif isinstance(nodes[a], nir.LI):
            arrivals = [(proj_of[(lin, b)], preds[lin][0]) for lin in preds[a]]
        elif "current" in circuit.block(a).outputs:  # a current input (e.g. CurrentInput) into a membrane
            circuit.connect(f"{a}.current", f"{b}.current")
            continue
        else:  # spikes straight into neurons: identity weights
            proj = f"{a}_{b}"
            add(proj, "Projection", _projection(None, b, b, nodes, False, dt, {}, n_pre=_size(nodes[a])), 0)
            arrivals = [(proj, a)]
        for proj, pre in arrivals:
            if not circuit.wires_into(proj, "spikes"):
                circuit.connect(f"{pre}.spikes", f"{proj}.spikes")
            circuit.connect(f"{proj}.current", f"{b}.current")
    return circuit


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


def _projection(node, via, post, nodes, synapse: bool, dt: float, meta: dict, n_pre: int | None = None) -> dict:
    """Projection params for weights ``node`` (None: identity) arriving at neuron ``post``."""
    import nir

    target = nodes[post]
    n_post = int(np.asarray(target.v_threshold).size)
    w = np.eye(n_post, n_pre or n_post) if node is None else np.asarray(node.weight, dtype=np.float64)
    w = w.reshape(n_post, -1)
    if synapse:
        li = nodes[via]
        tau_s = _uniform(via, "tau", li.tau)
        scale = np.asarray(li.r, dtype=np.float64).ravel() / tau_s
    elif isinstance(target, nir.CubaLIF):
        tau_s = _uniform(post, "tau_syn", target.tau_syn)
        scale = np.asarray(target.w_in, dtype=np.float64).ravel() / tau_s
    else:  # Dirac current straight into the membrane: the shortest synapse, same charge
        tau_s = SHORTEST_TAU_SYN * MS
        scale = np.full(n_post, -math.expm1(-dt / SHORTEST_TAU_SYN) / (dt * MS))
    if not np.all(scale == 1.0):
        w = w * scale[:, None]
    pre_idx, post_idx = np.nonzero(w.T)
    edges = [[int(i), int(j), float(w[j, i])] for i, j in zip(pre_idx, post_idx)]
    params = dict(connectivity="edges", edges=edges, tau_syn=_ms(tau_s))
    ours = meta.get("params", {}) if meta.get("type") == "Projection" else {}
    if "autapses" in ours:
        params["autapses"] = bool(ours["autapses"])
    return params


__all__ = ["to_nir", "from_nir", "write_nir", "read_nir", "NIRError"]
