"""The gallery in a real headless browser: open it, open a demo, run it, see its views and
its live demo metric update."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")

from workbench.serve import CHROMIUM_ARGS, chromium_path, start_server, stop_server  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test-output"


def _source_len(page, name: str, column: str = "t") -> int:
    return page.evaluate(
        """([name, column]) => { for (const d of Bokeh.documents) {
             const found = [...d.all_models].filter((m) => m.name === name);
             if (found.length) return (found[found.length - 1].data[column] || []).length; }
           return -1; }""", [name, column])


def _wait(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_gallery_opens_a_demo_whose_views_and_live_metric_update():
    proc, url = start_server()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1500, "height": 1300})
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector(".react-flow__node", timeout=30000)
            page.get_by_role("button", name="Gallery", exact=True).click()
            page.wait_for_selector(".wb-demo-card", timeout=10000)
            assert page.locator(".wb-demo-card").count() == 6
            assert page.locator(".wb-demo-card img").count() == 6  # thumbnails
            page.get_by_role("button", name="Open Continual learning without forgetting", exact=True).click()
            _wait(lambda: {"taskA", "taskB", "hlop", "syn"} <= set(page.eval_on_selector_all(
                ".react-flow__node", "els => els.map(e => e.dataset.id)")), what="the demo's circuit on the canvas")
            page.wait_for_selector(".wb-demo-panel", timeout=10000)
            page.get_by_role("button", name="▶ Run", exact=True).click()
            _wait(lambda: _source_len(page, "wb-raster") > 0, what="the raster to stream")
            first = _wait(lambda: _source_len(page, "wb-demo-live-continual") >= 2 and
                          _source_len(page, "wb-demo-live-continual"), what="the live demo metric")
            _wait(lambda: _source_len(page, "wb-demo-live-continual") > first, what="the live metric to grow")
            OUT.mkdir(exist_ok=True)
            page.screenshot(path=str(OUT / "gallery_demo_running.png"), full_page=True)
            page.get_by_role("button", name="Pause", exact=True).click()
            assert errors == [], errors
            browser.close()
    finally:
        stop_server(proc)
