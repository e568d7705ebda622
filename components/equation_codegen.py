"""C for a model declaration: the same float operations, in the same order, as the torch path
of components/equation_neuron.py, so both give identical spikes (float64; compiled without
fused multiply-add). Built from the parsed, whitelisted tree: names become indexed array
reads or numbered locals, numbers are re-printed with repr; no text of the declaration is
pasted into the source."""
from __future__ import annotations

import ast
import math

from . import equations as eq

_MATH = {"exp", "log", "sqrt", "tanh", "sin", "cos"}


def _fold(node):
    """The value of a subtree made of numbers only, computed as the torch path does (Python
    floats), or None."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        x = _fold(node.operand)
        return None if x is None else (-x if isinstance(node.op, ast.USub) else x)
    if isinstance(node, ast.BinOp):
        a, b = _fold(node.left), _fold(node.right)
        if a is None or b is None:
            return None
        try:
            if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value in (2, 3):
                return a * a if node.right.value == 2 else a * a * a
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op)) if not isinstance(
                node.op, (ast.Div, ast.Pow)) else (a / b if isinstance(node.op, ast.Div) else a ** b)
        except (ZeroDivisionError, OverflowError):
            return None
    if isinstance(node, ast.Call):
        args = [_fold(a) for a in node.args]
        if any(a is None for a in args):
            return None
        name = node.func.id
        try:
            return float({"min": min, "max": max, "abs": abs}.get(name, getattr(math, name, None))(*args))
        except (ValueError, OverflowError, TypeError):
            return None
    return None


def _literal(value: float, T: str) -> str:
    if not math.isfinite(value):
        raise eq.EquationError(f"a constant in the model evaluates to {value}")
    return f"(({T}){value!r})"


class _Writer:
    def __init__(self, names: dict[str, str], T: str):
        self.names, self.T = names, T
        self.f = "f" if T == "float" else ""

    def expr(self, node) -> str:
        folded = _fold(node)
        if folded is not None:
            return _literal(folded, self.T)
        if isinstance(node, ast.Name):
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp):
            inner = self.expr(node.operand)
            return f"(-{inner})" if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            a = self.expr(node.left)
            if isinstance(node.op, ast.Pow):
                if isinstance(node.right, ast.Constant) and node.right.value in (2, 3):
                    return f"({a} * {a})" if node.right.value == 2 else f"(({a} * {a}) * {a})"
                return f"pow{self.f}({a}, {self.expr(node.right)})"
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(node.op)]
            return f"({a} {op} {self.expr(node.right)})"
        if isinstance(node, ast.Call):
            name, args = node.func.id, [self.expr(a) for a in node.args]
            if name == "abs":
                return f"fabs{self.f}({args[0]})"
            if name in ("min", "max"):
                cmp = "<" if name == "min" else ">"
                return f"({args[0]} {cmp} {args[1]} ? {args[0]} : {args[1]})"
            assert name in _MATH
            return f"{name}{self.f}({args[0]})"
        raise eq.EquationError(f"cannot generate C for {type(node).__name__}")


def source(cm: eq.Compiled, T: str, dt: float, symbol: str, terms=None) -> str:
    """C source of one step of model ``cm`` for element type ``T`` ('float' or 'double');
    ``terms``: for each propagator row, the columns that can be non-zero (all when None)."""
    n_state, n_in = len(cm.state), len(cm.currents)
    width = n_state + n_in + 1
    names = {v: f"x{k}" for k, v in enumerate(cm.state)}
    names.update({p: f"q{k}" for k, p in enumerate(cm.params)})
    names.update({s.name: f"s{k}" for k, s in enumerate(cm.subs)})
    if cm.currents:
        names[cm.currents[0]] = "cur"
    w = _Writer(names, T)
    L = []
    add = L.append
    add("#include <stdint.h>\n#include <math.h>\n")
    add("typedef struct { int64_t B, n, rows, t; void **state; void *params, *P, *P_held, *ref_steps, *countdown, "
        "*spikes, *current, *exc, *inh; } model_args;\n")
    # One batch row in a function whose pointers are restrict parameters (which gcc honours),
    # so the neuron loop vectorizes; the exported step calls it per row.
    add(f"typedef {T} T;")
    states = ", ".join(f"T *restrict X{k}" for k in range(n_state))
    add(f"static __attribute__((noinline)) void row_step(const int64_t n, const T *restrict qv, const T *restrict Pv, "
        f"const T *restrict Hv, const int32_t ref, {states}, const T *restrict current, const T *restrict exc, "
        "const T *restrict inh, int32_t *restrict countdown, T *restrict spikes) {")
    for k in range(len(cm.params)):
        add(f"    const T q{k} = qv[{k}];")
    if cm.model.method == "exact":  # the propagator in locals, loaded once per batch row
        for k in range(n_state * width):
            add(f"    const T Pb{k} = Pv[{k}], Hb{k} = Hv[{k}];")
    add("    for (int64_t j = 0; j < n; j++) {")
    add("      int32_t c = countdown[j] - 1; c = c < 0 ? 0 : c;")
    add("      const int active = c == 0;")
    for k in range(n_state):
        add(f"      T x{k} = X{k}[j];")
    if cm.currents:
        add("      const T cur = current[j];")
    def arrive():
        for port, target in cm.model.inputs.items():
            k = cm.state.index(target)
            # inputs are never NULL (zeros when unwired), and every value is computed before a
            # select: no control flow, so the loop vectorizes
            add(f"      const T in_{port} = {port}[j];")
            arriving = f"in_{port}" if target not in cm.unless else f"(active ? in_{port} : (T)0)"
            add(f"      x{k} = x{k} + {arriving};")

    if cm.model.arrival == "start":
        arrive()
    if cm.model.method == "exact":
        values = [f"x{k}" for k in range(n_state)] + (["cur"] if cm.currents else [])
        for i, var in enumerate(cm.state):
            def row(M, i=i):
                used = [j for j in (terms[i] if terms else range(width)) if j < len(values)]
                total = f"{M}{i * width + used[0]} * {values[used[0]]}"
                for j in used[1:]:
                    total = f"({total} + {M}{i * width + j} * {values[j]})"
                if terms and len(values) not in terms[i]:
                    return f"({total})"
                return f"({total} + {M}{i * width + len(values)})"
            if var in cm.unless:
                add(f"      const T f{i} = {row('Pb')};")
                add(f"      const T n{i} = active ? f{i} : x{i};")
            elif cm.unless and var not in cm.free_rows:
                add(f"      const T f{i} = {row('Pb')}, h{i} = {row('Hb')};")
                add(f"      const T n{i} = active ? f{i} : h{i};")
            else:
                add(f"      const T n{i} = {row('Pb')};")
        for i in range(n_state):
            add(f"      x{i} = n{i};")
    else:
        _explicit(cm, w, add, dt, n_state)
    if cm.model.arrival == "threshold":
        arrive()
    for k, s in enumerate(cm.subs):
        add(f"      const T s{k} = {w.expr(s.expr)};")
    lhs, op, rhs = cm.threshold
    add(f"      const int fire = active & ({w.expr(lhs)} {op} {w.expr(rhs)});")
    for m, r in enumerate(cm.resets):
        k = cm.state.index(r.target)
        value = w.expr(r.expr)
        add(f"      const T r{m} = " + (value if r.op is None else f"x{k} {r.op} {value}") + ";")
        add(f"      x{k} = fire ? r{m} : x{k};")
    for k in range(n_state):
        add(f"      X{k}[j] = x{k};")
    add("      countdown[j] = fire ? ref : c;")
    add("      spikes[j] = fire ? (T)1 : (T)0;")
    add("    }\n}\n")
    # the flat neurons [lo, hi) of a (B, n) population (a fused program's thread share)
    add("void model_span(const model_args *a, int64_t lo, int64_t hi) {")
    add("  const int64_t B = a->B, n = a->n, np = " + str(len(cm.params)) + ", nP = " + str(n_state * width) + ";")
    add("  const T *params = a->params, *P = a->P, *P_held = a->P_held;")
    add("  const T *current = a->current, *exc = a->exc, *inh = a->inh;")
    add("  const int32_t *ref_steps = a->ref_steps; int32_t *countdown = a->countdown; T *spikes = a->spikes;")
    add("  for (int64_t b = lo / n; b < B && b * n < hi; b++) {")
    add("    const int64_t r = a->rows > 1 ? b : 0, o = lo > b * n ? lo : b * n, e = hi < (b + 1) * n ? hi : (b + 1) * n;")
    add("    if (o >= e) continue;")
    xs = ", ".join(f"(T *)a->state[{k}] + o" for k in range(n_state))
    add("    row_step(e - o, params + b * np, P ? P + r * nP : 0, P_held ? P_held + r * nP : 0, ref_steps[r], "
        f"{xs}, current + o, exc + o, inh + o, countdown + o, spikes + o);")
    add("  }\n}\n")
    add(f"void {symbol}(const model_args *a) {{ model_span(a, 0, a->B * a->n); }}\n")
    return "\n".join(L)


def _explicit(cm, w, add, dt, n_state):
    """euler / rk2 / rk4 as _EquationNeuronBase._explicit, stage by stage."""
    T = w.T

    def derivatives(stage: str, inputs: list[str]):
        """Locals d{stage}_{k} = f(inputs), with subexpressions; held ones times the gate."""
        saved = dict(w.names)
        for k, v in enumerate(cm.state):
            w.names[v] = inputs[k]
        for k, s in enumerate(cm.subs):
            add(f"      const T {stage}s{k} = {w.expr(s.expr)};")
            w.names[s.name] = f"{stage}s{k}"
        for k, s in enumerate(cm.odes):
            value = w.expr(s.expr)
            add(f"      const T {stage}_{k} = " + (f"{value} * (T)active;" if s.unless_refractory else f"{value};"))
        w.names.clear()
        w.names.update(saved)

    x = [f"x{k}" for k in range(n_state)]
    method = cm.model.method
    h, half, sixth = _literal(dt, T), _literal(0.5 * dt, T), _literal(dt / 6.0, T)
    if method == "euler":
        derivatives("k1", x)
        for k in range(n_state):
            add(f"      x{k} = x{k} + {h} * k1_{k};")
        return
    derivatives("k1", x)
    if method == "rk2":
        derivatives("k2", [f"(x{k} + {half} * k1_{k})" for k in range(n_state)])
        for k in range(n_state):
            add(f"      x{k} = x{k} + {h} * k2_{k};")
        return
    derivatives("k2", [f"(x{k} + {half} * k1_{k})" for k in range(n_state)])
    derivatives("k3", [f"(x{k} + {half} * k2_{k})" for k in range(n_state)])
    derivatives("k4", [f"(x{k} + {h} * k3_{k})" for k in range(n_state)])
    two = _literal(2.0, T)
    for k in range(n_state):
        add(f"      x{k} = x{k} + {sixth} * (((k1_{k} + {two} * k2_{k}) + {two} * k3_{k}) + k4_{k});")
