"""The workbench inside a Jupyter notebook: the same editor, inspector and live views, inline.

``circuit.show()`` (or ``show(circuit)``) displays a ``NotebookWorkbench``. Edits on its canvas
edit that same ``circuit`` object, so the next cell sees them. ``wb.run()`` / ``wb.run_for(s)``
start the simulator thread and return at once: the views stream while the kernel is idle
(a frame tick on the kernel's event loop, as in the served app). A cell that blocks the kernel
delays the drawing, not the simulation. Without a display, use ``wb.sim`` (or plain
``compile``) and ``simulations.export.spikes_frame`` / ``to_dataframes`` for the data.
"""
from __future__ import annotations

import time

import panel as pn

from simulations import Circuit

from .app import FRAME_MS, Workbench

_extension_loaded = False


def _load_extension() -> None:
    """Panel's notebook JS (with the JSON editor the canvas needs), once per kernel, inlined in
    the notebook so that it renders with no network."""
    global _extension_loaded
    if not _extension_loaded:
        pn.extension("jsoneditor", notifications=False, inline=True)
        _extension_loaded = True


class NotebookWorkbench:
    """A workbench session bound to a notebook kernel; displays itself when it is a cell's value."""

    def __init__(self, circuit: Circuit | None = None):
        _load_extension()
        self.workbench = Workbench(circuit)
        self._callback = pn.state.add_periodic_callback(self._tick, period=FRAME_MS, start=True)

    def _tick(self) -> None:
        wb = self.workbench
        if wb.link.ack == 0:  # no acknowledgement from this frontend yet: do not hold frames back
            wb._sent.clear()
        wb.tick()

    # -- what a cell uses ------------------------------------------------------------------------
    @property
    def circuit(self) -> Circuit:
        return self.workbench.circuit

    @property
    def sim(self):
        """The compiled simulator (None before the first run)."""
        return self.workbench.runner.sim

    @property
    def running(self) -> bool:
        return self.workbench.runner.running or self.workbench.runner._pending_steps > 0

    def run(self) -> "NotebookWorkbench":
        """Start (or resume) the run in the background, like the Run button."""
        self.workbench.run()
        return self

    def run_for(self, seconds: float) -> "NotebookWorkbench":
        """Simulate ``seconds`` of biological time in the background, then pause."""
        wb = self.workbench
        if (wb.runner.sim is None or wb.dirty) and not wb._compile():
            raise RuntimeError(wb.message.object)
        wb.runner.pause()
        wb.runner.step(int(round(seconds * 1000.0 / wb.runner.sim.dt)))
        return self

    def pause(self) -> "NotebookWorkbench":
        self.workbench.pause()
        return self

    def reset(self) -> "NotebookWorkbench":
        self.workbench.reset()
        return self

    def wait(self, timeout: float = 600.0) -> "NotebookWorkbench":
        """Block until a ``run_for`` has finished, then draw the last frame."""
        deadline = time.monotonic() + timeout
        while self.workbench.runner._pending_steps > 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.workbench.tick(final=True)
        return self

    def close(self) -> None:
        """Stop the frame tick and the simulator thread."""
        self._callback.stop()
        self.workbench.close()

    def panel(self):
        return self.workbench.layout

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.workbench.layout._repr_mimebundle_(include, exclude)

    def __repr__(self):
        sim = self.sim
        state = "not compiled" if sim is None else f"t = {sim.time:.1f} ms"
        return f"NotebookWorkbench({self.circuit!r}, {state})"


def show(circuit: Circuit | None = None) -> NotebookWorkbench:
    """The workbench for ``circuit`` (default: the demo circuit), to display in a notebook."""
    return NotebookWorkbench(circuit)
