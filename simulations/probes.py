"""Recorders: bounded buffers that probes write into while a circuit runs, and views read.

Memory is bounded whatever the run length: spike events keep the newest ``capacity`` events,
sampled signals keep the newest ``capacity`` samples. The first time a recorder drops old data
it warns once, naming the probe and how to keep more.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch


class RecorderFullWarning(UserWarning):
    """A recorder reached its capacity and started dropping its oldest data."""


def _warn_full(rec, what: str) -> None:
    if not rec.warned:
        rec.warned = True
        warnings.warn(
            f"recorder of {rec.label or 'a probe'} is full: it keeps the newest {rec.capacity:,} {what} and drops "
            f"older ones. To keep more, record it with a larger capacity, e.g. "
            f"sim.record({rec.label or 'path'!r}, {type(rec).__name__}(..., capacity=N)), or sample less often (every=k).",
            RecorderFullWarning, stacklevel=4)


class SpikeRecorder:
    """Spike events (step, batch row, neuron) from a 0/1 signal, newest ``capacity`` kept.

    Steps are first copied densely into a small block (one cheap copy per step) and turned into
    events once per block, which costs far less than finding the spikes every step.
    """

    view = "raster"
    BLOCK = 64

    def __init__(self, capacity: int = 2_000_000):
        self.capacity = capacity
        self.label, self.warned = None, False
        self.clear()

    def clear(self):
        self._chunks: list[tuple[int, torch.Tensor]] = []  # (first step, events (k, 3): step, row, neuron)
        self._count = 0
        self._dense = None  # (BLOCK, batch, n) spikes of the steps not yet turned into events
        self._filled = 0
        self._block_start = 0
        self.first_step = None  # first step covered by what is kept (for rates)
        self.last_step = None

    def record(self, t: int, value: torch.Tensor):
        if self.first_step is None:
            self.first_step = t
        if self._dense is None:
            self._dense = torch.zeros((self.BLOCK, *value.shape), dtype=torch.bool, device=value.device)
        if self._filled == 0:
            self._block_start = t
        self._dense[self._filled].copy_(value)
        self._filled += 1
        self.last_step = t
        if self._filled == self.BLOCK:
            self._flush()

    def extend(self, start: int, stop: int, steps, rows, neurons):
        """Add events found elsewhere (a fused run) for steps start..stop-1."""
        self._flush()
        if self.first_step is None:
            self.first_step = start
        self.last_step = stop - 1
        self._keep(start, torch.stack([steps, rows, neurons], 1))

    def _flush(self):
        if self._filled:
            events = self._dense[: self._filled].nonzero()
            events[:, 0] += self._block_start
            self._filled = 0
            self._keep(self._block_start, events)

    def _keep(self, start: int, events: torch.Tensor):
        if not len(events):
            return
        self._chunks.append((start, events))
        self._count += len(events)
        while self._count - len(self._chunks[0][1]) >= self.capacity:
            self._count -= len(self._chunks.pop(0)[1])
            self.first_step = self._chunks[0][0]
            _warn_full(self, "spike events")

    def events(self, since_step: int = -1) -> np.ndarray:
        """All kept events with step > since_step, as an int64 array of rows (step, row, neuron)."""
        self._flush()
        parts = [e for _, e in self._chunks if int(e[-1, 0]) > since_step]
        if not parts:
            return np.zeros((0, 3), dtype=np.int64)
        out = torch.cat(parts).cpu().numpy()
        return out[out[:, 0] > since_step]


class SampleRecorder:
    """A ring buffer of samples of a tensor signal taken every ``every`` steps.

    ``neurons`` (indices into the last dimension) keeps only those entries of each sample.
    """

    def __init__(self, view: str, every: int = 1, capacity: int = 10_000, neurons=None):
        self.view, self.every, self.capacity = view, every, capacity
        self.neurons = None if neurons is None else torch.as_tensor(neurons, dtype=torch.long)
        self.label, self.warned = None, False
        self.clear()

    def clear(self):
        self._buffer = None
        self._steps = np.zeros(self.capacity, dtype=np.int64)
        self._written = 0

    def record(self, t: int, value: torch.Tensor):
        if t % self.every:
            return
        if self.neurons is not None:
            value = value.index_select(-1, self.neurons.to(value.device))
        if self._buffer is None:
            self._buffer = torch.zeros((self.capacity, *value.shape), dtype=value.dtype, device=value.device)
        slot = self._written % self.capacity
        if self._written == self.capacity:
            _warn_full(self, "samples")
        self._buffer[slot].copy_(value)
        self._steps[slot] = t
        self._written += 1

    def ids(self, width: int) -> np.ndarray:
        """The neuron ids (indices into the probed signal) of the recorded columns."""
        return np.arange(width) if self.neurons is None else self.neurons.cpu().numpy()

    def load(self, steps: np.ndarray, values: np.ndarray, written: int) -> None:
        """Refill from ``samples()`` output (a checkpoint), as if ``written`` samples were taken."""
        self.clear()
        if len(steps):
            self._buffer = torch.zeros((self.capacity, *values.shape[1:]), dtype=torch.from_numpy(values).dtype)
            n = len(steps)
            slots = (np.arange(n) + written - n) % self.capacity
            self._buffer[torch.as_tensor(slots)] = torch.from_numpy(values)
            self._steps[slots] = steps
        self._written = written
        self.warned = written > self.capacity

    def samples(self, since_step: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) in time order for samples after since_step; values is (T, ...)."""
        if self._buffer is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0,))
        n = min(self._written, self.capacity)
        order = (np.arange(n) + self._written - n) % self.capacity
        steps = self._steps[order]
        keep = order[steps > since_step]
        values = self._buffer[torch.as_tensor(keep, dtype=torch.long)].cpu().numpy()
        return self._steps[keep], values


def default_recorder(view: str, shape: tuple[int, ...]):
    """How a probe is recorded unless the user asks otherwise, chosen by its view kind."""
    if view == "raster":
        return SpikeRecorder()
    if view == "trace":
        width = shape[-1] if shape else 1
        return SampleRecorder("trace", neurons=list(range(min(width, 16))) if shape else None)
    if view == "heatmap":
        return SampleRecorder("heatmap", every=100, capacity=10)
    return SampleRecorder(view, capacity=100_000)
