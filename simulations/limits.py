"""How much memory and work a circuit may ask for, and the check made before building it.

Every block estimates its memory (bytes), its build work (operations done once at compile:
training, sampling connectivity) and its work per step from its declarations
(``Block.cost``), before anything is allocated. A circuit over a limit is refused with a
``ResourceLimitError`` that names the block and gives the estimate, instead of exhausting the
machine or hanging. Limits: ``WORKBENCH_MAX_MEMORY`` (bytes; suffixes K, M, G, T; default half
the machine's RAM) and ``WORKBENCH_MAX_WORK`` (operations; default 1e11, a minute or two of
CPU); the work of one step may be at most a thousandth of it (a step of 0.1 s). ``limits(...)`` overrides them
for a block of code (tests, fuzzing).
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager

from .errors import ResourceLimitError

DEFAULT_WORK = 1e11  # an operation is about a nanosecond of CPU: some 100 s
STEPS_PER_BUDGET = 1000  # one step may cost at most max_work / 1000
_override: dict[str, float] = {}


def _machine_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 8 * 2 ** 30


def parse_size(text: str) -> float:
    """``"512M"``, ``"4G"``, ``"1e9"`` -> a number (bytes or operations)."""
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([kKmMgGtT]?)[bB]?\s*", str(text))
    if not m:
        raise ValueError(f"cannot read {text!r} as a size (e.g. 512M, 4G, 1e9)")
    return float(m.group(1)) * 1024 ** " KMGT".index(m.group(2).upper() or " ")


def max_memory() -> float:
    """Bytes a compiled circuit may ask for."""
    if "memory" in _override:
        return _override["memory"]
    env = os.environ.get("WORKBENCH_MAX_MEMORY")
    return parse_size(env) if env else _machine_memory() / 2


def max_work() -> float:
    """Operations a compile may do (and a thousand steps of the circuit)."""
    if "work" in _override:
        return _override["work"]
    env = os.environ.get("WORKBENCH_MAX_WORK")
    return parse_size(env) if env else DEFAULT_WORK


@contextmanager
def limits(memory: float | None = None, work: float | None = None):
    """Run a block of code under other limits (bytes, operations)."""
    saved = dict(_override)
    if memory is not None:
        _override["memory"] = float(memory)
    if work is not None:
        _override["work"] = float(work)
    try:
        yield
    finally:
        _override.clear()
        _override.update(saved)


def _human(n: float, unit: str) -> str:
    if unit == "B":
        for k, suffix in enumerate(("B", "KiB", "MiB", "GiB", "TiB", "PiB")):
            if n < 1024 ** (k + 1) or suffix == "PiB":
                return f"{n / 1024 ** k:.3g} {suffix}"
    return f"{n:.3g} operations"


def estimate(blocks: dict, contexts: dict) -> dict[str, dict[str, float]]:
    """Per block: its estimated memory (bytes), build work and step work."""
    return {name: block.cost(contexts[name]) for name, block in blocks.items()}


def check_budget(blocks: dict, contexts: dict) -> float:
    """Raise ResourceLimitError (naming the biggest block) if the circuit is over a limit;
    returns the estimated memory (bytes)."""
    costs = estimate(blocks, contexts)
    memory, work = max_memory(), max_work()
    for kind, limit, what in (("memory", memory, "memory"), ("build", work, "work to build it"),
                              ("step", work / STEPS_PER_BUDGET, "work per step")):
        total = sum(c[kind] for c in costs.values())
        if total > limit:
            name = max(costs, key=lambda n: costs[n][kind])
            unit = "B" if kind == "memory" else "ops"
            setting = "WORKBENCH_MAX_MEMORY" if kind == "memory" else "WORKBENCH_MAX_WORK"
            raise ResourceLimitError(
                f"{name} ({type(blocks[name]).__name__}): the circuit would need about {_human(total, unit)} of "
                f"{what} ({_human(costs[name][kind], unit)} for {name}), over the limit of {_human(limit, unit)}; "
                f"make it smaller or raise {setting}"
            )
    return sum(c["memory"] for c in costs.values())


def recorder_bytes(recorder, value) -> int:
    """Memory a sample recorder's ring buffer will take for ``value`` (spike lists are small)."""
    capacity, neurons = getattr(recorder, "capacity", 0), getattr(recorder, "neurons", None)
    if not hasattr(recorder, "samples"):
        return 0
    numel = value.numel() if neurons is None or value.dim() == 0 else value.numel() // value.shape[-1] * len(neurons)
    return capacity * numel * value.element_size()
