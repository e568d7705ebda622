"""Neuron models as declarations: Brian2-style equation strings, read by a whitelist parser.

A model is its equations, threshold, reset and refractory period. Everything else (the torch
update, the generated C kernel, the inspector's parameters, the file format) derives from it.

Equation lines (one per line; ``#`` starts a comment)::

    dv/dt = (E_L - v + R*I) / tau_m : mV (unless refractory)   # a state variable
    I_syn = ge + gi : pA                                         # a subexpression
    tau_m : ms                                                   # a parameter
    I : pA (input)                                               # a current from a wire

Units are labels from a fixed, documented set and numbers are taken as written in it: time ms,
voltage mV, current pA (or nA), conductance nS, capacitance pF (so pA/pF = mV/ms and
nS*mV = pA). Expressions may use numbers, declared names, ``+ - * / **``, parentheses and the
functions in ``FUNCTIONS``; anything else is rejected with the line, column and symbol at fault.
Text is parsed with ``ast.parse`` (which only parses) and then walked node by node; it is never
evaluated, and generated code is built from the parsed tree (validated names, re-printed
numbers), never from the text.
"""
from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

UNITS = ("ms", "mV", "pA", "nA", "nS", "pF", "Hz", "1")
FUNCTIONS = {"exp": 1, "log": 1, "sqrt": 1, "abs": 1, "tanh": 1, "sin": 1, "cos": 1, "min": 2, "max": 2}
METHODS = ("exact", "euler", "rk2", "rk4")
SYNAPSE_PORTS = ("exc", "inh")  # spikes' weights arrive here, added to the state variable the model names
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_COMPARE = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = {"t", "dt", "spikes", "countdown", "active"} | set(FUNCTIONS)
MAX_TEXT = 5000


class EquationError(ValueError):
    """A problem in a model declaration; the message names the symbol and where it is."""


def _where(what: str, line: int | None, col: int | None) -> str:
    if line is None:
        return what
    return f"{what}, line {line}, column {col}"


@dataclass(frozen=True)
class Statement:
    """One equation line: ``kind`` is 'ode', 'sub', 'param' or 'input'."""

    kind: str
    name: str
    unit: str
    expr: ast.AST | None = None
    unless_refractory: bool = False
    line: int = 0
    col: int = 0  # column where the expression starts (1-based)


def _check_expr(tree: ast.AST, known: set[str], what: str, line: int, col0: int, allow_compare=False) -> None:
    """Raise EquationError unless every node of ``tree`` is whitelisted and every name known."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        col = col0 + getattr(node, "col_offset", 0)
        if isinstance(node, (ast.Expression, ast.Load)) or isinstance(node, _BINOPS + (ast.USub, ast.UAdd)):
            continue
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise EquationError(_where(f"{what}: operator {type(node.op).__name__} is not allowed", line, col))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise EquationError(_where(f"{what}: operator {type(node.op).__name__} is not allowed", line, col))
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise EquationError(_where(f"{what}: constant {node.value!r} is not a number", line, col))
            try:
                finite = math.isfinite(float(node.value))
            except OverflowError:
                finite = False
            if not finite:
                raise EquationError(_where(f"{what}: constant {str(node.value)[:20]} is not finite", line, col))
        elif isinstance(node, ast.Name):
            if node.id not in known:
                if node.id in FUNCTIONS and id(node) in called:
                    continue
                raise EquationError(_where(f"{what}: undefined symbol {node.id!r}", line, col))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None)
            if not isinstance(node.func, ast.Name) or name not in FUNCTIONS:
                raise EquationError(_where(f"{what}: only the functions {', '.join(FUNCTIONS)} may be called", line, col))
            if node.keywords or len(node.args) != FUNCTIONS[name] or any(isinstance(a, ast.Starred) for a in node.args):
                raise EquationError(_where(f"{what}: {name} takes {FUNCTIONS[name]} plain argument(s)", line, col))
        elif isinstance(node, ast.Compare) and allow_compare:
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise EquationError(_where(f"{what}: use one comparison (>, >=, < or <=)", line, col))
        elif isinstance(node, tuple(_COMPARE)) and allow_compare:
            continue
        else:
            raise EquationError(_where(f"{what}: {type(node).__name__} is not allowed in an equation", line, col))


def _parse_expr(text: str, what: str, line: int, col0: int) -> ast.AST:
    if len(text) > MAX_TEXT:
        raise EquationError(f"{what}: expression longer than {MAX_TEXT} characters")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise EquationError(_where(f"{what}: not an expression ({e.msg})", line, col0 + (e.offset or 1) - 1)) from None
    except (RecursionError, MemoryError, ValueError):
        raise EquationError(_where(f"{what}: expression too deeply nested or invalid", line, col0)) from None


def _unit_and_flags(text: str, line: int, col: int) -> tuple[str, set[str]]:
    m = re.fullmatch(r"\s*([^()\s]+)\s*(?:\(([^()]*)\))?\s*", text)
    if not m:
        raise EquationError(_where(f"cannot read the unit and flags {text.strip()!r}", line, col))
    unit, flags = m.group(1), {f.strip() for f in (m.group(2) or "").split(",") if f.strip()}
    if unit not in UNITS:
        raise EquationError(_where(f"unit {unit!r} is not one of {', '.join(UNITS)}", line, col))
    bad = flags - {"unless refractory", "input"}
    if bad:
        raise EquationError(_where(f"unknown flag {sorted(bad)[0]!r} (known: unless refractory, input)", line, col))
    return unit, flags


def parse_equations(text: str) -> list[Statement]:
    """The statements of an equations text, checked for form (names are resolved later)."""
    if not isinstance(text, str):
        raise EquationError(f"equations should be text, got {type(text).__name__}")
    if len(text) > 20 * MAX_TEXT:
        raise EquationError("equations text is too long")
    out, seen = [], {}
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.split("#", 1)[0].rstrip()
        if not body.strip():
            continue
        if ":" not in body:
            raise EquationError(_where("missing ': unit' at the end of the equation", number, len(body) + 1))
        left, unit_text = body.rsplit(":", 1)
        unit, flags = _unit_and_flags(unit_text, number, len(left) + 2)
        m_ode = re.fullmatch(r"(\s*)d\s*([A-Za-z_]\w*)\s*/\s*dt\s*=(.*)", left)
        m_sub = re.fullmatch(r"(\s*)([A-Za-z_]\w*)\s*=(.*)", left)
        m_par = re.fullmatch(r"(\s*)([A-Za-z_]\w*)\s*", left)
        if m_ode or m_sub:
            m = m_ode or m_sub
            kind, name = ("ode" if m_ode else "sub"), m.group(2)
            col = m.start(3) + 1 + (len(m.group(3)) - len(m.group(3).lstrip()))
            expr = _parse_expr(m.group(3), f"equation for {name!r}", number, col)
        elif m_par:
            kind, name, expr, col = ("input" if "input" in flags else "param"), m_par.group(2), None, 1
        else:
            raise EquationError(_where(f"cannot read {left.strip()!r}: expected 'dx/dt = ...', 'x = ...' or 'x'", number, 1))
        if name in _RESERVED or name.startswith("_"):
            raise EquationError(_where(f"the name {name!r} is reserved", number, left.find(name) + 1))
        if name in seen:
            raise EquationError(_where(f"{name!r} is defined twice (first on line {seen[name]})", number, left.find(name) + 1))
        if "unless refractory" in flags and kind != "ode":
            raise EquationError(_where(f"'unless refractory' applies to differential equations only ({name!r})", number, 1))
        seen[name] = number
        out.append(Statement(kind, name, unit, expr, "unless refractory" in flags, number, col))
    return out


@dataclass(frozen=True)
class Reset:
    """``target = expr`` or ``target op= expr`` (op one of + - * /)."""

    target: str
    op: str | None
    expr: ast.AST


@dataclass
class NeuronModel:
    """A neuron model declaration: the single source of a model's maths.

    ``parameters`` holds default values (in the units the equations declare); ``inputs`` maps
    an input port to the state variable that each arriving synaptic weight is added to (a
    jump, as Brian2's ``on_pre='ge += w'``); a parameter flagged ``(input)`` in the equations is
    instead a current from a wire, held over the step. ``refractory`` is in ms, a number or
    a parameter's name. ``init`` gives state variables' initial values (number or parameter name;
    default 0). ``method`` is 'exact' (linear models only: the propagator exp(A dt)) or an
    explicit scheme for nonlinear ones. ``arrival`` says when arriving weights are added:
    'start' (of the step, before the update: Brian2's schedule, the default) or 'threshold'
    (after the update, just before the threshold test: NEST's delta synapse, iaf_psc_delta).
    """

    name: str
    equations: str
    threshold: str
    reset: str = ""
    refractory: float | str = 0.0
    parameters: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    init: dict[str, float | str] = field(default_factory=dict)
    method: str = "exact"
    doc: str = ""
    arrival: str = "start"

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("name", "equations", "threshold", "reset", "refractory", "parameters",
                                              "inputs", "init", "method", "doc")}
        if self.arrival != "start":  # written only where it differs: older files and readers are unchanged
            out["arrival"] = self.arrival
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "NeuronModel":
        if not isinstance(data, dict):
            raise EquationError(f"a model declaration should be a mapping, got {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise EquationError(f"a model declaration has no field(s) {', '.join(sorted(unknown))}")
        return cls(**data)


ARRIVALS = ("start", "threshold")  # when arriving weights are added (NeuronModel.arrival)


class Compiled:
    """A checked model: statements resolved, ready to be integrated (``integrators``)."""

    def __init__(self, model: NeuronModel):
        self.model = model
        stmts = parse_equations(model.equations)
        self.odes = [s for s in stmts if s.kind == "ode"]
        self.subs = [s for s in stmts if s.kind == "sub"]
        self.params = [s.name for s in stmts if s.kind == "param"]
        self.currents = [s.name for s in stmts if s.kind == "input"]
        self.units = {s.name: s.unit for s in stmts}
        if not self.odes:
            raise EquationError(f"model {model.name!r}: no differential equation (a state variable needs 'dx/dt = ...')")
        self.state = [s.name for s in self.odes]
        known = set(self.state) | set(self.params) | set(self.currents)
        for s in self.subs:  # subexpressions may use earlier ones only
            _check_expr(s.expr, known, f"equation for {s.name!r}", s.line, s.col)
            known.add(s.name)
        for s in self.odes:
            _check_expr(s.expr, known, f"equation for d{s.name}/dt", s.line, s.col)
        if not isinstance(model.parameters, dict):
            raise EquationError("parameters should be a mapping of name to number")
        for name, value in model.parameters.items():
            if name not in self.params:
                raise EquationError(f"parameter {name!r} has a value but is not declared ('{name} : unit') in the equations")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise EquationError(f"parameter {name!r}: value {value!r} is not a finite number")
        missing = [p for p in self.params if p not in model.parameters]
        if missing:
            raise EquationError(f"parameter {missing[0]!r} is declared but has no value in 'parameters'")
        self.threshold = self._threshold(model.threshold, known)
        self.resets = self._resets(model.reset, known)
        self.unless = [s.name for s in self.odes if s.unless_refractory]
        if isinstance(model.refractory, str):
            if model.refractory not in self.params:
                raise EquationError(f"refractory: undefined symbol {model.refractory!r} (a parameter name or a number of ms)")
        elif isinstance(model.refractory, bool) or not isinstance(model.refractory, (int, float)) or model.refractory < 0:
            raise EquationError(f"refractory should be a number of ms >= 0 or a parameter name, got {model.refractory!r}")
        if model.arrival not in ARRIVALS:
            raise EquationError(f"arrival {model.arrival!r} is not one of {', '.join(ARRIVALS)}")
        if not isinstance(model.inputs, dict):
            raise EquationError("inputs should map port names to state variables")
        for port, target in model.inputs.items():
            if port not in SYNAPSE_PORTS:
                raise EquationError(f"input port {port!r}: synaptic inputs are {' and '.join(SYNAPSE_PORTS)}")
            if target not in self.state:
                raise EquationError(f"input {port!r}: {target!r} is not a state variable (one of {', '.join(self.state)})")
        if len(self.currents) > 1:
            raise EquationError(f"only one '(input)' current is fed from the 'current' port; got {', '.join(self.currents)}")
        if not isinstance(model.init, dict):
            raise EquationError("init should map state variables to numbers or parameter names")
        for var, value in model.init.items():
            if var not in self.state:
                raise EquationError(f"init: {var!r} is not a state variable (one of {', '.join(self.state)})")
            if isinstance(value, str) and value not in self.params:
                raise EquationError(f"init of {var!r}: undefined symbol {value!r}")
            if not isinstance(value, str) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise EquationError(f"init of {var!r}: {value!r} is not a number or parameter name")
        if model.method not in METHODS:
            raise EquationError(f"method {model.method!r} is not one of {', '.join(METHODS)}")
        self.linear = self._is_linear()
        self.free_rows = self._free_rows() if self.linear else set()
        if model.method == "exact" and not self.linear:
            raise EquationError(f"model {model.name!r} is not linear in its state variables, so 'exact' cannot "
                                "integrate it; choose euler, rk2 or rk4")

    def _threshold(self, text, known) -> tuple[ast.AST, str, ast.AST]:
        if not isinstance(text, str) or not text.strip():
            raise EquationError("threshold: give a condition such as 'v > v_th'")
        tree = _parse_expr(text, "threshold", 1, 1)
        _check_expr(tree, known, "threshold", 1, 1, allow_compare=True)
        if not isinstance(tree, ast.Compare):
            raise EquationError("threshold: give one comparison such as 'v > v_th'")
        for node in ast.walk(tree):
            if node is not tree and isinstance(node, ast.Compare):
                raise EquationError("threshold: give one comparison such as 'v > v_th'")
        return tree.left, _COMPARE[type(tree.ops[0])], tree.comparators[0]

    def _resets(self, text, known) -> list[Reset]:
        if not isinstance(text, str):
            raise EquationError("reset should be text such as 'v = v_reset'")
        out = []
        for number, raw in enumerate(re.split(r"[;\n]", text), start=1):
            if not raw.strip():
                continue
            m = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*([-+*/]?)=(?!=)(.*)", raw)
            if not m:
                raise EquationError(f"reset statement {number} ({raw.strip()!r}): expected 'x = ...' or 'x += ...'")
            target = m.group(1)
            if target not in self.state:
                raise EquationError(f"reset statement {number}: {target!r} is not a state variable")
            expr = _parse_expr(m.group(3), f"reset of {target!r}", number, m.start(3) + 1)
            _check_expr(expr, known, f"reset of {target!r}", number, m.start(3) + 1)
            out.append(Reset(target, m.group(2) or None, expr))
        return out

    def _free_rows(self) -> set[str]:
        """Variables not held while refractory whose dynamics (directly or through others) do
        not involve a held variable: holding changes nothing for them."""
        A, _, _ = self.affine({p: 1.0 + 0.1 * k for k, p in enumerate(self.params)})
        deps = {v: {u for j, u in enumerate(self.state) if A[i][j] != 0.0} for i, v in enumerate(self.state)}
        free = set()
        for v in self.state:
            seen, todo = set(), [v]
            while todo:
                u = todo.pop()
                if u not in seen:
                    seen.add(u)
                    todo += deps[u]
            if not (seen & set(self.unless)):
                free.add(v)
        return free

    def _is_linear(self) -> bool:
        env = {p: 1.0 + 0.1 * k for k, p in enumerate(self.params)}
        try:
            self.affine(env)
            return True
        except _Nonlinear:
            return False

    # -- linear analysis ----------------------------------------------------------------------
    def affine(self, params: dict[str, float]):
        """For a linear model: A (state x state), B (state x current inputs) and c with
        dx/dt = A x + B u + c, at the given parameter values (floats)."""
        variables = self.state + self.currents
        subs = {}
        for s in self.subs:
            subs[s.name] = _affine(s.expr, variables, params, subs)
        rows = {s.name: _affine(s.expr, variables, params, subs) for s in self.odes}
        A = [[rows[i][0].get(j, 0.0) for j in self.state] for i in self.state]
        B = [[rows[i][0].get(j, 0.0) for j in self.currents] for i in self.state]
        c = [rows[i][1] for i in self.state]
        return A, B, c


class _Nonlinear(Exception):
    pass


def _const(value) -> float:
    try:
        return float(value)
    except OverflowError:
        raise EquationError("a constant overflows") from None


def _affine(node, variables, params, subs):
    """(coefficients per variable, constant) of an affine expression, or raise _Nonlinear."""
    if isinstance(node, ast.Constant):
        return {}, _const(node.value)
    if isinstance(node, ast.Name):
        if node.id in variables:
            return {node.id: 1.0}, 0.0
        if node.id in subs:
            return subs[node.id]
        return {}, float(params[node.id])
    if isinstance(node, ast.UnaryOp):
        co, k = _affine(node.operand, variables, params, subs)
        return ({v: -a for v, a in co.items()}, -k) if isinstance(node.op, ast.USub) else (co, k)
    if isinstance(node, ast.BinOp):
        (ca, ka), (cb, kb) = _affine(node.left, variables, params, subs), _affine(node.right, variables, params, subs)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            s = 1.0 if isinstance(node.op, ast.Add) else -1.0
            keys = set(ca) | set(cb)
            return {v: ca.get(v, 0.0) + s * cb.get(v, 0.0) for v in keys}, ka + s * kb
        if isinstance(node.op, ast.Mult):
            if ca and cb:
                raise _Nonlinear
            if not ca:
                return {v: ka * b for v, b in cb.items()}, ka * kb
            return {v: a * kb for v, a in ca.items()}, ka * kb
        if isinstance(node.op, ast.Div):
            if cb:
                raise _Nonlinear
            return {v: a / kb for v, a in ca.items()}, ka / kb
        if isinstance(node.op, ast.Pow):
            if ca or cb:
                raise _Nonlinear
            try:
                return {}, ka ** kb
            except (OverflowError, ZeroDivisionError):
                raise EquationError("a constant power overflows") from None
    if isinstance(node, ast.Call):
        args = [_affine(a, variables, params, subs) for a in node.args]
        if any(co for co, _ in args):
            raise _Nonlinear
        fn = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "tanh": math.tanh, "sin": math.sin,
              "cos": math.cos, "min": min, "max": max}[node.func.id]
        try:
            return {}, float(fn(*[k for _, k in args]))
        except (OverflowError, ValueError):
            raise EquationError(f"{node.func.id} of a parameter value is undefined or overflows") from None
    raise _Nonlinear


def compile_model(model: NeuronModel | dict) -> Compiled:
    """Check a declaration (raising EquationError naming the problem) and prepare it."""
    if isinstance(model, dict):
        model = NeuronModel.from_dict(model)
    return Compiled(model)
