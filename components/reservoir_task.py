"""ReservoirTask: the two standard reservoir benchmarks as an input block with its teacher signals."""
import math

import numpy as np
import param
import torch

from .base import Block, Port, Probe


def mackey_glass(samples: int, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, power: float = 10.0,
                 every: float = 1.0, substeps: int = 10, discard: int = 1000, seed: int = 0,
                 noise: float = 0.01) -> np.ndarray:
    """The Mackey-Glass series ``dx/dt = beta x(t - tau) / (1 + x(t - tau)^power) - gamma x``
    (tau = 17: chaotic), integrated by Heun's method with ``substeps`` per time unit, sampled every
    ``every`` time units after a ``discard``-unit transient. The constant start history
    ``1.2 + noise (seed-drawn standard normal)`` makes each seed a different stretch of the attractor."""
    h = 1.0 / substeps
    lag = int(round(tau * substeps))
    stride = int(round(every * substeps))
    total = (discard + int(math.ceil(samples * every)) + 1) * substeps
    rng = np.random.default_rng(seed)
    x = np.empty(total + lag + 1)
    x[: lag + 1] = 1.2 + noise * rng.standard_normal(lag + 1)

    def f(now, delayed):
        return beta * delayed / (1.0 + delayed ** power) - gamma * now

    for i in range(lag, lag + total):
        slope = f(x[i], x[i - lag])
        guess = x[i] + h * slope
        x[i + 1] = x[i] + 0.5 * h * (slope + f(guess, x[i - lag + 1]))
    start = lag + discard * substeps
    return x[start: start + samples * stride: stride][:samples].copy()


class ReservoirTask(Block):
    """A scalar input ``u(t)`` and ``n_targets`` teacher signals for a readout.

    ``memory`` (Jaeger's short-term memory capacity): ``u`` i.i.d. uniform in [-1, 1]; teacher k
    is ``u(t - k)``, k = 1..n_targets; the capacity is the sum over k of the squared correlation
    between the readout's reconstruction and ``u(t - k)``.
    ``mackey_glass``: ``u`` is the Mackey-Glass series (tau = 17, sampled every time unit,
    centred as ``x - 0.9``); teacher k is ``u(t + k)``: prediction 1..n_targets steps ahead.
    The series is drawn from the circuit's seed and ``steps`` long; at its end the task stops:
    input and teachers are 0 from then on (before the start the memory teachers are 0 too).
    """

    category = "inputs"
    task = param.Selector(default="memory", objects=["memory", "mackey_glass"], doc="benchmark")
    n_targets = param.Integer(40, bounds=(1, 1000), doc="delays (memory) or steps ahead (prediction)")
    steps = param.Integer(6000, bounds=(10, 1_000_000), doc="length of the task (steps); then it stops")
    structural = ("task",)
    footprint = {"memory": (("steps", "n_targets"), ("steps", 2)), "build": (("steps", 20000),)}  # Mackey-Glass: a Python loop

    outputs = {"input": Port("value", size=1, doc="u(t)"),
               "teacher": Port("value", size="n_targets", doc="what the readout should output now")}
    probes = {"input": Probe("input", "trace", "u(t)"), "teacher": Probe("teacher", "trace", "teacher signals")}

    def init_state(self, ctx, p):
        length, m = self.steps + self.n_targets, self.n_targets
        if self.task == "memory":
            u = 2 * torch.rand(length, generator=ctx.generator, dtype=torch.float64) - 1
            lags = torch.arange(self.steps).unsqueeze(1) - torch.arange(1, m + 1)  # (steps, m): t - k
            teacher = torch.where(lags >= 0, u[lags.clamp(min=0)], torch.zeros((), dtype=u.dtype))
        else:
            seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=ctx.generator))
            u = torch.from_numpy(mackey_glass(length, seed=seed) - 0.9)
            teacher = u[torch.arange(self.steps).unsqueeze(1) + torch.arange(1, m + 1)]  # (steps, m): t + k
        return {"u": u.to(ctx.device, ctx.dtype), "teachers": teacher.to(ctx.device, ctx.dtype),
                "input": ctx.zeros(ctx.batch, 1), "teacher": ctx.zeros(ctx.batch, m)}

    def step(self, ctx, p, state, inputs):
        t = ctx.t
        if t >= self.steps:  # the task is over
            state["input"], state["teacher"] = ctx.zeros(ctx.batch, 1), ctx.zeros(ctx.batch, self.n_targets)
        else:
            state["input"] = state["u"][t].expand(ctx.batch, 1)
            state["teacher"] = state["teachers"][t].expand(ctx.batch, self.n_targets)
        return {"input": state["input"], "teacher": state["teacher"]}
