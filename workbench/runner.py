"""One session's simulation process, seen from the server.

The simulator lives in its own process (``sim_process``, started with spawn), so compiling
and stepping never hold the server's interpreter: drawing cannot slow the simulation and a
long compile in one tab cannot freeze another tab. Commands go down a pipe (they never wait
for an answer); a reader thread puts every answer on ``messages``, which the session drains
on its event loop (``poll``); ``wake``, if set, is called (on the reader thread) when a frame
arrives, so the session draws it at once instead of at its next timer tick. If the process
dies, ``("crashed", exitcode)`` is queued and ``restart`` starts a fresh one (the circuit lives
in the server, so nothing is lost).
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
import time

from .sim_process import serve

_SPAWN = multiprocessing.get_context("spawn")
_spare: list = []  # one process started ahead, so a new tab need not wait for Python and torch to load
_spare_lock = threading.Lock()


def _spawn():
    here, there = _SPAWN.Pipe()
    process = _SPAWN.Process(target=serve, args=(there,), daemon=True, name="workbench-simulation")
    process.start()
    there.close()
    return process, here


def _take_process():
    """A started simulation process (the spare if one is ready), and a new spare behind it."""
    with _spare_lock:
        ready = [(p, c) for p, c in _spare if p.is_alive()]
        _spare.clear()
        process, conn = ready.pop(0) if ready else _spawn()
        for p, c in ready:
            c.close()
            p.kill()
        _spare.append(_spawn())
    return process, conn


class Runner:
    def __init__(self):
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self.wake = None  # called from the reader thread when a frame arrives
        self._start()

    def _start(self) -> None:
        self.layout: dict | None = None  # what the compiled simulator shows (None: not compiled)
        self.status: dict = dict(running=False, pending=0, t=0, time=0.0, steps_per_second=0.0,
                                 error=None, seen=0, generation=0)
        self.compiling = False
        self.progress: tuple[str, float, float] | None = None  # stage, fraction, seconds
        self.frames_pending = 0
        self.sent = 0  # commands sent other than frame requests (the process reports how many it handled)
        self.process, here = _take_process()
        self._conn = here
        threading.Thread(target=self._read, args=(here, self.process), daemon=True,
                         name="workbench-simulation-reader").start()

    def _read(self, conn, process) -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                process.join(timeout=2)
                if not self._closed and process is self.process:
                    self.messages.put(("crashed", process.exitcode))
                return
            self.messages.put(msg)
            if msg[0] == "frame" and self.wake is not None:
                self.wake()

    def _send(self, *msg) -> None:
        try:
            self._conn.send(msg)
            self.sent += msg[0] != "frame"
        except (OSError, ValueError):  # the process died: the reader reports it
            pass

    # -- state ---------------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def running(self) -> bool:
        return bool(self.status["running"])

    @property
    def busy(self) -> bool:
        """Running, compiling or stepping, or a command not yet answered."""
        s = self.status
        return self.compiling or s["running"] or s["pending"] > 0 or s["seen"] < self.sent

    @property
    def error(self) -> str | None:
        return self.status["error"]

    def poll(self) -> list[tuple]:
        """Messages from the process since the last call; keeps ``layout``, ``status`` and
        ``progress`` up to date (call on the session's event loop)."""
        out = []
        while True:
            try:
                msg = self.messages.get_nowait()
            except queue.Empty:
                return out
            kind = msg[0]
            if kind == "progress":
                self.progress = msg[1:]
            elif kind == "loaded":
                self.layout, self.compiling, self.progress = msg[1], False, None
            elif kind == "error":
                self.compiling, self.progress = False, None
            elif kind == "frame":
                self.frames_pending = 0
                self.status = {k: msg[1][k] for k in self.status}
            out.append(msg)

    # -- commands ------------------------------------------------------------------------------------
    def load(self, circuit_json: str, demo: str | None = None, dt: float = 0.1, shown=None, picks=None) -> None:
        """Compile in the process (progress messages follow, then ``loaded`` or ``error``)."""
        self.layout, self.compiling, self.progress = None, True, ("starting", 0.0, 0.0)
        self._send("load", circuit_json, demo, dt, shown, picks)

    def show(self, shown: list[str], picks: dict[str, list[int]] | None = None) -> None:
        """Show other probes (``picks``: trace probe -> the neurons brushed in the raster)."""
        self._send("show", list(shown), picks)

    def run(self) -> None:
        self.status["running"] = True  # until the next frame says otherwise
        self._send("run")

    def pause(self) -> None:
        self.status["running"] = False
        self._send("pause")

    def step(self, n: int) -> None:
        self._send("step", int(n))

    def reset(self) -> None:
        self.status.update(running=False, error=None)
        self._send("reset")

    def set_speed(self, speed: float | None) -> None:
        self._send("speed", speed)

    def set_param(self, block: str, name: str, value) -> None:
        """Applied between two stepping chunks; ``("set", ..., error, sent_at, t)`` answers."""
        self._send("set", block, name, value, time.monotonic())

    def draw_frames_with(self, doc, tick) -> None:
        """Call ``tick`` on ``doc``'s event loop (holding its lock) as soon as a frame arrives:
        no polling timer between a frame and its drawing. Wake-ups coalesce."""
        if doc is None or doc.session_context is None:
            return
        from panel.io.state import set_curdoc

        woken = threading.Event()

        def draw():
            woken.clear()
            with set_curdoc(doc):
                tick()

        def wake():
            if not woken.is_set():
                woken.set()
                try:
                    doc.add_next_tick_callback(draw)
                except Exception:  # noqa: BLE001 - the session is gone; the reader thread goes on
                    woken.clear()

        self.wake = wake

    def request_frame(self, detail: float = 1.0, final: bool = False) -> None:
        """Ask for the next frame: sent at once if ``final``, else once ``FRAME_S`` (running) or
        ``IDLE_FRAME_S`` (paused) has passed since the previous one."""
        self.frames_pending = 1  # requests not yet answered merge into one frame
        self._send("frame", float(detail), bool(final))

    def crash(self, exitcode: int = 70) -> None:
        """Make the process exit abruptly, as a native fault would (for tests)."""
        self._send("crash", exitcode)

    def restart(self) -> None:
        """A fresh process after a crash (nothing compiled yet)."""
        old = self.process
        self._start()
        if old.is_alive():
            old.kill()

    def close(self) -> None:
        """Stop the process (session closed) without waiting on the event loop."""
        self._closed = True
        self._send("close")
        process, conn = self.process, self._conn

        def stop():
            process.join(timeout=3)  # it leaves between two chunks, or is killed mid-compile
            if process.is_alive():
                process.kill()
                process.join(timeout=3)
            conn.close()

        threading.Thread(target=stop, daemon=True).start()
