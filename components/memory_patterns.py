"""Shared helpers for the memory blocks (no block here): the seeded pattern sets that a
memory stores and a PatternCue presents, and how a cue is corrupted.

A memory block and a PatternCue with the same ``n_patterns``, size, ``kind``, ``k`` and ``seed``
hold exactly the same patterns, so a circuit can cue a memory with corrupted copies of what it
stores without shipping the patterns in the file.
"""
from __future__ import annotations

import torch


def stored_patterns(n_patterns: int, size: int, kind: str = "bipolar", k: int = 0, seed: int = 0,
                    explicit: list | None = None) -> torch.Tensor:
    """(n_patterns, size) float64 patterns: ``bipolar`` entries +-1 (each with probability 1/2)
    or ``sparse`` binary codes with exactly ``k`` of ``size`` entries 1. ``explicit`` rows, if
    given, are used as they are."""
    if explicit:
        return torch.tensor(explicit, dtype=torch.float64).reshape(len(explicit), size)
    g = torch.Generator().manual_seed(int(seed))
    if kind == "bipolar":
        return torch.where(torch.rand(n_patterns, size, generator=g) < 0.5, -1.0, 1.0).double()
    if kind == "sparse":
        order = torch.rand(n_patterns, size, generator=g).argsort(dim=1)[:, :k]
        return torch.zeros(n_patterns, size, dtype=torch.float64).scatter_(1, order, 1.0)
    raise ValueError(f"unknown pattern kind {kind!r}; expected 'bipolar' or 'sparse'")


def corrupt(pattern: torch.Tensor, fraction: float, kind: str, generator: torch.Generator) -> torch.Tensor:
    """A copy of one pattern (1-D) with ``fraction`` of it corrupted.

    ``bipolar``: round(fraction * size) entries, chosen at random, change sign.
    ``sparse``: round(fraction * k) of the k active entries move to random inactive positions
    (the code keeps exactly k active entries).
    """
    cue = pattern.clone()
    size = len(cue)
    if kind == "bipolar":
        m = int(round(fraction * size))
        flip = torch.randperm(size, generator=generator)[:m].to(cue.device)
        cue[flip] = -cue[flip]
        return cue
    active = cue.nonzero().flatten().cpu()
    inactive = (cue == 0).nonzero().flatten().cpu()
    m = min(int(round(fraction * len(active))), len(inactive))
    off = active[torch.randperm(len(active), generator=generator)[:m]]
    on = inactive[torch.randperm(len(inactive), generator=generator)[:m]]
    cue[off.to(cue.device)] = 0.0
    cue[on.to(cue.device)] = 1.0
    return cue
