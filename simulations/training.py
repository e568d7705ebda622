"""Train a circuit by gradient: surrogate-gradient BPTT through the simulator's own torch path.

Training runs the circuit on the ordinary ``Simulator`` with three changes that leave every
forward value as it is:
  - blocks run their torch code, not the compiled kernels (``native.torch_path``), so autograd
    sees every operation;
  - each neuron's ``spike`` (components/base.py) passes a surrogate gradient, chosen per block;
  - the values being trained are leaf tensors that an optimiser updates.
Projections propagate through every synapse (each weight times its presynaptic spike, 0 or 1)
instead of gathering only the synapses of neurons that fired, so the gradient reaches neurons
that did not fire; the sum is taken in the same order, so the currents are the same numbers.
When training ends the values are written back into the circuit document: a trained projection
becomes an explicit edge list with its weights, so its file keeps them, and inference runs on
the compiled fast path with the spikes training saw (tests/test_training.py).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import param
import torch
import torch.nn.functional as F

from components import native
from components.base import SURROGATES, surrogate as surrogate_mode
from components.elm_neuron import PARAM_NAMES as ELM_PARAMS
from components.elm_neuron import ELMNeuron
from components.projection import Projection

from .circuit import Circuit
from .errors import CircuitError
from .simulator import Simulator

OPTIMISERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
              "rmsprop": torch.optim.RMSprop}


# -- losses ----------------------------------------------------------------------------------------
class Loss:
    """A loss on one probe (``"block.probe"``), optionally only within ``window`` = (t0, t1) ms.

    ``__call__`` gets the probe's values over a stretch of steps, (batch, steps, ...), the
    stretch's first step ``t0``, the batch's targets and ``dt``; it returns None when the
    stretch misses the window (truncated BPTT cuts a run into stretches).
    """

    needs_target = True

    def __init__(self, probe: str, window: tuple[float, float] | None = None):
        self.probe, self.window = probe, window

    def _span(self, t0: int, length: int, dt: float) -> slice | None:
        """The part of a stretch of ``length`` steps from ``t0`` inside the window."""
        if self.window is None:
            return slice(0, length)
        first, last = (int(round(w / dt)) for w in self.window)
        lo, hi = max(first - t0, 0), min(last - t0, length)
        return slice(lo, hi) if hi > lo else None

    def __call__(self, signal, target, t0: int, dt: float):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.probe!r})"


class SpikeCountCrossEntropy(Loss):
    """Cross-entropy of class labels against softmax(spike counts): neuron i of the probed
    population votes for class i; the prediction is the neuron that fired most."""

    def __call__(self, signal, target, t0, dt):
        span = self._span(t0, signal.shape[1], dt)
        return None if span is None else F.cross_entropy(signal[:, span].sum(1), target)

    def predict(self, signal, dt):
        return signal[:, self._span(0, signal.shape[1], dt)].sum(1).argmax(1)


class TraceMSE(Loss):
    """Mean squared error of a sampled probe (a membrane, an ELM output) against target traces
    of shape (batch, steps, ...)."""

    def __call__(self, signal, target, t0, dt):
        span = self._span(t0, signal.shape[1], dt)
        if span is None:
            return None
        target = target[:, t0: t0 + signal.shape[1]]
        return F.mse_loss(signal[:, span], target[:, span])


class TargetRate(Loss):
    """Squared difference (Hz^2, mean over neurons) between each neuron's firing rate and
    ``rate`` Hz, times ``weight``: a regulariser that keeps a population active, or a task."""

    needs_target = False

    def __init__(self, probe: str, rate: float, weight: float = 1.0, window=None):
        super().__init__(probe, window)
        self.rate, self.weight = float(rate), float(weight)

    def __call__(self, signal, target, t0, dt):
        span = self._span(t0, signal.shape[1], dt)
        if span is None:
            return None
        hz = signal[:, span].mean(1) * (1000.0 / dt)
        return self.weight * ((hz - self.rate) ** 2).mean()


# -- what can be trained ---------------------------------------------------------------------------
class _Scalar:
    """A live numeric parameter of a block (a time constant, a threshold): one value per block."""

    def __init__(self, name, block, pname, dtype, device):
        self.key, self.name, self.pname = f"{name}.{pname}", name, pname
        self.bounds = block.param[pname].bounds or (None, None)
        self.tensor = torch.tensor([[float(getattr(block, pname))]], dtype=dtype, device=device, requires_grad=True)

    def leaves(self):
        return [self.tensor]

    def install(self, sim):
        node = sim.nodes[self.name]
        node.live[self.pname] = self.tensor.expand(sim.batch, 1)

    def clamp(self):
        lo, hi = self.bounds
        self.tensor.data.clamp_(min=lo, max=hi)

    def value(self):
        lo, hi = self.bounds  # a bound in float64 can lie just beyond its float32 neighbour
        v = float(self.tensor.detach())
        return min(max(v, lo if lo is not None else v), hi if hi is not None else v)

    def write(self, block) -> dict:
        old = {self.pname: getattr(block, self.pname)}
        setattr(block, self.pname, self.value())
        return old


class _ProjectionWeights:
    """Every synapse's weight of a projection."""

    def __init__(self, name, sim):
        self.key, self.name, self.dt = f"{name}.weights", name, sim.dt
        syn = sim.nodes[name].state["synapses"]
        self.tensor = syn.w[:1].detach().clone().requires_grad_(True)
        self.synapses = syn

    def leaves(self):
        return [self.tensor]

    def install(self, sim):
        state = sim.nodes[self.name].state
        state["synapses"].w = state["w"] = self.tensor
        self.synapses = state["synapses"]

    def clamp(self):
        pass

    def value(self):
        return self.tensor.detach()[0].cpu()

    def write(self, block) -> dict:
        syn = self.synapses
        old = {"connectivity": block.connectivity, "edges": list(block.edges)}
        rows = [[int(i), int(j), float(w)] for i, j, w in zip(syn.pre.tolist(), syn.post.tolist(), self.value().tolist())]
        if syn.delay is not None:
            rows = [r + [d * self.dt] for r, d in zip(rows, syn.delay.tolist())]
        block.edges, block.connectivity = rows, "edges"
        return old


class _ElmWeights:
    """The internal parameters of ELM neurons (input weights, memory timescales, MLP, readout)."""

    def __init__(self, name, sim):
        self.key, self.name = f"{name}.weights", name
        prm = sim.nodes[name].state["params"]
        self.tensors = {k: prm[k].detach().clone().requires_grad_(True) for k in ELM_PARAMS}

    def leaves(self):
        return list(self.tensors.values())

    def install(self, sim):
        sim.nodes[self.name].state["params"] = dict(self.tensors)

    def clamp(self):
        pass

    def value(self):
        return {k: v.detach().cpu() for k, v in self.tensors.items()}

    def write(self, block) -> dict:
        old = {"weights": dict(block.weights)}
        block.weights = {k: v.float().tolist() for k, v in self.value().items()}
        return old


def trainable_names(circuit: Circuit) -> list[str]:
    """Everything in ``circuit`` that can be marked trainable, as ``"block.name"``."""
    names = []
    for name, block in circuit.blocks.items():
        if isinstance(block, (Projection, ELMNeuron)):
            names.append(f"{name}.weights")
        names += [f"{name}.{p}" for p in block.live_params()]
    return names


# -- the differentiable projection ---------------------------------------------------------------
def _projection_step(ctx, p, state, inputs):
    """``Projection.step`` with every synapse taking part (weight x presynaptic spike), so the
    gradient reaches presynaptic neurons that did not fire; same sums in the same order."""
    syn, spikes = state["synapses"], inputs["spikes"]
    arriving = spikes[:, syn.pre] * syn.w  # (batch, synapses)
    current = state["current"] * p.decay
    queue = state.get("in_flight")
    if queue is None:
        current = current.index_add(1, syn.post, arriving)
    else:
        slots, batch, n_post = queue.shape
        slot = (ctx.t + syn.delay) % slots
        flat = queue.permute(1, 0, 2).reshape(batch, slots * n_post).index_add(1, slot * n_post + syn.post, arriving)
        queue = flat.reshape(batch, slots, n_post).permute(1, 0, 2)
        now = ctx.t % slots
        current = current + queue[now]
        keep = torch.ones(slots, 1, 1, dtype=queue.dtype, device=queue.device)
        keep[now] = 0
        state["in_flight"] = queue * keep
    state["current"] = current
    return {"current": current}


def _detached(value):
    if isinstance(value, torch.Tensor):
        return value.detach() if value.requires_grad and not value.is_leaf else value
    return value


@dataclass
class History:
    """What training did, one entry per epoch (what the GUI's curve shows)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    test_accuracy: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _as_data(data, dtype, device):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("data should be a pair (inputs, targets): inputs (samples, steps, width)")
    x, y = data
    x = torch.as_tensor(x).to(device, dtype)
    if x.dim() != 3:
        raise ValueError(f"inputs should have shape (samples, steps, width), got {tuple(x.shape)}")
    if y is not None:  # class labels stay integers, target traces take the training dtype
        y = torch.as_tensor(y).to(device)
        y = y.long() if not y.is_floating_point() else y.to(dtype)
        if len(y) != len(x):
            raise ValueError(f"{len(x)} inputs but {len(y)} targets")
    return x, y


class Trainer:
    """Trains the values ``trainable`` (``"block.param"``, ``"projection.weights"``,
    ``"elm.weights"``; default: every projection's weights) of ``circuit`` to lower ``loss``.

    ``input`` names the block whose output is replaced by the data's inputs, one row of
    (steps, width) per sample. ``surrogate`` is a surrogate name for every block or a dict
    ``{block: name or (name, slope)}``; ``slope`` is in 1/(units of v - v_th), i.e. 1/mV.
    ``tbptt``: steps per truncated-BPTT chunk (gradients stop at chunk borders; one optimiser
    step per minibatch); None back-propagates through the whole sample. ``lr`` is one rate
    or a dict by trainable name (time constants in ms usually want larger steps than weights);
    every epoch multiplies the rates by ``lr_decay``.
    """

    def __init__(self, circuit: Circuit, input: str, loss: Loss | Sequence[Loss], trainable: Sequence[str] | None = None,
                 surrogate: str | dict = "fast_sigmoid", slope: float = 1.0, optimiser: str = "adam",
                 lr: float | dict = 1e-3, lr_decay: float = 1.0, batch_size: int = 32, tbptt: int | None = None,
                 dt: float = 1.0,
                 seed: int = 0, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.circuit = circuit
        self.losses = [loss] if isinstance(loss, Loss) else list(loss)
        if not self.losses:
            raise ValueError("give at least one loss")
        self.batch_size, self.tbptt, self.dt, self.seed = int(batch_size), tbptt, float(dt), int(seed)
        if tbptt is not None and int(tbptt) < 1:
            raise ValueError(f"tbptt should be a positive number of steps, got {tbptt}")
        self.device, self.dtype = torch.device(device), dtype
        circuit.validate()
        block = circuit.block(input)  # a clear error if there is no such block
        ports = [k for k, port in block.outputs.items() if port.kind != "plasticity"]
        if len(ports) != 1:
            raise CircuitError(f"input block {input!r} should have one output to replace with data; it has {ports}")
        self.input, self.input_port = input, ports[0]
        for w in circuit.wires:
            if circuit.block(w.source).outputs[w.output].kind == "plasticity":
                raise CircuitError(f"{w.source} is a learning rule acting on {w.target}; gradient training "
                                   "does not combine with learning rules: remove the rule to train")
        self.sim = Simulator(circuit, dt=self.dt, batch=self.batch_size, seed=self.seed, device=self.device,
                             dtype=dtype, record="none")
        for ls in self.losses:
            if ls.probe not in self.sim.probe_paths():
                raise CircuitError(f"loss on {ls.probe!r}: no such probe; probes: {', '.join(self.sim.probe_paths())}")
        self.modes = self._surrogates(surrogate, slope)
        self._wrap_steps()
        self.params = self._trainables(trainable)
        groups = []
        for t in self.params:
            rate = lr.get(t.key, lr.get("default", 1e-3)) if isinstance(lr, dict) else lr
            groups.append({"params": t.leaves(), "lr": float(rate)})
        if optimiser not in OPTIMISERS:
            raise ValueError(f"unknown optimiser {optimiser!r}; expected one of {sorted(OPTIMISERS)}")
        self.optimiser = OPTIMISERS[optimiser](groups)
        self.schedule = torch.optim.lr_scheduler.ExponentialLR(self.optimiser, gamma=float(lr_decay))
        self.history = History()
        self._x = None
        self._checked_grads = False
        self.soft = False  # True: smooth spikes forward too (finite-difference checks only)

    # -- set-up ----------------------------------------------------------------------------------
    def _surrogates(self, choice, slope) -> dict[str, tuple[str, float]]:
        modes = {}
        for name in self.sim.nodes:
            pick = choice.get(name, "fast_sigmoid") if isinstance(choice, dict) else choice
            name_, k = (pick, slope) if isinstance(pick, str) else pick
            if name_ not in SURROGATES:
                raise ValueError(f"{name}: unknown surrogate {name_!r}; expected one of {sorted(SURROGATES)}")
            modes[name] = (name_, float(k))
        if isinstance(choice, dict):
            unknown = set(choice) - set(self.sim.nodes)
            if unknown:
                raise CircuitError(f"surrogate given for unknown blocks {sorted(unknown)}")
        return modes

    def _wrap_steps(self):
        for name, node in self.sim.nodes.items():
            if name == self.input:
                port = self.input_port
                node.step = lambda ctx, p, state, inputs, port=port: {port: self._x[:, ctx.t]}
                continue
            step = _projection_step if type(node.block).step is Projection.step else node.step

            def stepped(ctx, p, state, inputs, step=step, mode=self.modes[name]):
                with surrogate_mode(*mode, soft=self.soft):
                    return step(ctx, p, state, inputs)
            node.step = stepped

    def _trainables(self, names):
        names = list(names) if names is not None else [
            f"{n}.weights" for n, b in self.circuit.blocks.items() if isinstance(b, Projection)]
        if not names:
            raise ValueError("nothing to train: mark at least one trainable value")
        allowed = trainable_names(self.circuit)
        found = []
        for key in names:
            name, _, pname = key.partition(".")
            block = self.circuit.block(name)
            if key not in allowed:
                raise CircuitError(f"{key} cannot be trained; trainable values of {name}: "
                                   f"{', '.join(k for k in allowed if k.startswith(name + '.')) or 'none'}")
            if name == self.input:
                raise CircuitError(f"{key}: {name} is the input, replaced by the data")
            if pname == "weights" and isinstance(block, Projection):
                found.append(_ProjectionWeights(name, self.sim))
            elif pname == "weights":
                found.append(_ElmWeights(name, self.sim))
            else:
                found.append(_Scalar(name, block, pname, self.dtype, self.device))
        return found

    def _install(self):
        """Put the trainable leaves in the simulator (after a reset) and derive from them again."""
        for t in self.params:
            t.install(self.sim)
        for node in self.sim.nodes.values():
            node.params = self.sim._derive(node)

    def _reset(self):
        for t in self.params:  # live values as leaves before reset derives and builds state
            if isinstance(t, _Scalar):
                t.install(self.sim)
        self.sim.reset()
        self._install()

    def _detach_state(self):
        sim = self.sim
        for node in sim.nodes.values():
            for k, v in node.state.items():
                node.state[k] = _detached(v)
        for k, v in sim.outputs.items():
            sim.outputs[k] = _detached(v)
        self._install()

    # -- running -----------------------------------------------------------------------------------
    def _run(self, x, y, train: bool):
        """One minibatch: returns (summed loss, predicted classes or None)."""
        sim, n = self.sim, len(x)
        if n < self.batch_size:  # pad to the compiled batch; padding rows are left out of losses
            x = torch.cat([x, x.new_zeros(self.batch_size - n, *x.shape[1:])])
        self._x = x
        self._reset()
        steps = x.shape[1]
        chunk = int(self.tbptt or steps)
        probes = sorted({ls.probe for ls in self.losses})
        whole = {path: [] for path in probes}
        total = 0.0
        for t0 in range(0, steps, chunk):
            seen = {path: [] for path in probes}
            for _ in range(min(chunk, steps - t0)):
                sim.step(1)
                for path in probes:
                    seen[path].append(sim.probe_value(path)[:n])
            signals = {path: torch.stack(v, 1) for path, v in seen.items()}
            target = None if y is None else y[:n]
            terms = [ls(signals[ls.probe], target, t0, self.dt) for ls in self.losses]
            terms = [t for t in terms if t is not None]
            if terms:
                loss = sum(terms)
                if train and loss.requires_grad:
                    loss.backward()
                total += float(loss.detach())
            for path in probes:
                whole[path].append(signals[path].detach())
            if train and t0 + chunk < steps:
                self._detach_state()
        predicted = None
        for ls in self.losses:
            if isinstance(ls, SpikeCountCrossEntropy):
                predicted = ls.predict(torch.cat(whole[ls.probe], 1), self.dt)
                break
        return total, predicted

    def _check_gradients(self):
        for t in self.params:
            if any(leaf.grad is None for leaf in t.leaves()):
                raise CircuitError(f"{t.key} gets no gradient from the loss: nothing differentiable links it "
                                   f"to {', '.join(ls.probe for ls in self.losses)}")
        self._checked_grads = True

    def epoch(self, data, test_data=None, on_batch: Callable[[int, int, float], bool | None] | None = None) -> History:
        """One pass over ``data`` (shuffled, seeded by epoch), then scores on ``test_data``.

        ``on_batch(done, total, loss)`` is called after every minibatch; returning False stops
        the epoch early (the GUI's pause)."""
        x, y = _as_data(data, self.dtype, self.device)
        g = torch.Generator().manual_seed(self.seed * 1000 + len(self.history.loss))
        order = torch.randperm(len(x), generator=g).to(x.device)
        start = time.perf_counter()
        losses, correct, count = [], 0, 0
        batches = range(0, len(x), self.batch_size)
        with native.torch_path(), torch.enable_grad():
            for k, b in enumerate(batches):
                idx = order[b: b + self.batch_size]
                self.optimiser.zero_grad(set_to_none=True)
                loss, predicted = self._run(x[idx], None if y is None else y[idx], train=True)
                if not self._checked_grads:
                    self._check_gradients()
                self.optimiser.step()
                for t in self.params:
                    t.clamp()
                losses.append(loss)
                if predicted is not None:
                    correct += int((predicted == y[idx]).sum())
                    count += len(idx)
                if on_batch is not None and on_batch(k + 1, len(batches), loss) is False:
                    break
        self.schedule.step()
        seconds = time.perf_counter() - start
        test_loss, test_acc = self.evaluate(test_data) if test_data is not None else (None, None)
        h = self.history  # test_accuracy last: a reader in another thread checks its length
        h.loss.append(float(np.mean(losses)))
        h.accuracy.append(correct / count if count else None)
        h.seconds.append(seconds)
        h.test_loss.append(test_loss)
        h.test_accuracy.append(test_acc)
        return h

    def evaluate(self, data) -> tuple[float, float | None]:
        """Mean loss and accuracy (None without a classification loss) on ``data``, no gradient."""
        x, y = _as_data(data, self.dtype, self.device)
        losses, correct = [], 0
        with native.torch_path(), torch.no_grad():
            for b in range(0, len(x), self.batch_size):
                yb = None if y is None else y[b: b + self.batch_size]
                loss, predicted = self._run(x[b: b + self.batch_size], yb, train=False)
                losses.append(loss * len(x[b: b + self.batch_size]))
                if predicted is not None:
                    correct += int((predicted == yb).sum())
        has_classes = any(isinstance(ls, SpikeCountCrossEntropy) for ls in self.losses)
        return float(np.sum(losses) / len(x)), (correct / len(x) if has_classes else None)

    def outputs(self, inputs, probe: str) -> torch.Tensor:
        """The values of ``probe`` (samples, steps, ...) for ``inputs`` on the training path."""
        x, _ = _as_data((inputs, None), self.dtype, self.device)
        out = []
        with native.torch_path(), torch.no_grad():
            for b in range(0, len(x), self.batch_size):
                xb = x[b: b + self.batch_size]
                n = len(xb)
                self._x = torch.cat([xb, xb.new_zeros(self.batch_size - n, *xb.shape[1:])])
                self._reset()
                seen = []
                for _ in range(xb.shape[1]):
                    self.sim.step(1)
                    seen.append(self.sim.probe_value(probe)[:n].clone())
                out.append(torch.stack(seen, 1))
        return torch.cat(out)

    # -- results back into the document ------------------------------------------------------------
    def values(self) -> dict:
        """The trained values now: scalars as floats, weights as tensors."""
        return {t.key: t.value() for t in self.params}

    def write_back(self, circuit: Circuit | None = None) -> dict[str, dict]:
        """Write the trained values into ``circuit`` (default: the one trained). Returns the
        previous parameter values by block, which ``restore`` puts back (undo)."""
        circuit = circuit or self.circuit
        previous: dict[str, dict] = {}
        for t in self.params:
            previous.setdefault(t.name, {}).update(t.write(circuit.block(t.name)))
        return previous


def restore(circuit: Circuit, previous: dict[str, dict]) -> None:
    """Undo ``write_back``: set each block's parameters to the values it returned."""
    for name, values in previous.items():
        block = circuit.block(name)
        with param.parameterized.batch_call_watchers(block):
            for k, v in values.items():
                setattr(block, k, v)


def train(circuit: Circuit, data, loss, *, input: str, epochs: int = 10, test_data=None,
          callback: Callable[[History], bool | None] | None = None, **options) -> History:
    """Train ``circuit`` on ``data`` = (inputs (samples, steps, width), targets) and write the
    trained values back into it. ``options`` go to ``Trainer`` (trainable, surrogate, slope,
    optimiser, lr, lr_decay, batch_size, tbptt, dt, seed, device, dtype). ``callback(history)`` runs
    after each epoch; returning False stops early. Returns the per-epoch history."""
    trainer = Trainer(circuit, input, loss, **options)
    for _ in range(int(epochs)):
        trainer.epoch(data, test_data)
        if callback is not None and callback(trainer.history) is False:
            break
    trainer.write_back()
    return trainer.history
