"""Circuit files: plain JSON with a schema version. Nothing in a file is ever executed (no
pickle); every value goes through the blocks' param validation on load."""
from __future__ import annotations

import json
import math

import param

from components import get_block_type

from .circuit import Circuit, CircuitError
from .errors import CircuitFileError, UnknownBlockError

FORMAT = "workbench-circuit"
SCHEMA_VERSION = 1


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def circuit_to_dict(circuit: Circuit) -> dict:
    blocks = []
    for name, data in circuit.graph.nodes(data=True):
        block = data["block"]
        entry = {"name": name, "type": type(block).__name__, "params": {k: _jsonable(v) for k, v in block.values().items()}}
        if data["position"] is not None:
            entry["position"] = list(data["position"])
        blocks.append(entry)
    wires = [{"source": f"{w.source}.{w.output}", "target": f"{w.target}.{w.input}"} for w in circuit.wires]
    return {"format": FORMAT, "version": SCHEMA_VERSION, "name": circuit.name, "blocks": blocks, "wires": wires}


def circuit_to_json(circuit: Circuit, indent: int | None = 1) -> str:
    return json.dumps(circuit_to_dict(circuit), indent=indent)


def _expect(value, kind, where: str):
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CircuitFileError(f"{where} should be a {names}, got {type(value).__name__}")
    return value


def circuit_from_dict(doc) -> Circuit:
    _expect(doc, dict, "the file's top level")
    if doc.get("format") != FORMAT:
        raise CircuitFileError(f"not a circuit file: 'format' is {doc.get('format')!r}, expected {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CircuitFileError(f"'version' should be an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise CircuitFileError(
            f"this file uses circuit schema version {version}, newer than this workbench reads "
            f"(up to {SCHEMA_VERSION}); update the workbench to open it"
        )
    circuit = Circuit(str(doc.get("name", "circuit")))
    for k, entry in enumerate(_expect(doc.get("blocks"), list, "'blocks'")):
        where = f"blocks[{k}]"
        _expect(entry, dict, where)
        name = _expect(entry.get("name"), str, f"{where}.name")
        type_name = _expect(entry.get("type"), str, f"{where}.type")
        params = _expect(entry.get("params", {}), dict, f"{where}.params")
        try:
            cls = get_block_type(type_name)
        except KeyError as e:
            raise UnknownBlockError(f"block {name!r}: {e.args[0]}") from None
        unknown = sorted(set(params) - set(cls.user_params()))
        if unknown:
            raise CircuitFileError(f"block {name!r} ({type_name}) has no parameter(s) {', '.join(unknown)}")
        values = {}
        for key, value in params.items():
            if isinstance(cls.param[key], param.Number) and isinstance(value, str):
                try:  # non-finite numbers are written as strings
                    value = float(value)
                except ValueError:
                    pass
            values[key] = value
        try:
            block = cls(**values)
        except (ValueError, TypeError) as e:
            raise CircuitFileError(f"block {name!r} ({type_name}): {e}") from None
        position = entry.get("position")
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2 and all(isinstance(v, (int, float)) for v in position)):
                raise CircuitFileError(f"{where}.position should be [x, y], got {position!r}")
            position = tuple(position)
        circuit.add(name, block, position)
    for k, entry in enumerate(_expect(doc.get("wires", []), list, "'wires'")):
        _expect(entry, dict, f"wires[{k}]")
        source = _expect(entry.get("source"), str, f"wires[{k}].source")
        target = _expect(entry.get("target"), str, f"wires[{k}].target")
        try:
            circuit.connect(source, target)
        except CircuitError as e:
            raise type(e)(f"wires[{k}]: {e}") from None
    return circuit


def circuit_from_json(text) -> Circuit:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise CircuitFileError(f"the file is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise CircuitFileError(f"the file is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    return circuit_from_dict(doc)
