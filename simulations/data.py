"""Run results as labelled data: an ``xarray.Dataset`` of everything the recorders kept.

Spike probes become ragged event lists (one ``<probe>/spike`` dimension: time in ms, with the
neuron id and batch row of each spike as coordinates); sampled probes become arrays over
``<probe>/time`` (ms), ``batch`` and ``<probe>/neuron`` (the recorded neurons' own ids).
The batch dimension carries the variant values (``"block.param"`` coordinates) of a sweep;
units and descriptions sit in each variable's attrs, the circuit's JSON in the dataset's.
"""
from __future__ import annotations

import re

import numpy as np

from .probes import SpikeRecorder

UNIT = re.compile(r"\(([^()]*)\)\s*$")


def _unit(doc: str) -> str:
    """The unit a probe's doc names at its end, e.g. "membrane potential (mV)" -> "mV"."""
    m = UNIT.search(doc or "")
    return m.group(1) if m else ""


def variant_coords(sim) -> dict:
    """Live parameters that differ between batch rows, as ``"block.param"`` -> values per row."""
    out = {}
    for name, node in sim.nodes.items():
        for pname, value in node.live.items():
            column = value.detach().cpu().numpy().reshape(-1)
            if len(column) > 1 and np.any(column != column[0]):
                out[f"{name}.{pname}"] = ("batch", column)
    return out


def to_xarray(sim):
    import xarray as xr

    data_vars, coords = {}, {"batch": np.arange(sim.batch), **variant_coords(sim)}
    for path, rec in sim.recorders.items():
        block, probe = path.split(".", 1)
        declared = sim.nodes[block].block.probes[probe]
        attrs = dict(block=block, block_type=type(sim.nodes[block].block).__name__, description=declared.doc,
                     view=declared.view)
        if isinstance(rec, SpikeRecorder):
            events = rec.events()
            dim = f"{path}/spike"
            data_vars[path] = xr.Variable(dim, events[:, 0] * sim.dt, {**attrs, "units": "ms", "long_name": "spike time"})
            coords[f"{path}/neuron"] = (dim, events[:, 2])
            coords[f"{path}/batch"] = (dim, events[:, 1])
        else:
            steps, values = rec.samples()
            values = values.reshape(len(steps), sim.batch, -1) if len(steps) else np.zeros((0, sim.batch, 0))
            time, neuron = f"{path}/time", f"{path}/neuron"
            data_vars[path] = xr.Variable((time, "batch", neuron), values, {**attrs, "units": _unit(declared.doc)})
            coords[time] = (time, steps * sim.dt, {"units": "ms"})
            coords[neuron] = (neuron, rec.ids(values.shape[-1]) if values.shape[-1] else np.zeros(0, dtype=np.int64))
    return xr.Dataset(data_vars, coords=coords, attrs=dict(
        circuit=sim.circuit.to_json(), circuit_name=sim.circuit.name, dt_ms=sim.dt, seed=sim.seed, t_ms=sim.time))


__all__ = ["to_xarray", "variant_coords"]
