"""What a signature demo is: a circuit file, how to compile it, what to watch live, and a
headless ``outcome`` that measures the paper's headline behaviour. No GUI code here."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from components.assets import ASSETS
from simulations import Circuit, Simulator, compile

DEMO_DIR = ASSETS / "demos"


@dataclass
class Outcome:
    """What a headless run of a demo measured.

    ``figures``: the headline numbers (name -> value), ``lines``: printable lines explaining
    them, ``chart``: what the thumbnail draws, ``{"kind": "lines" | "bars", "title": ...,
    "series": {label: [(x, y), ...]} or {label: value}}``.
    """

    figures: dict[str, float]
    lines: list[str]
    chart: dict

    def text(self) -> str:
        return "\n".join(self.lines)


class Schedule:
    """Live-parameter changes at fixed simulated times (e.g. task A, consolidate, task B).

    ``attach`` wraps a simulator's ``step`` and ``reset``: a run splits its steps at the events,
    so an event applies exactly at its step whether the simulator is driven headless or by the
    app's run thread in chunks; ``reset`` restores the values the simulator started with.
    Events: ``(t_ms, block, param, value)``; ``value`` may be one value per batch row.
    """

    def __init__(self, events: list[tuple[float, str, str, object]]):
        self.events = sorted(events, key=lambda e: e[0])

    def attach(self, sim: Simulator) -> Simulator:
        events = [(int(round(t / sim.dt)), b, p, v) for t, b, p, v in self.events]
        initial = {(b, p): sim.node(b).live[p][:, 0].tolist() for _, b, p, _ in events}
        plain_step, plain_reset = sim.step, sim.reset
        done = {"next": 0}

        def step(n: int = 1):
            while True:
                while done["next"] < len(events) and events[done["next"]][0] <= sim.t:
                    _, b, p, v = events[done["next"]]
                    sim.set_param(b, p, v)
                    done["next"] += 1
                if n <= 0:
                    return sim
                upcoming = events[done["next"]][0] if done["next"] < len(events) else None
                k = n if upcoming is None else min(n, upcoming - sim.t)
                plain_step(k)
                n -= k

        def reset():
            plain_reset()
            for (b, p), values in initial.items():
                sim.set_param(b, p, values)
            done["next"] = 0

        sim.step, sim.reset = step, reset
        return sim


@dataclass
class Demo:
    """One signature demo: everything the gallery and ``python -m workbench.demos`` need."""

    name: str
    title: str
    paper: str
    teaching: str  # 3-6 sentences: what to look at, which knob to turn, what will happen
    circuit_file: str  # under assets/demos/
    build: Callable[[], Circuit]  # writes the circuit file (python -m workbench.demos --write)
    outcome: Callable[..., Outcome]  # outcome(seconds=None): headless, full length by default
    dt: float = 1.0
    variants: dict[str, list] = field(default_factory=dict)  # batch rows compared side by side
    rows: list[str] = field(default_factory=lambda: ["run"])  # a label per batch row
    schedule: Schedule | None = None
    live: Callable[[Simulator], dict[str, list[float]]] | None = None  # metric -> one value per row
    live_title: str = ""
    metrics: list[str] = field(default_factory=list)  # the names ``live`` returns, in plot order
    full_seconds: float = 0.0  # biological seconds of the full-length outcome
    seed: int = 0
    speed: str = "max"  # the app's speed setting the demo opens with (see workbench.app.SPEEDS)

    @property
    def path(self) -> Path:
        return DEMO_DIR / self.circuit_file

    @property
    def thumbnail(self) -> Path:
        return DEMO_DIR / (Path(self.circuit_file).stem + ".png")

    def circuit(self) -> Circuit:
        """The demo's circuit, as its file in assets/demos/ has it."""
        return Circuit.load(self.path)

    def compile(self, circuit: Circuit | None = None, record="default", **overrides) -> Simulator:
        """Compile (the file's circuit by default) as the demo runs it: its dt, seed, batch rows
        and schedule (``schedule=`` another one, e.g. shorter phases)."""
        variants = overrides.pop("variants", self.variants) or None
        schedule = overrides.pop("schedule", self.schedule)
        sim = compile(circuit if circuit is not None else self.circuit(), dt=self.dt, seed=self.seed,
                      variants=variants, record=record, **overrides)
        if schedule is not None:
            schedule.attach(sim)
        return sim
