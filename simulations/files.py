"""Circuit files: plain JSON with a schema version. Nothing in a file is ever executed (no
pickle); every value goes through the blocks' param validation on load. A file is refused,
with a CircuitFileError, when it is larger than ``WORKBENCH_MAX_FILE_BYTES`` (default 64 MB)
or nested deeper than ``MAX_DEPTH``.

Schema version 2 added modules (sub-circuits, see simulations.modules): a ``modules`` list
whose entries hold their own ``blocks``, ``modules`` and ``wires`` plus ``ports``; wires name a
module's exposed port as ``module.port``. A circuit without modules is written as version 1,
so older readers still open it. A module can also be a file of its own (``MODULE_FORMAT``)."""
from __future__ import annotations

import json
import math
import os

import param

from components import get_block_type
from components.base import short

from .circuit import Circuit, CircuitError
from .errors import CircuitFileError, UnknownBlockError
from .modules import MAX_MODULE_DEPTH, Module, inside, local, natural_order, owner, port_of, reorder

FORMAT = "workbench-circuit"
MODULE_FORMAT = "workbench-module"
SCHEMA_VERSION = 2
MAX_DEPTH = 8 + 2 * MAX_MODULE_DEPTH  # a circuit needs 5 (document, blocks, block, params, table row), +2 a module
MAX_NAME = 200  # characters of a circuit name


def max_file_bytes() -> int:
    return int(float(os.environ.get("WORKBENCH_MAX_FILE_BYTES", 64 * 2 ** 20)))


def _check_depth(doc) -> None:
    """Refuse documents nested deeper than MAX_DEPTH (iteratively: no recursion to exhaust)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, dict)):
            if depth > MAX_DEPTH:
                raise CircuitFileError(f"the file is nested more than {MAX_DEPTH} levels deep; not a circuit file")
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _endpoint(circuit: Circuit, scope: str | None, block: str, port: str) -> str:
    """Flat ``block.port`` as seen from inside ``scope``: a direct block's port, or a child module's port."""
    child = owner(circuit, block)
    if child == scope:
        return f"{local(block, scope)}.{port}"
    while owner(circuit, child) != scope:
        child = owner(circuit, child)
    outer = port_of(circuit, child, (block, port))
    if outer is None:
        raise CircuitError(f"{block}.{port} is wired across the edge of module {child!r} but not one of its ports")
    return f"{local(child, scope)}.{outer}"


def _level(circuit: Circuit, scope: str | None) -> dict:
    """The blocks, modules and wires directly inside ``scope`` (None: the top level)."""
    blocks, modules, wires = [], [], []
    for name, data in circuit.graph.nodes(data=True):
        if owner(circuit, name) != scope:
            continue
        block = data["block"]
        entry = {"name": local(name, scope), "type": type(block).__name__,
                 "params": {k: _jsonable(v) for k, v in block.values().items()}}
        if data["position"] is not None:
            entry["position"] = list(data["position"])
        blocks.append(entry)
    for name, rec in circuit.modules.items():
        if owner(circuit, name) != scope:
            continue
        entry = {"name": local(name, scope), "label": rec.label,
                 "ports": [{"name": k, "endpoint": _endpoint(circuit, name, b, p)} for k, (b, p) in rec.ports.items()],
                 "collapsed": rec.collapsed}
        if rec.position is not None:
            entry["position"] = list(rec.position)
        modules.append({**entry, **_level(circuit, name)})
    for w in circuit.wires:
        here = owner(circuit, w.source)
        while not inside(w.target, here):
            here = owner(circuit, here)
        if here == scope:
            wires.append({"source": _endpoint(circuit, scope, w.source, w.output),
                          "target": _endpoint(circuit, scope, w.target, w.input)})
    out = {"blocks": blocks, "wires": wires}
    if modules:
        out["modules"] = modules
    return out


def _order(circuit: Circuit) -> dict:
    """The blocks' flat order when nesting would not rebuild it (it fixes the random draws)."""
    order = list(circuit.graph.nodes)
    return {"order": order} if order != natural_order(circuit) else {}


def circuit_to_dict(circuit: Circuit) -> dict:
    return {"format": FORMAT, "version": SCHEMA_VERSION if circuit.modules else 1, "name": circuit.name,
            **_level(circuit, None), **(_order(circuit) if circuit.modules else {})}


def module_to_dict(module: Module) -> dict:
    inner = module.circuit
    ports = [{"name": k, "endpoint": _endpoint(inner, None, b, p)} for k, (b, p) in module.ports.items()]
    return {"format": MODULE_FORMAT, "version": SCHEMA_VERSION, "name": module.name, "ports": ports,
            **_level(inner, None), **_order(inner)}


def circuit_to_json(circuit: Circuit, indent: int | None = 1) -> str:
    return json.dumps(circuit_to_dict(circuit), indent=indent)


def _expect(value, kind, where: str):
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CircuitFileError(f"{where} should be a {names}, got {type(value).__name__}")
    return value


def _check_header(doc, fmt: str) -> None:
    _expect(doc, dict, "the file's top level")
    if doc.get("format") != fmt:
        raise CircuitFileError(f"not a {'module' if fmt == MODULE_FORMAT else 'circuit'} file: 'format' is "
                               f"{short(doc.get('format'))}, expected {fmt!r}")
    _check_depth(doc)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CircuitFileError(f"'version' should be an integer, got {short(version)}")
    if version > SCHEMA_VERSION:
        raise CircuitFileError(
            f"this file uses circuit schema version {version}, newer than this workbench reads "
            f"(up to {SCHEMA_VERSION}); update the workbench to open it"
        )


def circuit_from_dict(doc) -> Circuit:
    _check_header(doc, FORMAT)
    return _apply_order(doc, _level_from_dict(doc, "", 0))


def _apply_order(doc: dict, circuit: Circuit) -> Circuit:
    if "order" in doc:
        order = _expect(doc["order"], list, "'order'")
        try:
            reorder(circuit, order)
        except (CircuitError, TypeError):  # TypeError: an unhashable entry
            raise CircuitFileError("'order' must name every block of the circuit exactly once") from None
    return circuit


def module_from_dict(doc) -> Module:
    _check_header(doc, MODULE_FORMAT)
    return _module_from_dict(doc, "", 0)


def _module_from_dict(entry: dict, where: str, depth: int) -> Module:
    inner = _level_from_dict(entry, where, depth, name_key="label" if where else "name")
    if not where:  # a module file: its own block order
        _apply_order(entry, inner)
    ports = {}
    for k, port in enumerate(_expect(entry.get("ports", []), list, f"'{where}ports'")):
        _expect(port, dict, f"{where}ports[{k}]")
        name = _expect(port.get("name"), str, f"{where}ports[{k}].name")
        if name in ports:
            raise CircuitFileError(f"{where}ports[{k}]: port {short(name)} appears twice")
        ports[name] = _expect(port.get("endpoint"), str, f"{where}ports[{k}].endpoint")
    try:
        return Module(inner, ports)
    except CircuitFileError:
        raise
    except CircuitError as e:
        raise CircuitFileError(f"{where}ports: {e}") from None


def _level_from_dict(doc: dict, where: str, depth: int, name_key: str = "name") -> Circuit:
    """One level of a file (the document or a module entry) as a Circuit."""
    if depth > MAX_MODULE_DEPTH:
        raise CircuitFileError(f"modules are nested more than {MAX_MODULE_DEPTH} deep")
    name = _expect(doc.get(name_key, "circuit"), str, f"'{where}{name_key}'")
    if len(name) > MAX_NAME:
        raise CircuitFileError(f"'{where}{name_key}' has {len(name)} characters; at most {MAX_NAME}")
    circuit = Circuit(name)
    for k, entry in enumerate(_expect(doc.get("blocks", [] if where else None), list, f"'{where}blocks'")):
        where_b = f"{where}blocks[{k}]"
        _expect(entry, dict, where_b)
        name = _expect(entry.get("name"), str, f"{where_b}.name")
        type_name = _expect(entry.get("type"), str, f"{where_b}.type")
        params = _expect(entry.get("params", {}), dict, f"{where_b}.params")
        try:
            cls = get_block_type(type_name)
        except KeyError as e:
            raise UnknownBlockError(f"block {short(name)}: {e.args[0]}") from None
        unknown = sorted(set(params) - set(cls.user_params()))
        if unknown:
            raise CircuitFileError(f"block {short(name)} ({type_name}) has no parameter(s) {', '.join(unknown)[:200]}")
        values = {}
        for key, value in params.items():
            if isinstance(cls.param[key], param.Number) and isinstance(value, str):
                try:  # non-finite numbers are written as strings
                    value = float(value)
                except ValueError:
                    pass
            values[key] = value
        for marker, meant in cls.file_defaults.items():  # a file written before ``marker`` existed
            if params and marker not in params:  # (the app writes every parameter; a bare entry gets today's defaults)
                for key, value in meant.items():
                    values.setdefault(key, value)
        circuit.add(name, type_name, _position(entry, where_b), **values)
    for k, entry in enumerate(_expect(doc.get("modules", []), list, f"'{where}modules'")):
        where_m = f"{where}modules[{k}]"
        _expect(entry, dict, where_m)
        name = _expect(entry.get("name"), str, f"{where_m}.name")
        module = _module_from_dict(entry, f"{where_m}.", depth + 1)
        try:
            circuit.add(name, module, _position(entry, where_m))
        except CircuitError as e:
            raise CircuitFileError(f"{where_m}: {e}") from None
        circuit.modules[name].collapsed = _expect(entry.get("collapsed", True), bool, f"{where_m}.collapsed")
    for k, entry in enumerate(_expect(doc.get("wires", []), list, f"'{where}wires'")):
        _expect(entry, dict, f"{where}wires[{k}]")
        source = _expect(entry.get("source"), str, f"{where}wires[{k}].source")
        target = _expect(entry.get("target"), str, f"{where}wires[{k}].target")
        try:
            circuit.connect(source, target)
        except CircuitError as e:
            raise type(e)(f"{where}wires[{k}]: {e}") from None
    return circuit


def _position(entry: dict, where: str):
    position = entry.get("position")
    if position is not None:
        if not (isinstance(position, list) and len(position) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        and abs(v) < 1e9 for v in position)):
            raise CircuitFileError(f"{where}.position should be [x, y] (finite numbers), got {short(position)}")
        position = tuple(position)
    return position


def circuit_from_json(text) -> Circuit:
    return circuit_from_dict(_parse(text))


def module_from_json(text) -> Module:
    return module_from_dict(_parse(text))


def _parse(text):
    if not isinstance(text, (str, bytes)):
        raise CircuitFileError(f"expected the file's text, got {type(text).__name__}")
    if len(text) > max_file_bytes():
        raise CircuitFileError(f"the file is {len(text) / 2 ** 20:.1f} MB, over the limit of "
                               f"{max_file_bytes() / 2 ** 20:.1f} MB (WORKBENCH_MAX_FILE_BYTES)")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CircuitFileError(f"the file is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"the file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise CircuitFileError("the file is nested too deeply to be a circuit file") from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise CircuitFileError(f"the file holds a value that cannot be read: {e}") from None
    return doc
