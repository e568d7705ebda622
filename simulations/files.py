"""Circuit files: plain JSON with a schema version. Nothing in a file is ever executed (no
pickle); every value goes through the blocks' param validation on load. A file is refused,
with a CircuitFileError, when it is larger than ``WORKBENCH_MAX_FILE_BYTES`` (default 64 MB)
or nested deeper than ``MAX_DEPTH``."""
from __future__ import annotations

import json
import math
import os

import param

from components import get_block_type
from components.base import short

from .circuit import Circuit, CircuitError
from .errors import CircuitFileError, UnknownBlockError

FORMAT = "workbench-circuit"
SCHEMA_VERSION = 1
MAX_DEPTH = 16  # a circuit file needs 5 (document, blocks, block, params, table row)
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
        raise CircuitFileError(f"not a circuit file: 'format' is {short(doc.get('format'))}, expected {FORMAT!r}")
    _check_depth(doc)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CircuitFileError(f"'version' should be an integer, got {short(version)}")
    if version > SCHEMA_VERSION:
        raise CircuitFileError(
            f"this file uses circuit schema version {version}, newer than this workbench reads "
            f"(up to {SCHEMA_VERSION}); update the workbench to open it"
        )
    name = _expect(doc.get("name", "circuit"), str, "'name'")
    if len(name) > MAX_NAME:
        raise CircuitFileError(f"'name' has {len(name)} characters; at most {MAX_NAME}")
    circuit = Circuit(name)
    for k, entry in enumerate(_expect(doc.get("blocks"), list, "'blocks'")):
        where = f"blocks[{k}]"
        _expect(entry, dict, where)
        name = _expect(entry.get("name"), str, f"{where}.name")
        type_name = _expect(entry.get("type"), str, f"{where}.type")
        params = _expect(entry.get("params", {}), dict, f"{where}.params")
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
        position = entry.get("position")
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                            and abs(v) < 1e9 for v in position)):
                raise CircuitFileError(f"{where}.position should be [x, y] (finite numbers), got {short(position)}")
            position = tuple(position)
        circuit.add(name, type_name, position, **values)
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
    return circuit_from_dict(doc)
