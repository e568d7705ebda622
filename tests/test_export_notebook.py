"""The exported notebook explains the circuit, and a real Jupyter kernel runs it top to bottom to
the same spikes as the app's run (same dt and seed)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from simulations import Circuit, compile
from simulations.export import notebook_text, spike_counts, spikes_frame, to_dataframes

nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demos" / "stdp_demo.json"
SECONDS = 0.1


def test_notebook_runs_in_a_kernel_and_matches_the_app_run(tmp_path):
    c = Circuit.load(DEMO)
    nb = nbformat.reads(notebook_text(c, seconds=SECONDS), as_version=4)
    nbformat.validate(nb)
    markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    for name, block in c.blocks.items():  # every block listed with its type
        assert f"| `{name}` | {type(block).__name__} |" in markdown
    assert "`exc.spikes` → `ee.spikes`" in markdown
    counts_file = tmp_path / "counts.json"
    params = next(cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", []))
    params.source = f"COUNTS_FILE = {str(counts_file)!r}"
    # the same kernel then shows the workbench inline and streams a run from a cell into its views
    nb.cells.append(nbformat.v4.new_code_cell("wb = circuit.show()\nwb"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "wb.run_for(0.02).wait()\nprint('shown', wb.t, wb.workbench.dashboard.raster_points, wb.workbench.frames_sent)"))
    start = time.monotonic()
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    elapsed = time.monotonic() - start
    print(f"notebook executed in {elapsed:.1f} s")
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    sim = compile(c, dt=0.1, seed=0)  # what the app's Run compiles
    sim.run(SECONDS)
    assert json.loads(counts_file.read_text()) == spike_counts(sim)
    shown = nb.cells[-2].outputs
    assert any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in shown)  # Panel's view
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs).split()
    assert printed[:2] == ["shown", "200"] and int(printed[2]) > 0 and int(printed[3]) >= 1
    plot_outputs = nb.cells[-4].outputs
    assert any("application/vnd.holoviews_load.v0+json" in o.get("data", {}) or "text/html" in o.get("data", {})
               for o in plot_outputs)


def test_probes_as_dataframes():
    c = Circuit.load(DEMO)
    sim = compile(c, dt=0.1, seed=0)
    sim.run(0.05)
    frames = to_dataframes(sim)
    spikes = spikes_frame(sim, "exc")
    assert list(spikes.columns) == ["time_ms", "neuron"] and len(spikes) == spike_counts(sim)["exc"]
    v = frames["exc.v"]
    assert v.index.name == "time_ms" and v.shape == (500, 16)
