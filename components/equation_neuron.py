"""Equation-defined neurons: a block whose maths is a model declaration (components/equations.py).

``EquationNeuron`` takes any declaration, typed in Python or the GUI and stored in the circuit
file as data. Each model of the library (components/neuron_models.py) is also a block of its
own (``Izhikevich``, ``IafPscExp``, ...) whose parameters are live knobs in the inspector.

One step, in Brian2's schedule (update, threshold, reset; a spike reaches its targets' state
at the start of the next step):
  1. the refractory countdown ticks; neurons whose countdown is 0 are active;
  2. weights arriving on ``exc``/``inh`` are added to the variables the model names (a jump into
     a variable held during refractoriness is dropped while the neuron is refractory, as NEST);
     a model declaring ``arrival='threshold'`` adds them after step 3 instead (NEST's delta
     synapse: the jump is not integrated over the step it arrives in);
  3. the state is integrated over dt: linear models exactly, ``x <- P x + Q u + c`` with
     ``[P Q c] = exp(M dt)`` (the propagator of the affine system with the input current u held
     over the step; NEST's exact integration after Rotter & Diesmann 1999, Brian2's ``exact``);
     nonlinear ones with the declared scheme (euler, rk2 = midpoint, rk4), as Brian2 writes them.
     Variables flagged ``(unless refractory)`` stay put while the neuron is refractory;
  4. threshold (on active neurons), then the reset statements on the neurons that spiked, and
     the countdown restarts at round(refractory / dt).
"""
from __future__ import annotations

import ast
import ctypes
import math
from typing import ClassVar

import param
import torch

from . import equation_codegen as codegen
from . import equations as eq
from . import native
from .base import Block, Port, Probe
from .neuron_models import LIBRARY


def _torch_fn(node):
    """A closure computing the (whitelisted) expression ``node`` from a dict of tensors."""
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.UnaryOp):
        f = _torch_fn(node.operand)
        return (lambda env: -f(env)) if isinstance(node.op, ast.USub) else f
    if isinstance(node, ast.BinOp):
        a, b = _torch_fn(node.left), _torch_fn(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return lambda env: a(env) + b(env)
        if isinstance(op, ast.Sub):
            return lambda env: a(env) - b(env)
        if isinstance(op, ast.Mult):
            return lambda env: a(env) * b(env)
        if isinstance(op, ast.Div):
            return lambda env: a(env) / b(env)
        if isinstance(node.right, ast.Constant) and node.right.value in (2, 3):  # as the C code: x*x(*x)
            return (lambda env: (lambda x: x * x)(a(env))) if node.right.value == 2 else \
                (lambda env: (lambda x: x * x * x)(a(env)))
        return lambda env: a(env) ** b(env)
    if isinstance(node, ast.Call):
        fs = [_torch_fn(arg) for arg in node.args]
        name = node.func.id
        if name in ("min", "max"):
            pick = torch.minimum if name == "min" else torch.maximum

            def two(env):
                x, y = fs[0](env), fs[1](env)
                if not isinstance(x, torch.Tensor) and not isinstance(y, torch.Tensor):
                    return min(x, y) if name == "min" else max(x, y)
                ref = x if isinstance(x, torch.Tensor) else y
                return pick(torch.as_tensor(x, dtype=ref.dtype), torch.as_tensor(y, dtype=ref.dtype))
            return two
        tfn, mfn = getattr(torch, name), getattr(math, name) if name != "abs" else abs
        return lambda env: (lambda x: tfn(x) if isinstance(x, torch.Tensor) else mfn(x))(fs[0](env))
    raise eq.EquationError(f"cannot compute {type(node).__name__}")  # unreachable after checking


class _TorchModel:
    """The declaration's expressions as torch closures."""

    def __init__(self, cm: eq.Compiled):
        self.subs = [(s.name, _torch_fn(s.expr)) for s in cm.subs]
        self.odes = [(s.name, _torch_fn(s.expr), s.unless_refractory) for s in cm.odes]
        self.lhs, self.rhs = _torch_fn(cm.threshold[0]), _torch_fn(cm.threshold[2])
        self.resets = [_torch_fn(r.expr) for r in cm.resets]


def spike_condition(lhs, op: str, rhs) -> torch.Tensor:
    """The threshold crossing, in one place (a surrogate-gradient path replaces this)."""
    if op == ">":
        return lhs > rhs
    if op == ">=":
        return lhs >= rhs
    if op == "<":
        return lhs < rhs
    return lhs <= rhs


class _EquationNeuronBase(Block):
    """The machinery shared by the generic block and the library's blocks."""

    category = "neurons"
    declaration: ClassVar[eq.NeuronModel | None] = None
    n = param.Integer(100, bounds=(1, None), doc="number of neurons")

    inputs = {
        "current": Port("current", doc="input current (pA), held over the step; feeds the model's '(input)' current"),
        "exc": Port("current", doc="summed weights of arriving excitatory spikes (use a 'jump' projection)"),
        "inh": Port("current", doc="summed weights of arriving inhibitory spikes (use a 'jump' projection)"),
    }
    outputs = {
        "spikes": Port("spikes", doc="1.0 where a neuron spiked this step"),
        "v": Port("value", doc="membrane potential (mV)"),
    }
    probes = {
        "spikes": Probe("spikes", "raster", "spike raster"),
        "v": Probe("v", "trace", "membrane potential (mV)"),
    }

    # -- the declaration ------------------------------------------------------------------------
    def model_declaration(self) -> eq.NeuronModel:
        return self.declaration

    def compiled(self) -> eq.Compiled:
        """The checked declaration with its torch closures, built once per declaration."""
        cm = self.__dict__.get("_compiled")
        if cm is None:
            cm = eq.compile_model(self.model_declaration())
            cm.torch = _TorchModel(cm)
            self.__dict__["_compiled"] = cm
        return cm

    def check(self, ctx):
        cm = self.compiled()
        if "v" not in cm.state:
            raise ValueError(f"model {cm.model.name!r} has no state variable 'v' (the membrane potential output)")
        for port in ("exc", "inh"):
            if port in ctx.wired and port not in cm.model.inputs:
                raise ValueError(f"model {cm.model.name!r} takes no '{port}' input (it declares: "
                                 f"{', '.join(cm.model.inputs) or 'none'})")
        if "current" in ctx.wired and not cm.currents:
            raise ValueError(f"model {cm.model.name!r} declares no '(input)' current for the 'current' port")

    def parameter_values(self, p) -> dict:
        """Each model parameter as a (batch or 1, 1) float64-able tensor or a float."""
        cm = self.compiled()
        return {k: getattr(p, k) if hasattr(p, k) else float(cm.model.parameters[k]) for k in cm.params}

    # -- derived quantities ---------------------------------------------------------------------
    def derive(self, p, dt):
        cm = self.compiled()
        values = self.parameter_values(p)
        rows = max([v.shape[0] for v in values.values() if isinstance(v, torch.Tensor)] or [1])
        like = next((v for v in values.values() if isinstance(v, torch.Tensor)), None)
        dtype = like.dtype if like is not None else torch.float64
        device = like.device if like is not None else torch.device("cpu")

        def row(b):
            return {k: float(v[min(b, v.shape[0] - 1), 0]) if isinstance(v, torch.Tensor) else v
                    for k, v in values.items()}

        refractory = cm.model.refractory
        t_ref = [row(b)[refractory] if isinstance(refractory, str) else float(refractory) for b in range(rows)]
        out = {"ref_steps": torch.tensor([[int(round(t / dt))] for t in t_ref], dtype=torch.int32, device=device)}
        if cm.model.method == "exact":
            free, held = [], []
            for b in range(rows):
                A, B, c = cm.affine(row(b))
                free.append(_propagator(A, B, c, dt, []))
                P_held = _propagator(A, B, c, dt, [cm.state.index(v) for v in cm.unless])
                for v in cm.free_rows:  # unaffected by holding: the very same numbers
                    P_held[cm.state.index(v)] = free[-1][cm.state.index(v)]
                held.append(P_held)
            out["P"] = torch.stack(free).to(dtype).to(device)  # (rows, n_state, n_state + n_inputs + 1)
            out["P_held"] = torch.stack(held).to(dtype).to(device)
        return out

    # -- state ----------------------------------------------------------------------------------
    def init_state(self, ctx, p):
        cm = self.compiled()
        values = self.parameter_values(p)
        state = {}
        for var in cm.state:
            init = cm.model.init.get(var, 0.0)
            value = values[init] if isinstance(init, str) else float(init)
            state[var] = (ctx.zeros(ctx.batch, self.n) + value).contiguous()
        state["countdown"] = torch.zeros(ctx.batch, self.n, dtype=torch.int32, device=ctx.device)
        state["spikes"] = ctx.zeros(ctx.batch, self.n)  # written by the compiled step
        return state

    # -- one step -------------------------------------------------------------------------------
    @staticmethod
    def _placed(ctx, p) -> None:
        """A model whose parameters are all constants derives in float64 on the CPU: cast once."""
        if "P" in p.__dict__ and (p.P.dtype != ctx.dtype or p.P.device != ctx.device):
            p.P, p.P_held = p.P.to(ctx.device, ctx.dtype), p.P_held.to(ctx.device, ctx.dtype)
        if p.ref_steps.device != ctx.device:
            p.ref_steps = p.ref_steps.to(ctx.device)

    def step(self, ctx, p, state, inputs):
        self._placed(ctx, p)
        kernel = self.native_kernel(ctx)
        if kernel is not None:  # the same maths, generated from the declaration, in one C call
            kernel(self.native_args(ctx, p, state, inputs))
            return {"spikes": state["spikes"], "v": state["v"]}
        state["spikes"] = self.integrate(ctx, p, state, inputs).to(ctx.dtype)
        return {"spikes": state["spikes"], "v": state["v"]}

    # -- the generated C path -------------------------------------------------------------------
    def native_kernel(self, ctx, span: bool = False):
        """The compiled step generated from the declaration (CPU, float32/64), or None; with
        ``span``, its variant stepping the flat neurons [lo, hi) (what fused programs call)."""
        if not native.ENABLED or ctx.device.type != "cpu" or ctx.dtype not in (torch.float32, torch.float64):
            return None
        cm = self.compiled()
        T = "double" if ctx.dtype == torch.float64 else "float"
        key = (T, ctx.dt, span)
        kernels = cm.__dict__.setdefault("kernels", {})
        if key not in kernels:
            terms = nonzero(cm, ctx.dt) if cm.model.method == "exact" else None
            kernels[key] = native.generated(codegen.source(cm, T, ctx.dt, "model_step", terms),
                                            "model_span" if span else "model_step")
        return kernels[key]

    def native_args(self, ctx, p, state, inputs):
        """The generated kernel's arguments (state pointers are read afresh: the torch path
        replaces state tensors)."""
        cm = self.compiled()
        self._placed(ctx, p)
        if state.get("packed_for") is not p:
            values = self.parameter_values(p)
            columns = [(v if isinstance(v, torch.Tensor) else torch.full((1, 1), v, dtype=ctx.dtype, device=ctx.device))
                       .to(ctx.dtype).expand(ctx.batch, 1) for v in values.values()]
            state["packed_params"] = (torch.cat(columns, dim=1) if columns else ctx.zeros(ctx.batch, 1)).contiguous()
            state["packed_for"] = p
        for var in cm.state:
            if not state[var].is_contiguous():
                state[var] = state[var].contiguous()
        zeros = state.setdefault("zeros", ctx.zeros(ctx.batch, self.n))  # an unwired input
        held = {port: inputs[port].contiguous() if inputs.get(port) is not None else zeros
                for port in ("current", "exc", "inh")}
        state["packed_inputs"] = held  # alive until the call returns
        pointers = (ctypes.c_void_p * len(cm.state))(*[state[v].data_ptr() for v in cm.state])
        state["packed_pointers"] = pointers
        exact = cm.model.method == "exact"
        args = native.ModelArgs(
            B=ctx.batch, n=self.n, rows=p.ref_steps.shape[0], t=ctx.t, state=ctypes.cast(pointers, ctypes.c_void_p),
            params=state["packed_params"].data_ptr(), P=p.P.data_ptr() if exact else None,
            P_held=p.P_held.data_ptr() if exact else None, ref_steps=p.ref_steps.data_ptr(),
            countdown=state["countdown"].data_ptr(), spikes=state["spikes"].data_ptr(),
            **{port: held[port].data_ptr() for port in ("current", "exc", "inh")})
        state["packed_args"] = args
        return ctypes.byref(args)

    def integrate(self, ctx, p, state, inputs) -> torch.Tensor:
        """Steps 1-4 above on ``state`` (in place); returns where spikes fell."""
        cm = self.compiled()
        countdown = state["countdown"]
        countdown.sub_(1).clamp_(min=0)
        active = countdown == 0
        if cm.model.arrival == "start":
            self._arrive(cm, state, inputs, active)
        current = inputs.get("current")
        env = dict(self.parameter_values(p))
        if cm.currents:
            env[cm.currents[0]] = current if current is not None else 0.0
        if cm.model.method == "exact":
            new = self._exact(cm, p, state, env, active, ctx.dt)
        else:
            new = self._explicit(cm, state, env, active, ctx.dt)
        state.update(new)
        if cm.model.arrival == "threshold":
            self._arrive(cm, state, inputs, active)
            new = {k: state[k] for k in new}
        env.update(new)
        fns = cm.torch
        for name, fn in fns.subs:
            env[name] = fn(env)
        spiked = spike_condition(fns.lhs(env), cm.threshold[1], fns.rhs(env)) & active
        for r, fn in zip(cm.resets, fns.resets):
            value = fn(env)
            old = state[r.target]
            if r.op == "+":
                value = old + value
            elif r.op == "-":
                value = old - value
            elif r.op == "*":
                value = old * value
            elif r.op == "/":
                value = old / value
            state[r.target] = env[r.target] = torch.where(spiked, value, old)
        state["countdown"] = torch.where(spiked, p.ref_steps, countdown)
        return spiked

    @staticmethod
    def _arrive(cm, state, inputs, active):
        """Arriving weights jump their variables (dropped while refractory where that variable is held)."""
        for port, target in cm.model.inputs.items():
            arriving = inputs.get(port)
            if arriving is not None:
                if target in cm.unless:
                    arriving = torch.where(active, arriving, 0.0)
                state[target] = state[target] + arriving

    def _exact(self, cm, p, state, env, active, dt):
        """x_i <- sum_j P_ij x_j + sum_k Q_ik u_k + c_i, summed left to right (as the C kernel)."""
        n, terms = len(cm.state), nonzero(cm, dt)
        inputs = [env[u] for u in cm.currents]
        new = {}
        for i, var in enumerate(cm.state):
            free = _row(p.P, i, [state[v] for v in cm.state] + inputs, n + len(inputs), terms)
            if var in cm.unless:
                free = torch.where(active, free, state[var])
            elif cm.unless and var not in cm.free_rows:
                held = _row(p.P_held, i, [state[v] for v in cm.state] + inputs, n + len(inputs), terms)
                free = torch.where(active, free, held)
            new[var] = free
        return new

    def _explicit(self, cm, state, env, active, dt):
        """One step of euler, rk2 (midpoint) or rk4; held variables' derivatives are 0 while refractory."""
        gate = active.to(state["v"].dtype)
        fns, odes = cm.torch.subs, cm.torch.odes

        def f(x):
            e = {**env, **x}
            for name, fn in fns:
                e[name] = fn(e)
            return {name: fn(e) * gate if held else fn(e) for name, fn, held in odes}

        x0 = {v: state[v] for v in cm.state}
        method = cm.model.method
        if method == "euler":
            k = f(x0)
            return {v: x0[v] + dt * k[v] for v in x0}
        if method == "rk2":
            k = f(x0)
            mid = f({v: x0[v] + (0.5 * dt) * k[v] for v in x0})
            return {v: x0[v] + dt * mid[v] for v in x0}
        k1 = f(x0)
        k2 = f({v: x0[v] + (0.5 * dt) * k1[v] for v in x0})
        k3 = f({v: x0[v] + (0.5 * dt) * k2[v] for v in x0})
        k4 = f({v: x0[v] + dt * k3[v] for v in x0})
        return {v: x0[v] + (dt / 6.0) * (((k1[v] + 2.0 * k2[v]) + 2.0 * k3[v]) + k4[v]) for v in x0}


def _row(P, i, values, width, terms):
    """Row i of [P Q c] applied to (x, u, 1), over the entries that are not zero for every
    parameter value (``terms``, from ``nonzero``), left to right: as the generated C."""
    used = [j for j in terms[i] if j < width]
    total = P[:, i, used[0]:used[0] + 1] * values[used[0]]
    for j in used[1:]:
        total = total + P[:, i, j:j + 1] * values[j]
    return total + P[:, i, width:width + 1] if width in terms[i] else total


def nonzero(cm, dt) -> list[list[int]]:
    """For each row of [P Q c] (free and held alike), the columns that can be non-zero: those
    non-zero at the defaults or at random parameter values (a structural zero, such as the
    effect of v on a synaptic current, is zero at every value; skipping it changes no result
    but a zero's sign)."""
    cached = cm.__dict__.setdefault("nonzero", {})
    if dt not in cached:
        n, width = len(cm.state), len(cm.state) + len(cm.currents) + 1
        seen = [[False] * width for _ in range(n)]
        generator = torch.Generator().manual_seed(0)
        defaults = {k: float(v) for k, v in cm.model.parameters.items() if not isinstance(v, str)}
        for draw in range(4):
            values = dict(defaults)
            if draw:
                for k, v in defaults.items():
                    f = float(torch.rand((), generator=generator, dtype=torch.float64)) + 0.5
                    values[k] = v * f if v != 0 else f
            try:
                A, B, c = cm.affine(values)
                held = [cm.state.index(v) for v in cm.unless]
                for P in (_propagator(A, B, c, dt, []), _propagator(A, B, c, dt, held)):
                    for i in range(n):
                        for j in range(width):
                            seen[i][j] |= bool(P[i, j] != 0) or not bool(torch.isfinite(P[i, j]))
            except (ArithmeticError, ValueError, RuntimeError, eq.EquationError):
                seen = [[True] * width for _ in range(n)]  # no structure known: every term
                break
        for i in range(n):
            seen[i][i] = True  # the diagonal, never skipped (a row always has a first term)
        cached[dt] = [[j for j in range(width) if seen[i][j]] for i in range(n)]
    return cached[dt]


def _propagator(A, B, c, dt, held) -> torch.Tensor:
    """[P Q c] = the first rows of exp(M dt) for M = [[A B c], [0 0 0]] (float64); rows of held
    variables are zero in M (their derivative is 0), so they are exactly the identity here."""
    n, k = len(A), len(B[0]) if B else 0
    M = torch.zeros(n + k + 1, n + k + 1, dtype=torch.float64)
    for i in range(n):
        if i in held:
            continue
        M[i, :n] = torch.tensor(A[i], dtype=torch.float64)
        if k:
            M[i, n:n + k] = torch.tensor(B[i], dtype=torch.float64)
        M[i, n + k] = c[i]
    P = torch.linalg.matrix_exp(M * dt)[:n]
    for i in held:
        P[i] = 0.0
        P[i, i] = 1.0
    return P


class _Declaration(param.Dict):
    """A model declaration, checked before it is accepted (EquationError names the problem),
    so a block never holds a model that cannot run."""

    def _validate(self, val):
        super()._validate(val)
        if val is not None:
            eq.compile_model(dict(val))


class EquationNeuron(_EquationNeuronBase):
    """A population of any model you type: equations, threshold, reset, refractory period.

    ``model`` is the declaration as data (see components/equations.py for the syntax and the
    fixed units ms, mV, pA/nA, nS, pF); it is checked when set, each error naming the symbol and
    its position, and stored in the circuit file as it is. Start from a library model
    (``EquationNeuron.from_library("iaf_psc_exp")``) or write your own.
    """

    model = _Declaration(default=LIBRARY["iaf_psc_exp"].to_dict(), doc="the model declaration (equations, threshold, "
                         "reset, refractory, parameters, inputs, init, method)")

    @param.depends("model", watch=True)
    def _recompile(self):
        self.__dict__.pop("_compiled", None)

    @classmethod
    def from_library(cls, name: str, **params) -> "EquationNeuron":
        if name not in LIBRARY:
            raise KeyError(f"no library model {name!r}; known: {', '.join(LIBRARY)}")
        return cls(model=LIBRARY[name].to_dict(), **params)

    def model_declaration(self):
        return eq.NeuronModel.from_dict(dict(self.model))


def _library_block(class_name: str, model: eq.NeuronModel) -> type:
    """A block class for a library model: its parameters become live, documented knobs."""
    cm = eq.compile_model(model)
    attrs = {"declaration": model, "__module__": __name__,
             "__doc__": f"{model.doc}\n\nModel ({model.method}):\n{model.equations}\nthreshold: {model.threshold}; "
                        f"reset: {model.reset}; refractory: {model.refractory} ms"}
    for name in cm.params:
        attrs[name] = param.Number(float(model.parameters[name]), doc=f"{name} ({cm.units[name]})")
    return type(class_name, (_EquationNeuronBase,), attrs)


BLOCK_NAMES = {"iaf_psc_delta": "IafPscDelta", "iaf_psc_exp": "IafPscExp", "iaf_psc_alpha": "IafPscAlpha",
               "iaf_cond_exp": "IafCondExp", "izhikevich": "Izhikevich", "aeif_cond_exp": "AdExCondExp",
               "aeif_psc_exp": "AdExPscExp", "adaptive_lif": "AdaptiveLifExact"}
for _key, _class_name in BLOCK_NAMES.items():
    globals()[_class_name] = _library_block(_class_name, LIBRARY[_key])
