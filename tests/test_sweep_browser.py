"""A sweep from the browser: inspector -> Sweep... -> range and metric; the curve fills in from a
real Dask cluster with the numbers of one batched run; clicking a point loads that variant."""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from browser_page import OUT, Page
from simulations import Circuit, compile
from simulations.sweeps import default_record

DEMO = Path(__file__).resolve().parent.parent / "assets" / "demos" / "stdp_demo.json"


@pytest.fixture
def page(chromium, workbench_url):
    p = Page(chromium, workbench_url)
    yield p
    p.close()


def click_point(page, index: int) -> None:
    """A real mouse click on point ``index`` of the sweep plot, placed through Bokeh's scales."""
    x, y = page.page.evaluate(
        """(index) => { for (const d of Bokeh.documents) {
             const newest = (name) => [...d.all_models].filter((m) => m.name === name).pop();
             const plot = newest('wb-sweep-plot'), source = newest('wb-sweep');
             if (!plot) continue;
             const walk = (v) => { if (v.model === plot) return v;
               for (const child of (typeof v.children === 'function' ? v.children() : [])) {
                 const found = walk(child); if (found) return found; } };
             const roots = typeof Bokeh.index.roots === 'function' ? Bokeh.index.roots() : Bokeh.index.roots;
             const view = [...roots].map(walk).find((v) => v);
             view.canvas_view.el.scrollIntoView({block: 'center'});
             const box = view.canvas_view.el.getBoundingClientRect();
             return [box.left + view.frame.x_scale.compute(source.data.x[index]),
                     box.top + view.frame.y_scale.compute(source.data.y[index])]; } }""", index)
    page.page.mouse.click(x, y)


def test_sweep_from_the_inspector_fills_a_curve_and_loads_a_clicked_variant(page):
    page.select("exc")
    page.button("Sweep...")
    # 100 ms, plus a fraction of a step that changes the cache key but not the run: so the
    # workers run it (a re-run of the suite would otherwise read the server's sweep cache)
    duration = 100.0 + random.randrange(1, 400) / 10000
    for name, value in [("from", 10), ("to", 30), ("points", 4), ("duration", duration)]:
        box = page.page.locator(f".wb-sweep-{name} input").first
        box.fill(str(value))
        box.press("Enter")
    page.page.locator(".wb-sweep-param select").select_option("tau_m")
    page.page.locator(".wb-sweep-metric select").select_option("rate_exc")
    page.button("Start sweep")
    finite = lambda: [v for v in page.source("wb-sweep", "value") or [] if v is not None and not math.isnan(v)]
    page.wait_for(lambda: len(finite()) == 4, timeout=150, what="the sweep curve to fill in: "
                  + page.text(".wb-sweep-status"))
    page.wait_for(lambda: "Sweep done: 4 of 4 runs" in page.text(".wb-sweep-status"), what="the sweep to end")

    taus = np.linspace(10, 30, 4)
    circuit = Circuit.load(DEMO)
    sim = compile(circuit, seed=0, record=default_record(circuit), variants={"exc.tau_m": taus}).run(0.1)
    np.testing.assert_array_equal(page.source("wb-sweep", "value"), sim.rates("exc"))
    assert page.source("wb-sweep", "x") == list(taus)
    OUT.mkdir(exist_ok=True)
    page.page.screenshot(path=str(OUT / "sweep_curve.png"), full_page=True)

    click_point(page, 2)
    page.wait_for(lambda: "Loaded the variant exc: tau_m = 23.33" in page.message(), what="the variant loaded")
    assert float(page.page.locator(".wb-param-tau_m input").first.input_value()) == pytest.approx(taus[2], rel=1e-4)
    assert page.errors == []

    # a second parameter makes it a heatmap; clicking a cell loads both values
    page.page.locator(".wb-sweep-param2 select").select_option("t_ref")
    box = page.page.locator(".wb-sweep-points input").first
    box.fill("3")
    box.press("Enter")
    page.button("Start sweep")
    page.wait_for(lambda: len(finite()) == 9 and "Sweep done" in page.text(".wb-sweep-status"), timeout=150,
                  what="the heatmap to fill in: " + page.text(".wb-sweep-status"))
    taus, refs = np.linspace(10, 30, 3), np.linspace(1.0, 3.0, 3)  # t_ref: half to 1.5 x its value, 2 ms
    sim = compile(circuit, seed=0, record=default_record(circuit),
                  variants={"exc.tau_m": np.repeat(taus, 3), "exc.t_ref": np.tile(refs, 3)}).run(0.1)
    np.testing.assert_array_equal(page.source("wb-sweep", "value"), sim.rates("exc"))
    page.page.screenshot(path=str(OUT / "sweep_heatmap.png"), full_page=True)
    click_point(page, 5)
    page.wait_for(lambda: "tau_m = 20, t_ref = 3 onto" in page.message(), what="the cell's variant loaded")
    assert float(page.page.locator(".wb-param-t_ref input").first.input_value()) == 3.0
    assert page.errors == []
