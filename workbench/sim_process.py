"""The simulation process: one per browser session, started by ``runner.Runner`` (spawn).

It owns the compiled simulator, so neither compiling nor stepping ever holds the server's
interpreter (its GIL or its event loop). Commands arrive through a pipe and are handled between
stepping chunks of ~10 ms, so a live parameter change or a pause applies within one chunk.
Frames are built here (``frames.FrameBuilder``: thinned, binned and decimated), so the server
only forwards small arrays to the browser. The server asks for the next frame as soon as it has
drawn one; the answer comes once ``FRAME_S`` has passed since the previous frame (paced here,
not by a polling timer on the server; ``IDLE_FRAME_S`` while paused; at once for the final frame
of a run), carrying everything recorded since. Nothing here waits for the server: messages
leave through a sender thread, and while the browser lags no frame is asked for, the simulation
runs on and the next frame merges what it missed. No Panel or Bokeh is imported here.

Messages to the server: ``("progress", stage, fraction, seconds)`` while compiling,
``("loaded", layout)``, ``("frame", data)``, ``("set", block, name, error, sent_at, t)``,
``("error", text)``. Every ``frame`` carries the run's status.
"""
from __future__ import annotations

import os
import queue
import threading
import time

import torch

from simulations import Circuit, CircuitError, DivergenceError, compile

from .frames import FrameBuilder

CHUNK_SECONDS = 0.01  # target wall time of one stepping chunk (commands wait at most this)
PROGRESS_EVERY_S = 0.2
FRAME_S = 0.04  # least wall time between two frames while running (25 frames/s at most)
IDLE_FRAME_S = 0.1  # the same while paused (the server asks again as soon as a frame arrives)


class SimulationSession:
    def __init__(self, conn):
        self.conn, self.outbox = conn, queue.SimpleQueue()
        threading.Thread(target=self._sender, daemon=True, name="workbench-frames-out").start()
        self.wanted = None  # (detail, final) of the frame the server asked for, not yet sent
        self.frame_at = 0.0  # when the previous frame was built
        self.sim = self.frames = self.live = None
        self.generation = 0  # bumped by every load/show: frames name the layout they belong to
        self.error: str | None = None
        self.running, self.pending, self.speed, self.chunk = False, 0, None, 10
        self.steps_per_second = 0.0
        self.seen = 0  # commands handled, frame requests aside

    def send(self, *msg) -> None:
        """Queue a message: a full pipe (a busy server) never stalls the stepping loop."""
        self.outbox.put(msg)

    def _sender(self) -> None:
        while True:
            msg = self.outbox.get()
            try:
                self.conn.send(msg)
            except (OSError, ValueError):  # the server went away
                return

    def send_frame(self) -> None:
        detail, final = self.wanted
        self.wanted, self.frame_at = None, time.perf_counter()
        data = self.frames.frame(detail, final) if self.frames is not None else {}
        self.send("frame", dict(data, **self.status()))

    def status(self) -> dict:
        sim = self.sim
        return dict(running=self.running, pending=self.pending, t=sim.t if sim else 0,
                    time=sim.time if sim else 0.0, steps_per_second=self.steps_per_second,
                    error=self.error, seen=self.seen, generation=self.generation)

    # -- commands ----------------------------------------------------------------------------------
    def handle(self, msg) -> None:
        kind, args = msg[0], msg[1:]
        self.seen += kind != "frame"
        if kind == "load":
            self.load(*args)
        elif kind == "show":
            if self.sim is not None:
                self.frames = FrameBuilder(self.sim, args[0], self.live, args[1] if len(args) > 1 else None)
                self.generation += 1
                self.send("loaded", dict(self.frames.layout(), generation=self.generation))
        elif kind == "run":
            self.running = self.sim is not None and self.error is None
        elif kind == "pause":
            self.running, self.pending = False, 0
        elif kind == "step":
            if self.sim is not None and self.error is None:
                self.pending += int(args[0])
        elif kind == "reset":
            self.running, self.pending, self.error = False, 0, None
            if self.sim is not None:
                self.sim.reset()
                self.frames.restart()
        elif kind == "speed":
            self.speed = args[0]
        elif kind == "set":
            block, name, value, sent_at = args
            problem = None
            try:
                self.sim.set_param(block, name, value)
            except (CircuitError, ValueError, AttributeError) as e:
                problem = str(e)
            self.send("set", block, name, problem, sent_at, self.sim.t if self.sim else 0)
        elif kind == "frame":  # built by the loop: at once if final, else paced; requests merge
            self.wanted = (args[0], args[1] or (self.wanted or (0, False))[1])
        elif kind == "crash":  # for tests: die as a native fault would, without cleaning up
            os._exit(int(args[0]))

    def load(self, circuit_json: str, demo_name: str | None, dt: float, shown, picks=None) -> None:
        """Compile in this process, reporting progress every 0.2 s, then send the layout."""
        self.running, self.pending, self.error = False, 0, None
        self.sim = self.frames = self.live = None
        started, stage, done = time.perf_counter(), ["reading the circuit", 0.05], threading.Event()

        def report():
            while not done.wait(PROGRESS_EVERY_S):
                self.send("progress", stage[0], stage[1], time.perf_counter() - started)

        threading.Thread(target=report, daemon=True).start()
        try:
            circuit = Circuit.from_json(circuit_json)
            stage[:] = ["building the simulator", 0.2]
            live, device = None, os.environ.get("WORKBENCH_DEVICE", "cpu")  # e.g. cuda
            if demo_name:
                from .demos import get

                demo = get(demo_name)
                try:  # the demo's dt, compared rows and schedule
                    sim = demo.compile(circuit, device=device)
                except CircuitError:  # edited beyond what the demo compares: run it plainly
                    sim = compile(circuit, dt=demo.dt, seed=0, device=device)
                live = demo.live
            else:
                sim = compile(circuit, dt=dt, seed=0, device=device)
            stage[:] = ["preparing the views", 0.6]
            frames = FrameBuilder(sim, shown, live, picks)
            layout = frames.layout()
            if live is not None:
                stage[:] = ["preparing the demo's live metric", 0.85]
                live(sim)  # fills the demo's caches now rather than in the first frame
        except (CircuitError, ValueError) as e:
            self.send("error", f"Cannot run: {e}")
            return
        except Exception as e:  # noqa: BLE001 - the session must survive and show it
            self.send("error", f"Cannot run: {type(e).__name__}: {e}")
            return
        finally:
            done.set()
        self.sim, self.frames, self.live = sim, frames, live
        self.generation += 1
        self.send("loaded", dict(layout, generation=self.generation, seconds=time.perf_counter() - started))

    # -- the loop ----------------------------------------------------------------------------------
    def serve(self) -> None:
        torch.set_num_threads(1)
        window_start, window_steps = time.perf_counter(), 0
        while True:
            busy = (self.running or self.pending) and self.sim is not None
            if self.wanted is not None:  # paused, frames only carry the status: fewer of them
                due = self.frame_at + (FRAME_S if busy else IDLE_FRAME_S) - time.perf_counter()
                if self.wanted[1] or due <= 0:
                    try:
                        self.send_frame()
                    except Exception as e:  # noqa: BLE001
                        self.send("error", f"The simulation process could not build a frame: {type(e).__name__}: {e}")
                    continue
            wait = 0 if busy else 0.2 if self.wanted is None else max(0.0, due)
            if self.conn.poll(wait):
                while True:
                    msg = self.conn.recv()
                    if msg[0] == "close":
                        return
                    try:
                        self.handle(msg)
                    except Exception as e:  # noqa: BLE001
                        self.send("error", f"The simulation process could not {msg[0]}: {type(e).__name__}: {e}")
                    if not self.conn.poll(0):
                        break
                continue
            if not busy:
                self.steps_per_second = 0.0
                window_start, window_steps = time.perf_counter(), 0
                continue
            n = self.chunk if not self.pending else min(self.chunk, self.pending)
            started = time.perf_counter()
            try:
                self.sim.step(n)
            except DivergenceError as e:
                self.error, self.running, self.pending = str(e), False, 0
                continue
            except Exception as e:  # noqa: BLE001
                self.error, self.running, self.pending = f"{type(e).__name__}: {e}", False, 0
                continue
            if self.pending:
                self.pending -= n
            took = time.perf_counter() - started
            self.chunk = max(1, min(2000, int(n * CHUNK_SECONDS / max(took, 1e-6))))
            window_steps += n
            elapsed = time.perf_counter() - window_start
            if elapsed > 0.5:
                self.steps_per_second = window_steps / elapsed
                window_start, window_steps = time.perf_counter(), 0
            if self.speed is not None:
                wanted = n * self.sim.dt / self.speed - took  # wall seconds these steps should still take
                if wanted > 0:
                    self.conn.poll(wanted)  # wakes early for a command


def serve(conn) -> None:
    """Entry point of the spawned process."""
    try:
        SimulationSession(conn).serve()
    except (EOFError, OSError, KeyboardInterrupt):  # the server went away
        pass
