"""Modules (sub-circuits): group/ungroup, reuse, files (own and nested, hostile ones refused),
compile flattening to the flat circuit's spikes, and script/notebook exports that keep the
structure and reproduce the spikes (issue 14)."""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulations import Circuit, CircuitError, CircuitFileError, Module, compile
from simulations.export import build_code, notebook_text, spike_counts, to_script

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 0.2


def ei_circuit() -> Circuit:
    """Poisson drive into an E-I pair with recurrence: it fires, and its loop crosses any grouping."""
    c = Circuit("ei")
    c.add("drive", "PoissonInput", n=40, rate=40.0, position=(0.0, 0.0))
    c.add("ff", "Projection", p=0.3, weight=30.0, position=(250.0, 0.0))
    c.add("exc", "LIFPopulation", n=40, position=(500.0, 0.0))
    c.add("ei", "Projection", p=0.2, weight=20.0, position=(750.0, 0.0))
    c.add("inh", "LIFPopulation", n=10, position=(1000.0, 0.0))
    c.add("ie", "Projection", p=0.3, weight=-15.0, position=(750.0, 150.0))
    c.connect("drive.spikes", "ff.spikes")
    c.connect("ff.current", "exc.current")
    c.connect("exc.spikes", "ei.spikes")
    c.connect("ei.current", "inh.current")
    c.connect("inh.spikes", "ie.spikes")
    c.connect("ie.current", "exc.current")
    return c


def spikes(circuit: Circuit, seed: int = 3) -> dict[str, tuple]:
    sim = compile(circuit, dt=0.1, seed=seed)
    sim.run(SECONDS)
    return {n: sim.spikes(n) for n, b in circuit.blocks.items() if "spikes" in b.probes
            and b.probes["spikes"].view == "raster"}


def same_spikes(a: dict, b: dict, rename=lambda n: n):
    assert {rename(n) for n in a} == set(b)
    for n, (t, i) in a.items():
        t2, i2 = b[rename(n)]
        assert np.array_equal(t, t2) and np.array_equal(i, i2), n


def test_group_makes_ports_from_crossing_wires_and_ungroup_restores_the_document():
    c = ei_circuit()
    before = c.to_json()
    flat = c.group(["ei", "inh", "ie"], "inhibition")
    assert flat == "inhibition"
    assert {"inhibition__ei", "inhibition__inh", "inhibition__ie"} <= set(c.graph.nodes)
    ports = c.modules["inhibition"].ports
    assert set(ports.values()) == {("inhibition__ei", "spikes"), ("inhibition__ie", "current")}
    # the module's ports can be wired by name, and a wrong port is named in the error
    c2 = ei_circuit()
    c2.group(["ei", "inh", "ie"], "inh_mod")
    with pytest.raises(CircuitError, match="no exposed port 'nope'"):
        c2.connect("exc.spikes", "inh_mod.nope")
    c.ungroup("inhibition")
    assert not c.modules and c.to_json() == before


def test_compile_flattens_to_the_same_spikes_as_the_flat_circuit_nested_too():
    flat = spikes(ei_circuit())
    assert sum(len(t) for t, _ in flat.values()) > 50  # it fires
    c = ei_circuit()
    c.group(["ei", "inh", "ie"], "inner")
    c.group(["ff", "exc", "inner"], "outer")  # a module inside a module
    assert set(c.modules) == {"outer", "outer__inner"}
    names = {"drive": "drive", "exc": "outer__exc", "inh": "outer__inner__inh"}
    same_spikes(flat, spikes(c), names.get)
    same_spikes(flat, spikes(Circuit.from_json(c.to_json())), names.get)  # and after a file round trip


def test_module_reused_twice_equals_the_hand_flattened_circuit_and_module_files_round_trip(tmp_path):
    c = ei_circuit()
    c.group(["ff", "exc", "ei", "inh", "ie"], "column")
    module = c.module("column")
    assert isinstance(module, Module) and set(module.ports) == {"spikes"}
    path = tmp_path / "column.json"
    module.save(path)
    assert json.loads(path.read_text())["format"] == "workbench-module"
    again = Module.load(path)
    assert again.to_json() == module.to_json()
    c.add("column2", again)
    c.connect("drive.spikes", "column2.spikes")
    # the same circuit written out flat by hand
    hand = ei_circuit()
    for name, data in list(hand.graph.nodes(data=True)):
        if name != "drive":
            hand.rename(name, f"column__{name}")
    twin = ei_circuit()
    for name, data in twin.graph.nodes(data=True):
        if name != "drive":
            hand.add(f"column2__{name}", copy.deepcopy(data["block"]), data["position"])
    for w in twin.wires:
        if w.source != "drive":
            hand.connect(f"column2__{w.source}.{w.output}", f"column2__{w.target}.{w.input}")
    hand.connect("drive.spikes", "column2__ff.spikes")
    same_spikes(spikes(hand), spikes(c))


def test_file_keeps_the_structure_and_old_readers_get_version_1_without_modules():
    c = ei_circuit()
    assert json.loads(c.to_json())["version"] == 1
    c.group(["ei", "inh", "ie"], "inhibition")
    c.modules["inhibition"].collapsed = False
    doc = json.loads(c.to_json())
    assert doc["version"] == 2
    assert [b["name"] for b in doc["blocks"]] == ["drive", "ff", "exc"]
    (entry,) = doc["modules"]
    assert entry["name"] == "inhibition" and entry["collapsed"] is False
    assert [b["name"] for b in entry["blocks"]] == ["ei", "inh", "ie"]  # local names inside
    assert {"source": "exc.spikes", "target": "inhibition.spikes"} in doc["wires"]
    back = Circuit.from_json(c.to_json())
    assert back.to_json() == c.to_json() and back.modules["inhibition"].collapsed is False


def test_a_group_in_the_middle_runs_the_same_after_save_and_load_and_in_the_script(tmp_path):
    """Grouping keeps the blocks' order (it fixes the random draws); the file and the script
    restore it, though nesting writes a module's blocks after the level's own."""
    c = ei_circuit()
    base = spikes(c)
    c.group(["ff", "exc"], "mid")
    grouped = spikes(c)
    same_spikes(base, grouped, {"drive": "drive", "exc": "mid__exc", "inh": "inh"}.get)
    doc = json.loads(c.to_json())
    assert doc["order"] == ["drive", "mid__ff", "mid__exc", "ei", "inh", "ie"]
    same_spikes(grouped, spikes(Circuit.from_json(c.to_json())))
    namespace = {}
    exec(compile_source(build_code(c)), namespace)  # noqa: S102 - our own generated code
    assert list(namespace["circuit"].graph.nodes) == list(c.graph.nodes)
    same_spikes(grouped, spikes(namespace["circuit"]))
    module = c.module("mid")
    module.circuit.reorder(["exc", "ff"])
    assert Module.from_json(module.to_json()).circuit.graph.nodes.__iter__().__next__() == "exc"
    for bad in (["drive"], ["drive"] * 6, [{}] * 6, "drive"):
        doc["order"] = bad
        with pytest.raises(CircuitFileError, match="order"):
            Circuit.from_json(json.dumps(doc))


def grouped_doc() -> dict:
    c = ei_circuit()
    c.group(["ei", "inh", "ie"], "inhibition")
    return json.loads(c.to_json())


def nested(levels: int) -> dict:
    """A file whose module holds a module ... ``levels`` deep, each exposing the LIF's input."""
    inner = {"name": "m", "label": "m", "blocks": [{"name": "lif", "type": "LIFPopulation", "params": {"n": 2}}],
             "ports": [{"name": "i", "endpoint": "lif.current"}], "wires": []}
    for _ in range(levels - 1):
        inner = {"name": "m", "label": "m", "blocks": [], "modules": [inner], "wires": [],
                 "ports": [{"name": "i", "endpoint": "m.i"}]}
    return {"format": "workbench-circuit", "version": 2, "name": "deep", "blocks": [], "modules": [inner], "wires": []}


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["modules"][0].update(name="a.b"), "must be an identifier"),
    (lambda d: d["modules"][0].update(name="__import__('os')"), "must be an identifier"),
    (lambda d: d["modules"][0].update(name="in__side"), "without '__'"),
    (lambda d: d["modules"][0].update(name="exc"), "already exists|is taken"),
    (lambda d: d["modules"][0]["ports"].append({"name": "x", "endpoint": "nothere.spikes"}), "no block named"),
    (lambda d: d["modules"][0]["ports"].append({"name": "bad name", "endpoint": "inh.spikes"}), "identifier"),
    (lambda d: d["modules"][0]["ports"].append({"name": "spikes", "endpoint": "inh.spikes"}), "appears twice"),
    (lambda d: d["modules"][0]["ports"].append({"name": "y", "endpoint": "ei.spikes"}), "exposed twice"),
    (lambda d: d["modules"][0]["ports"].append({"name": "z", "endpoint": "inh.nope"}), "no port 'nope'"),
    (lambda d: d["modules"][0]["ports"].append({"name": "z", "endpoint": 5}), "should be a str"),
    (lambda d: d["modules"][0].update(blocks="x"), "blocks' should be a list"),
    (lambda d: d["modules"][0].update(collapsed="yes"), "collapsed should be a bool"),
    (lambda d: d["modules"][0].update(position=[1e300, 0]), "position should be"),
    (lambda d: d["modules"][0].update(label="x" * 500), "at most"),
    (lambda d: d["wires"].append({"source": "exc.spikes", "target": "inhibition.hidden"}), "no exposed port"),
    (lambda d: d["modules"].append(dict(d["modules"][0])), "already exists|is taken"),
    (lambda d: d.update(nested(12)), "nested"),
])
def test_hostile_module_files_are_refused_with_a_specific_error(edit, message):
    doc = grouped_doc()
    edit(doc)
    with pytest.raises(CircuitError, match=message):
        Circuit.from_json(json.dumps(doc))


def test_nesting_depth_limit_and_a_legal_deep_module():
    deep = Circuit.from_json(json.dumps(nested(8)))
    assert "m__m__m__m__m__m__m__m__lif" in deep.graph
    with pytest.raises(CircuitFileError, match="nested"):
        Circuit.from_json(json.dumps(nested(9)))
    with pytest.raises(CircuitFileError, match="nested"):  # the JSON depth check sees it first
        Circuit.from_json('{"format": "workbench-circuit", "version": 2, "modules": ' + "[{\"modules\": " * 30
                          + "[]" + "}]" * 30 + "}")


def test_a_loop_through_module_ports_compiles_like_the_flat_loop():
    """Cycles: the E -> I -> E loop leaves and re-enters a module through its ports."""
    c = ei_circuit()
    c.group(["inh"], "pool")  # ei -> pool.current, pool.spikes -> ie
    assert set(c.modules["pool"].ports) == {"current", "spikes"}
    same_spikes(spikes(ei_circuit()), spikes(c), {"drive": "drive", "exc": "exc", "inh": "pool__inh"}.get)


def test_script_export_writes_a_builder_per_module_and_reproduces_the_spikes(tmp_path):
    c = ei_circuit()
    label = "I'); import os  # hostile label\n\"\"\"\nraise SystemExit"
    c.group(["ei", "inh", "ie"], "inhibition", label=label)
    c.add("second", c.module("inhibition"))
    c.connect("exc.spikes", "second.spikes")
    c.connect("second.current", "exc.current")
    code = build_code(c)
    assert code.count("def build_inhibition():") == 1 and "build_second" not in code  # one builder, used twice
    assert "circuit.add('inhibition', build_inhibition()" in code and "circuit.add('second', build_inhibition()" in code
    assert "\nimport os" not in code and "\nraise" not in code and f"Circuit({label!r})" in code
    namespace = {}
    exec(compile_source(code), namespace)  # noqa: S102 - our own generated code, checked above
    assert namespace["circuit"].to_json() == c.to_json()
    path = tmp_path / "ei.py"
    path.write_text(to_script(c, seconds=SECONDS))
    out = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    printed = {m[0]: int(m[1]) for m in re.findall(r"^(\w+): (\d+) spikes", out.stdout, re.M)}
    sim = compile(c, dt=0.1, seed=0)
    sim.run(SECONDS)
    assert printed == spike_counts(sim) and printed["second__inh"] > 0


def compile_source(code: str):
    import builtins

    return builtins.compile(code, "<export>", "exec")


def test_notebook_export_keeps_modules_and_runs_to_the_same_spikes(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    import nbformat

    c = ei_circuit()
    c.group(["ei", "inh", "ie"], "inhibition")
    nb = nbformat.reads(notebook_text(c, seconds=SECONDS), as_version=4)
    sources = "\n".join(cell.source for cell in nb.cells)
    assert "def build_inhibition():" in sources and "## Modules" in sources
    counts_file = tmp_path / "counts.json"
    params = next(cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", []))
    params.source = f"COUNTS_FILE = {str(counts_file)!r}"
    nb.cells = [cell for cell in nb.cells if "hv.Layout" not in cell.source]  # the plots are tested elsewhere
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    sim = compile(c, dt=0.1, seed=0)
    sim.run(SECONDS)
    assert json.loads(counts_file.read_text()) == spike_counts(sim)


def test_renames_keep_blocks_in_their_module_and_removal_drops_ports():
    c = ei_circuit()
    c.group(["ei", "inh", "ie"], "inhibition")
    c.rename("inhibition__inh", "inhibition__pool")
    assert "inhibition__pool" in c.graph
    with pytest.raises(CircuitError, match="into or out of a module"):
        c.rename("inhibition__pool", "pool")
    with pytest.raises(CircuitError, match="into or out of a module"):
        c.rename("exc", "inhibition__exc")
    c.rename("inhibition", "inh_group")
    assert set(c.modules) == {"inh_group"} and "inh_group__pool" in c.graph
    Circuit.from_json(c.to_json()).validate()
    c.remove("inh_group__ei")
    assert ("inh_group__ei", "spikes") not in c.modules["inh_group"].ports.values()
    module, wires = c.remove("inh_group")
    assert not c.modules and not any(n.startswith("inh_group") for n in c.graph) and wires
    assert isinstance(module, Module)


def test_grouping_refuses_mixed_levels_and_taken_names():
    c = ei_circuit()
    c.group(["ei", "inh"], "pair")
    with pytest.raises(CircuitError, match="same level"):
        c.group(["exc", "pair__inh"], "x")
    with pytest.raises(CircuitError, match="taken"):
        c.group(["exc"], "pair")
    with pytest.raises(CircuitError, match="no block or module"):
        c.group(["ghost"], "g")
    with pytest.raises(CircuitError, match="taken outside"):
        c.add("inh", "LIFPopulation", n=3)
        c.ungroup("pair")
    assert "pair" in c.modules  # a refused ungroup changes nothing


def test_editor_shows_a_collapsed_module_as_one_node_on_its_ports_and_undoes_grouping():
    """The canvas adapter (no browser): nodes, edges on module ports, frame, rename, undo."""
    from workbench.editor import CircuitEditor

    editor = CircuitEditor(ei_circuit(), lambda kind: None, lambda name: None, lambda text, level: None)
    before = editor.circuit.to_json()
    editor.group(["ei", "inh", "ie"], "inhibition")
    ids = [n["id"] for n in editor.flow.nodes]
    assert ids == ["drive", "ff", "exc", "inhibition"]
    edges = {(e["source"], e["sourceHandle"], e["target"], e["targetHandle"]) for e in editor.flow.edges}
    assert edges == {("drive", "spikes", "ff", "spikes"), ("ff", "current", "exc", "current"),
                     ("exc", "spikes", "inhibition", "spikes"), ("inhibition", "current", "exc", "current")}
    handles = editor.flow.node_types["wbmodule_inhibition"]
    handles = handles if isinstance(handles, dict) else handles.to_dict()
    assert [h["id"] for h in handles["inputs"]] == ["spikes"] and [h["id"] for h in handles["outputs"]] == ["current"]
    editor.set_collapsed("inhibition", False)
    ids = [n["id"] for n in editor.flow.nodes]
    assert ids[0] == "frame:inhibition" and {"inhibition__ei", "inhibition__inh", "inhibition__ie"} <= set(ids)
    assert len(editor.flow.edges) == 6
    assert editor.rename("inhibition__inh", "pool") == "inhibition__pool"  # the typed name keeps the prefix
    editor.undo()
    editor.undo()
    editor.undo()
    assert editor.circuit.to_json() == before
    editor.redo()
    assert "inhibition" in editor.circuit.modules
    assert sorted(editor.ungroup("inhibition")) == ["ei", "ie", "inh"]
    assert [n["id"] for n in editor.flow.nodes] == ["drive", "ff", "exc", "ei", "inh", "ie"]
    editor.undo()
    assert [n["id"] for n in editor.flow.nodes] == ["drive", "ff", "exc", "inhibition"]
