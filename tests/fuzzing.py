"""Fuzzing harness shared by the file fuzz tests: hostile mutations of shipped documents, and
the contract every input must meet: accepted and runs a few steps, or refused with the
project's own error; never another exception, never a hang.

``classify(run)`` runs one case under a time limit and says what happened; ``Tally`` counts
outcomes and keeps an example of each crash; ``mutated_json(...)`` is a hypothesis strategy of
mutated JSON texts. Other fuzzers (NIR files) can reuse ``classify``, ``Tally`` and
``hostile_values``.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import time
import traceback
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from hypothesis import strategies as st

from simulations.errors import BlockFailure, CircuitError, DivergenceError

DEMOS = sorted((Path(__file__).resolve().parent.parent / "assets" / "demos").glob("*.json"))
PROJECT_ERRORS = (CircuitError, DivergenceError)


class Hung(BaseException):
    """Raised by the alarm inside a case that ran past its time limit (a BaseException, so no
    ``except Exception`` in the code under test can swallow it)."""


@contextmanager
def time_limit(seconds: float):
    """Interrupt the body with ``Hung`` after ``seconds`` (main thread; Python-level code).
    A single C call that runs longer is not interrupted, but ``classify`` still reports it."""
    def alarm(signum, frame):
        raise Hung()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def classify(run, seconds: float = 5.0) -> tuple[str, str]:
    """Run ``run()``; returns (outcome, detail). Outcomes: "accepted", "refused" (a project
    error), "backstop" (refused by the catch-all naming a block: a check the blocks lack),
    "crashed" (any other exception) or "hung" (over ``seconds``)."""
    start = time.perf_counter()
    try:
        with time_limit(seconds):
            run()
    except Hung:
        return "hung", f"over {seconds} s"
    except BlockFailure as e:
        return "backstop", str(e)[:300]
    except PROJECT_ERRORS as e:
        return "refused", f"{type(e).__name__}: {str(e)[:300]}"
    except Exception as e:  # noqa: BLE001 - the point is to catch what escapes
        return "crashed", "".join(traceback.format_exception(e))[-2000:]
    elapsed = time.perf_counter() - start
    if elapsed > seconds:
        return "hung", f"took {elapsed:.1f} s"
    return "accepted", f"{elapsed:.2f} s"


class Tally:
    """Counts of outcomes, with the first few details of each non-accepted outcome."""

    def __init__(self):
        self.counts = Counter()
        self.examples: dict[str, list[str]] = {}

    def add(self, outcome: str, detail: str, case: str = "") -> None:
        self.counts[outcome] += 1
        if outcome != "accepted":
            self.examples.setdefault(outcome, [])
            if len(self.examples[outcome]) < 20:
                self.examples[outcome].append(f"{case[:300]}\n{detail}")

    def __str__(self):
        return ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))


# -- hostile values ----------------------------------------------------------------------------
EDGE_NUMBERS = [0, -1, 1, 2, 3, 7, 1000, 10 ** 6, 10 ** 9, 10 ** 12, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 30,
                0.0, -0.0, 0.5, 1e-137, 5e-324, -1e-9, 1e9, 1e12, 1e30, 1e308, -1e308,
                float("nan"), float("inf"), float("-inf")]
EDGE_STRINGS = ["", "nan", "inf", "-inf", "1e309", "abc", "0", "../../../etc/passwd", "text/alice_chapter1.txt",
                "__import__('os').system('echo pwned')", "x" * 300, "\x00", "é", "a.b", "a.spikes",
                "cells.current", "input.spikes"]


def hostile_values(depth: int = 2):
    """Values a hostile or careless file might hold in any field (built once per depth)."""
    if depth not in _HOSTILE:
        scalars = st.one_of(
            st.sampled_from(EDGE_NUMBERS),
            st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from(EDGE_STRINGS),
            st.text(max_size=12),
            st.booleans(),
            st.none(),
        )
        if depth == 0:
            _HOSTILE[depth] = scalars
        else:
            inner = hostile_values(depth - 1)
            _HOSTILE[depth] = st.one_of(
                scalars,
                st.lists(inner, max_size=5),
                st.lists(st.lists(st.sampled_from(EDGE_NUMBERS[:12]) | st.floats(-5, 5), max_size=5), max_size=4),
                st.dictionaries(st.sampled_from(["n", "name", "type", "params", "source", "target", "x"])
                                | st.text(max_size=5), inner, max_size=3),
            )
    return _HOSTILE[depth]


_HOSTILE: dict = {}


def _paths(value, prefix=()):
    """Every path (tuple of keys/indices) in a JSON document, the root included."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:12]):  # long tables: their first rows stand for the rest
            yield from _paths(v, prefix + (i,))


@lru_cache(maxsize=None)
def _text(path) -> str:
    return Path(path).read_text()


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutated_document(draw, sources=None):
    """A JSON document from ``sources`` (default: the demos) with 1-3 hostile edits."""
    sources = sources or DEMOS
    path_of = draw(st.sampled_from(sources))
    doc = json.loads(_text(path_of))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "scale", "scale", "scale", "delete", "insert", "duplicate"]))
        if not path:
            if action == "replace":
                doc = draw(hostile_values())
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if action == "replace":
            parent[key] = draw(hostile_values())
        elif action == "scale":
            value = parent[key]
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                factor = draw(st.sampled_from([0, -1, 2, 10, 1000, 10 ** 6, 10 ** 9, 1e-3, 1e-9, 0.5]))
                parent[key] = type(value)(value * factor) if isinstance(value, int) and isinstance(factor, int) \
                    else value * factor
            else:
                parent[key] = draw(hostile_values(0))
        elif action == "delete":
            del parent[key]
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "n", "params", "edges", "position", "wires"]) | st.text(max_size=6))] \
                = draw(hostile_values())
        elif action == "insert":
            parent.insert(key, draw(hostile_values()))
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return doc


def _to_text(doc) -> str:
    try:
        return json.dumps(doc, allow_nan=True)  # NaN and Infinity tokens: Python's json reads them
    except ValueError:  # an integer too long to print: say so in the file, as an attacker could
        return '{"format": "workbench-circuit", "version": ' + "9" * 5000 + "}"


TEXT_ATTACKS = [
    lambda text: "[" * 100_000 + "]" * 100_000,  # nesting bomb
    lambda text: text.replace('"version": 1', '"version": ' + "9" * 4301),  # huge-digit version
    lambda text: text[: len(text) // 2],  # truncated
    lambda text: text.replace('"params": {', '"params": {"n": 1e999, '),  # overflowing literal
    lambda text: '{"format": "workbench-circuit", "version": 1, "blocks": ' + "[" * 5000 + "]" * 5000 + "}",
    lambda text: text.encode("utf-16").decode("latin-1"),
]


@st.composite
def mutated_json(draw, sources=None):
    """JSON text: a mutated demo document, sometimes attacked at the text level."""
    text = _to_text(draw(mutated_document(sources)))
    if draw(st.integers(0, 19)) == 7:
        text = draw(st.sampled_from(TEXT_ATTACKS))(text)
    return text


def fuzz_cases() -> int:
    """Cases per fuzz test: 2,000 by default, ``WORKBENCH_FUZZ_CASES`` for a long run."""
    return int(os.environ.get("WORKBENCH_FUZZ_CASES", "2000"))
