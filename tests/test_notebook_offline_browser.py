"""An exported notebook renders its plots with no network: executed by a real kernel, converted
to HTML by nbconvert, opened in Chromium with every non-local request blocked."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from simulations import Circuit
from simulations.export import to_notebook

nbclient = pytest.importorskip("nbclient")
nbconvert = pytest.importorskip("nbconvert")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demos" / "stdp_demo.json"


def test_an_executed_notebook_renders_its_plots_offline(tmp_path, record_property, chromium):
    circuit = Circuit.load(DEMO)
    nb = to_notebook(circuit, seconds=0.05)
    env_path = os.environ.get("PYTHONPATH")
    nbclient.NotebookClient(nb, timeout=400, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    ipynb = tmp_path / "executed.ipynb"
    nbformat.write(nb, ipynb)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    page_file = tmp_path / "executed.html"
    page_file.write_text(html)
    sizes = {"ipynb_mb": round(ipynb.stat().st_size / 1e6, 2), "html_mb": round(page_file.stat().st_size / 1e6, 2)}
    record_property("notebook", sizes)
    print(f"executed notebook {sizes['ipynb_mb']} MB, HTML {sizes['html_mb']} MB (PYTHONPATH={env_path})")

    expected = sum(1 for path, view in _recorded_views(circuit) if view in ("raster", "trace", "scalar")) \
        + sum(1 for b in circuit.blocks.values() if "weights" in b.probes)
    blocked = []
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})  # the session's browser
    try:

        def route(r):
            if r.request.url.startswith(("file://", "data:", "blob:")):
                return r.continue_()
            blocked.append(r.request.url)
            return r.abort()

        page.route("**/*", route)
        page.goto(page_file.as_uri())
        canvases = 0
        for _ in range(180):  # Playwright's CSS locators pierce Bokeh's shadow roots
            canvases = page.locator("canvas").count()
            if canvases >= expected:
                break
            page.wait_for_timeout(500)
    finally:
        page.close()
    record_property("offline_canvases", canvases)
    print(f"{canvases} canvases for {expected} plots; blocked requests: {blocked[:5]}")
    assert canvases >= expected > 0


def _recorded_views(circuit):
    from simulations import compile

    sim = compile(circuit, record="default")
    return [(path, view) for path, view in sim.probe_paths().items() if path in sim.recorders]
