"""Checkpoints: a running simulator's full state in one ``.npz`` file, with no pickle in it.

The file holds the circuit (its JSON), the compile settings, the step, the random stream's
state, the live parameters, every block's state tensors, the outputs of the last step (the
currents the next step reads) and what the recorders kept. ``load_checkpoint`` compiles the
circuit again and overwrites that fresh simulator's state, so a restored run continues with
the same spikes as an uninterrupted one. Compiled-kernel handles (state entries named in
``REBUILT``) are never saved: blocks rebuild them when they next run.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .errors import CircuitError

FORMAT = "workbench-checkpoint/1"
REBUILT = ("packed", "packed_for", "buffers")  # compiled-kernel argument structs and their buffers


class CheckpointError(CircuitError):
    """A checkpoint file that cannot be read or does not fit its circuit."""


def _flatten(value, path: str, tensors: dict, scalars: dict) -> None:
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu().numpy()
    elif isinstance(value, torch.Generator):
        tensors[path + "#rng"] = value.get_state().numpy()
    elif value is None or isinstance(value, (bool, int, float, str)):
        scalars[path] = value
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{path}/{k}", tensors, scalars)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _flatten(v, f"{path}/{i}", tensors, scalars)
    elif hasattr(value, "__dict__"):
        for k, v in vars(value).items():
            _flatten(v, f"{path}/.{k}", tensors, scalars)
    # anything else (e.g. a ctypes handle) is rebuilt, not saved


def state_arrays(sim) -> tuple[dict, dict]:
    """(tensors, scalars) of every node's state, keyed by ``block/key/...`` paths."""
    tensors, scalars = {}, {}
    for name, node in sim.nodes.items():
        for key, value in node.state.items():
            if key not in REBUILT:
                _flatten(value, f"{name}/{key}", tensors, scalars)
    return tensors, scalars


def _assign(root: dict, path: str, value, is_rng: bool = False) -> None:
    parts = path.split("/")
    container = root
    for part in parts[:-1]:
        container = getattr(container, part[1:]) if part.startswith(".") else \
            container[int(part)] if isinstance(container, (list, tuple)) else container[part]
        if container is None:  # a cache the fresh simulator has not derived yet: it will
            return
    last = parts[-1]
    get = (lambda: getattr(container, last[1:], None)) if last.startswith(".") else \
        (lambda: container[int(last)]) if isinstance(container, (list, tuple)) else (lambda: container.get(last))
    current = get()
    if is_rng:
        current.set_state(torch.as_tensor(value, dtype=torch.uint8))
        return
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.array(value))
        if isinstance(current, torch.Tensor) and current.shape == tensor.shape:
            current.copy_(tensor.to(current.dtype))
            return
        value = tensor.to(current.device) if isinstance(current, torch.Tensor) else tensor
    if last.startswith("."):
        setattr(container, last[1:], value)
    elif isinstance(container, dict):
        container[last] = value
    else:
        raise CheckpointError(f"cannot restore {path}: it lives in a tuple")


def save_checkpoint(sim, path) -> None:
    """Write ``sim``'s full state to ``path`` (an ``.npz``; no pickle)."""
    from .probes import SampleRecorder, SpikeRecorder

    tensors, scalars = state_arrays(sim)
    arrays = {f"state/{k}": v for k, v in tensors.items()}
    for (block, port), value in sim.outputs.items():
        arrays[f"outputs/{block}/{port}"] = value.detach().cpu().numpy()
    for name, node in sim.nodes.items():
        for pname, value in node.live.items():
            arrays[f"live/{name}/{pname}"] = value.detach().cpu().numpy()
    arrays["rng"] = sim.generator.get_state().numpy()
    recorders = {}
    for probe, rec in sim.recorders.items():
        if isinstance(rec, SpikeRecorder):
            arrays[f"recorders/{probe}"] = rec.events()
            recorders[probe] = dict(kind="spikes", capacity=rec.capacity, first_step=rec.first_step,
                                    last_step=rec.last_step)
        elif isinstance(rec, SampleRecorder):
            steps, values = rec.samples()
            arrays[f"recorders/{probe}/steps"], arrays[f"recorders/{probe}/values"] = steps, values
            recorders[probe] = dict(kind="samples", view=rec.view, every=rec.every, capacity=rec.capacity,
                                    neurons=None if rec.neurons is None else rec.neurons.tolist(),
                                    written=rec._written)
    meta = dict(format=FORMAT, circuit=json.loads(sim.circuit.to_json()), dt=sim.dt, batch=sim.batch,
                seed=sim.seed, dtype=str(sim.dtype).removeprefix("torch."), t=sim.t, scalars=scalars,
                recorders=recorders, check_every=sim.check_every,
                diverged=None if sim.diverged is None else [sim.diverged.block, sim.diverged.variable, sim.diverged.step])
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_checkpoint(path, device: str | torch.device = "cpu"):
    """The simulator saved in ``path``, ready to continue where it stopped."""
    from .circuit import Circuit
    from .errors import DivergenceError
    from .probes import SampleRecorder, SpikeRecorder
    from .simulator import Simulator

    try:
        with np.load(Path(path), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(bytes(arrays.pop("meta")).decode())
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{Path(path).name} is not a workbench checkpoint: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{Path(path).name}: unknown checkpoint format {meta.get('format')!r}")
    circuit = Circuit.from_json(json.dumps(meta["circuit"]))
    sim = Simulator(circuit, dt=meta["dt"], batch=meta["batch"], seed=meta["seed"], device=device,
                    dtype=getattr(torch, meta["dtype"]), record="none", check_every=meta["check_every"])
    try:
        for key, value in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "live":
                block, pname = rest.split("/")
                sim.nodes[block].live[pname] = torch.from_numpy(value).to(sim.device, sim.dtype)
        for node in sim.nodes.values():
            node.params = sim._derive(node)
            node.state = {k: v for k, v in node.state.items() if k not in REBUILT}
        for key, value in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "state":
                block, _, sub = rest.partition("/")
                rng = sub.endswith("#rng")
                _assign(sim.nodes[block].state, sub.removesuffix("#rng"), value, rng)
            elif kind == "outputs":
                block, port = rest.split("/")
                sim.outputs[(block, port)].copy_(torch.from_numpy(value))
        for key, value in meta["scalars"].items():
            block, _, sub = key.partition("/")
            _assign(sim.nodes[block].state, sub, value)
    except (KeyError, ValueError, IndexError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{Path(path).name} does not fit its circuit: {type(e).__name__}: {e}") from None
    sim.generator.set_state(torch.from_numpy(arrays["rng"]))
    sim.t = int(meta["t"])
    for probe, spec in meta["recorders"].items():
        if spec["kind"] == "spikes":
            rec = SpikeRecorder(capacity=spec["capacity"])
            sim.record(probe, rec)
            if spec["first_step"] is not None:
                events = torch.from_numpy(arrays[f"recorders/{probe}"])
                rec.extend(spec["first_step"], spec["last_step"] + 1, events[:, 0], events[:, 1], events[:, 2])
        else:
            rec = SampleRecorder(spec["view"], every=spec["every"], capacity=spec["capacity"], neurons=spec["neurons"])
            sim.record(probe, rec)
            rec.load(arrays[f"recorders/{probe}/steps"], arrays[f"recorders/{probe}/values"], spec["written"])
    if meta.get("diverged"):
        block, variable, step = meta["diverged"]
        sim.diverged = DivergenceError(block, variable, step, sim.dt)
    return sim


__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError", "REBUILT"]
