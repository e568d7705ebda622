"""The circuit document: edits, validation errors with their messages, and JSON files."""
import json

import pytest

from simulations import (
    SCHEMA_VERSION,
    Circuit,
    CircuitError,
    CircuitFileError,
    MissingInputError,
    PortKindError,
    SizeMismatchError,
    UnknownBlockError,
    UnknownPortError,
    compile,
)
from simulations.examples import cuba


def small():
    c = Circuit("small")
    c.add("drive", "PoissonInput", n=20, rate=30.0)
    c.add("syn", "Projection", p=0.5, weight=3.0)
    c.add("cells", "LIFPopulation", n=10)
    c.connect("drive.spikes", "syn.spikes")
    c.connect("syn.current", "cells.current")
    return c


def test_add_remove_connect_disconnect():
    c = small()
    assert set(c.blocks) == {"drive", "syn", "cells"} and len(c.wires) == 2
    c.disconnect("syn.current", "cells.current")
    assert len(c.wires) == 1
    block, wires = c.remove("drive")
    assert "drive" not in c.blocks and [str(w) for w in wires] == ["drive.spikes -> syn.spikes"]
    c.add("drive", block)  # undo
    for w in wires:
        c.connect((w.source, w.output), (w.target, w.input))
    c.connect("syn.current", "cells.current")
    c.validate()


def test_rename_keeps_wires():
    c = small()
    c.rename("cells", "neurons")
    assert {str(w) for w in c.wires} == {"drive.spikes -> syn.spikes", "syn.current -> neurons.current"}


@pytest.mark.parametrize("source, target, error, message", [
    ("nope.spikes", "syn.spikes", UnknownBlockError, "no block named 'nope'"),
    ("drive.spikes", "ghost.current", UnknownBlockError, "no block named 'ghost'"),
    ("drive.volts", "syn.spikes", UnknownPortError, "drive (PoissonInput) has no output 'volts'; outputs: spikes"),
    ("drive.spikes", "cells.dendrite", UnknownPortError, "cells (LIFPopulation) has no input 'dendrite'"),
    ("drive.spikes", "cells.current", PortKindError, "drive.spikes carries spikes but cells.current expects current"),
])
def test_wire_errors_name_the_problem(source, target, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        small().connect(source, target)


def test_size_mismatch_on_direct_wire():
    c = Circuit()
    c.add("drive", "CurrentInput", n=3)
    c.add("cells", "LIFPopulation", n=5)
    with pytest.raises(SizeMismatchError, match="drive gives 3 values but cells takes 5"):
        c.connect("drive.current", "cells.current")


def test_size_mismatch_through_projection_sizes():
    c = small()
    c.add("syn2", "Projection")
    c.connect("drive.spikes", "syn2.spikes")
    c.connect("syn2.current", "cells.current")
    c.validate()
    c.add("few", "PoissonInput", n=5)
    c.connect("few.spikes", "syn2.spikes")  # syn2 now sees 20 and 5 presynaptic neurons
    with pytest.raises(SizeMismatchError, match="size mismatch on few.spikes -> syn2.spikes"):
        c.validate()


def test_missing_required_input():
    c = Circuit()
    c.add("syn", "Projection")
    c.add("cells", "LIFPopulation", n=5)
    c.connect("syn.current", "cells.current")
    with pytest.raises(MissingInputError, match="syn \\(Projection\\) needs its 'spikes' input wired"):
        c.validate()
    with pytest.raises(MissingInputError):
        compile(c)


def test_unwired_projection_output_has_unknown_size():
    c = Circuit()
    c.add("drive", "PoissonInput", n=5)
    c.add("syn", "Projection")
    c.connect("drive.spikes", "syn.spikes")
    with pytest.raises(MissingInputError, match="syn.current is not wired, so its size is unknown"):
        c.validate()


def test_edges_outside_the_wired_sizes_are_refused():
    c = small()
    c.block("syn").connectivity = "edges"
    c.block("syn").edges = [[0, 0], [25, 3]]
    with pytest.raises(SizeMismatchError, match=r"edge 1 \(25 -> 3\) is outside the wired sizes 20 pre x 10 post"):
        c.validate()


def test_out_of_range_parameter_is_refused_with_its_bound():
    c = small()
    with pytest.raises(ValueError, match="tau_m.*at least 0.01"):
        c.block("cells").tau_m = -1.0
    assert c.block("cells").tau_m == 20.0


def test_duplicate_and_bad_names():
    c = small()
    with pytest.raises(CircuitError, match="already exists"):
        c.add("cells", "LIFPopulation")
    with pytest.raises(CircuitError, match="must be an identifier"):
        c.add("two words", "LIFPopulation")
    with pytest.raises(UnknownBlockError, match="unknown block type 'Unicorn'"):
        c.add("u", "Unicorn")


def test_json_round_trip_keeps_everything():
    c = cuba(n=200, stdp_on_ee=True)
    again = Circuit.from_json(c.to_json())
    assert again.to_json() == c.to_json()
    assert [str(w) for w in again.wires] == [str(w) for w in c.wires]
    assert again.block("exc").values() == c.block("exc").values()


def doc():
    return json.loads(small().to_json())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(version=SCHEMA_VERSION + 1), "newer than this workbench reads"),
    (lambda d: d.update(format="something-else"), "not a circuit file"),
    (lambda d: d.update(version="1"), "'version' should be an integer"),
    (lambda d: d.update(blocks={"a": 1}), "'blocks' should be a list, got dict"),
    (lambda d: d["blocks"][0].update(type="Unicorn"), "block 'drive': unknown block type 'Unicorn'"),
    (lambda d: d["blocks"][0]["params"].update(rate="fast"), "block 'drive' \\(PoissonInput\\):.*rate"),
    (lambda d: d["blocks"][0]["params"].update(rate=-5.0), "block 'drive' \\(PoissonInput\\):.*at least 0"),
    (lambda d: d["blocks"][0]["params"].update(colour="red"), "has no parameter\\(s\\) colour"),
    (lambda d: d["blocks"][0].update(name=7), "blocks\\[0\\].name should be a str"),
    (lambda d: d["wires"].append({"source": "drive.spikes", "target": "cells.current"}), "wires\\[2\\]: .*carries spikes"),
    (lambda d: d["wires"].append({"source": "drive"}), "wires\\[2\\].target should be a str"),
])
def test_bad_files_are_refused_with_a_clear_message(mutate, message):
    d = doc()
    mutate(d)
    with pytest.raises(CircuitError, match=message):
        Circuit.from_json(json.dumps(d))


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "top level should be a dict"),
    (b"\xff\xfe\x00", "not UTF-8"),
    ("", "not valid JSON"),
])
def test_malformed_files(text, message):
    with pytest.raises(CircuitFileError, match=message):
        Circuit.from_json(text)


def test_save_and_load_file(tmp_path):
    c = small()
    c.save(tmp_path / "c.json")
    assert Circuit.load(tmp_path / "c.json").to_json() == c.to_json()


def test_block_declarations_with_clashing_port_names_are_refused():
    from components import Block, Port

    with pytest.raises(TypeError, match="both an input and an output"):
        type("_Clash", (Block,), {"inputs": {"x": Port("value")}, "outputs": {"x": Port("value")}})
    with pytest.raises(TypeError, match="'target' is reserved"):
        type("_Reserved", (Block,), {"inputs": {"target": Port("value")}})
