"""The run loop: a Simulator stepped in a background thread, decoupled from drawing.

The UI thread never steps the simulator; it sends commands (run, pause, step, speed, live
parameter changes) and reads the recorders under ``lock`` once per frame. The thread steps in
short chunks (~10 ms of work) so a command or a frame read never waits long, and a diverging
run pauses itself and keeps the error for the UI to show.
"""
from __future__ import annotations

import threading
import time

import torch

from simulations import DivergenceError, Simulator

CHUNK_SECONDS = 0.01  # target wall time of one locked stepping chunk


class Runner:
    """Owns one session's simulator and the thread that steps it."""

    def __init__(self):
        self.sim: Simulator | None = None
        self.lock = threading.RLock()
        self.error: DivergenceError | None = None
        self.speed: float | None = None  # simulated ms per wall second; None = as fast as possible
        self.steps_per_second = 0.0  # measured while running
        self._running = threading.Event()
        self._wake = threading.Event()
        self._closed = False
        self._pending_steps = 0
        self._chunk = 10
        self._thread = threading.Thread(target=self._loop, name="workbench-sim", daemon=True)
        self._thread.start()

    # -- commands (UI thread) --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running.is_set()

    def load(self, sim: Simulator | None) -> None:
        """Replace the simulator (after a compile); the run is paused."""
        self.pause()
        with self.lock:
            self.sim, self.error, self.steps_per_second = sim, None, 0.0

    def run(self) -> None:
        if self.sim is not None and self.error is None:
            self._running.set()
            self._wake.set()

    def pause(self) -> None:
        self._running.clear()
        with self.lock:  # returns once the current chunk is done: nothing steps after pause()
            self._pending_steps = 0

    def step(self, n: int) -> None:
        """Advance exactly n steps in the background (while paused)."""
        if self.sim is not None and self.error is None:
            with self.lock:
                self._pending_steps += int(n)
            self._wake.set()

    def reset(self) -> None:
        self.pause()
        with self.lock:
            if self.sim is not None:
                self.sim.reset()
            self.error = None

    def set_param(self, block: str, name: str, value) -> None:
        """Change a live parameter between two chunks (within ~10 ms)."""
        with self.lock:
            if self.sim is not None:
                self.sim.set_param(block, name, value)

    def close(self) -> None:
        """Stop the thread (session closed)."""
        self._closed = True
        self._running.clear()
        self._wake.set()
        self._thread.join(timeout=2)

    # -- the thread ------------------------------------------------------------------------------
    def _loop(self) -> None:
        torch.set_num_threads(1)
        window_start, window_steps = time.perf_counter(), 0
        while not self._closed:
            if not (self._running.is_set() or self._pending_steps):
                self.steps_per_second = 0.0
                self._wake.wait(0.2)
                self._wake.clear()
                window_start, window_steps = time.perf_counter(), 0
                continue
            started = time.perf_counter()
            with self.lock:
                if not (self._running.is_set() or self._pending_steps):
                    continue  # paused while this thread waited for the lock: step nothing
                sim = self.sim
                if sim is None or self.error is not None:
                    self._running.clear()
                    self._pending_steps = 0
                    continue
                n = self._chunk if not self._pending_steps else min(self._chunk, self._pending_steps)
                try:
                    sim.step(n)
                except DivergenceError as e:
                    self.error = e
                    self._running.clear()
                    self._pending_steps = 0
                    continue
                if self._pending_steps:
                    self._pending_steps -= n
            took = time.perf_counter() - started
            # adapt the chunk so one locked chunk takes about CHUNK_SECONDS
            self._chunk = max(1, min(2000, int(n * CHUNK_SECONDS / max(took, 1e-6))))
            window_steps += n
            elapsed = time.perf_counter() - window_start
            if elapsed > 0.5:
                self.steps_per_second = window_steps / elapsed
                window_start, window_steps = time.perf_counter(), 0
            if self.speed is not None and sim is not None:
                wanted = n * sim.dt / self.speed  # wall seconds these n steps should take
                if wanted > took:
                    time.sleep(wanted - took)
            else:
                time.sleep(0)  # let the UI thread take the GIL between chunks
