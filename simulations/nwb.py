"""NWB (Neurodata Without Borders) export of a run: spikes and sampled traces (``pynwb``,
the optional ``nwb`` extra).

Spikes go to the Units table, one unit per (population, batch row, neuron) with columns
``population``, ``batch`` and ``neuron`` (the neuron's own id); each sampled probe becomes a
TimeSeries in ``acquisition`` named after the probe, with its unit, timestamps in seconds and
the recorded neurons' ids in its description. The circuit's JSON goes to the file's ``notes``.
"""
from __future__ import annotations

import datetime
import uuid

import numpy as np

from .data import _unit
from .probes import SpikeRecorder


def to_nwb(sim, filename, session_description: str | None = None) -> None:
    """Write what ``sim``'s recorders kept to the NWB file ``filename``."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    nwb = NWBFile(
        session_description=session_description or f"workbench simulation of circuit {sim.circuit.name!r}",
        identifier=str(uuid.uuid4()), session_start_time=datetime.datetime.now(datetime.timezone.utc),
        notes=sim.circuit.to_json(), source_script="workbench", source_script_file_name="simulations/nwb.py",
    )
    spiking = {p: r for p, r in sim.recorders.items() if isinstance(r, SpikeRecorder)}
    if spiking:
        for column, doc in (("population", "block.probe that recorded the spikes"), ("batch", "batch row"),
                            ("neuron", "neuron id within the population")):
            nwb.add_unit_column(name=column, description=doc)
    for path, rec in spiking.items():
        events = rec.events()
        width = sim.probe_value(path).shape[-1]
        order = np.lexsort((events[:, 0], events[:, 2], events[:, 1]))
        events = events[order]
        keys = events[:, 1] * width + events[:, 2]
        for row in range(sim.batch):
            for neuron in range(width):
                key = row * width + neuron
                lo, hi = np.searchsorted(keys, key), np.searchsorted(keys, key, side="right")
                nwb.add_unit(spike_times=events[lo:hi, 0] * sim.dt * 1e-3, population=path, batch=row, neuron=neuron)
    for path, rec in sim.recorders.items():
        if path in spiking:
            continue
        steps, values = rec.samples()
        if not len(steps):
            continue
        values = values.reshape(len(steps), sim.batch, -1)
        block, probe = path.split(".", 1)
        doc = sim.nodes[block].block.probes[probe].doc
        ids = rec.ids(values.shape[-1]) if hasattr(rec, "ids") else np.arange(values.shape[-1])
        nwb.add_acquisition(TimeSeries(
            name=path, data=values, unit=_unit(doc) or "n/a", timestamps=steps * sim.dt * 1e-3,
            description=f"{doc}; dimensions (time, batch row, neuron); neuron ids {ids.tolist()}",
        ))
    with NWBHDF5IO(str(filename), "w") as io:
        io.write(nwb)


__all__ = ["to_nwb"]
