"""The workbench in a real headless browser against the real server (``python app.py``).

Needs the Python package playwright and a Chromium: a system one (Debian package
``chromium``, found on PATH or via WORKBENCH_CHROMIUM) or Playwright's own.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

playwright = pytest.importorskip("playwright.sync_api")

from workbench.serve import CHROMIUM_ARGS, chromium_path, start_server, stop_server  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "test-output"
DEMO_BLOCKS = 9
DEMO_WIRES = 12


@pytest.fixture(scope="module")
def server():
    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A workbench page with the checks the tests share; records failed requests and errors."""

    def __init__(self, browser, url):
        self.context = browser.new_context(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        self.page = self.context.new_page()
        self.failed, self.errors = [], []
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.url = url
        self.open()

    def open(self):
        self.page.goto(self.url)
        self.page.wait_for_selector(".react-flow__node", timeout=30000)

    def close(self):
        self.context.close()

    # -- reading the page ------------------------------------------------------------------------
    def nodes(self) -> set[str]:
        return set(self.page.eval_on_selector_all(".react-flow__node", "els => els.map(e => e.dataset.id)"))

    def edges(self) -> int:
        return self.page.locator(".react-flow__edge").count()

    def source(self, name: str, column: str):
        """A column of the named Bokeh data source in this page (None until it exists)."""
        return self.page.evaluate(
            """([name, column]) => { for (const d of Bokeh.documents) {
                 const found = [...d.all_models].filter((m) => m.name === name);  // newest last
                 if (found.length) return Array.from(found[found.length - 1].data[column] || []); }
               return null; }""", [name, column])

    def raster_points(self) -> int:
        t = self.source("wb-raster", "t")
        return -1 if t is None else len(t)

    def text(self, selector: str) -> str:
        """Visible text of a Panel component (its content lives in a shadow root)."""
        return self.page.eval_on_selector_all(
            selector, """els => els.map(e => e.shadowRoot ? Array.from(e.shadowRoot.children)
                 .filter(c => !['STYLE', 'LINK'].includes(c.tagName)).map(c => c.innerText).join(' ')
                 : e.innerText).join(' ')""").strip()

    def message(self) -> str:
        return self.text(".wb-message")

    def wait_for(self, predicate, timeout=20.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    # -- acting ----------------------------------------------------------------------------------
    def button(self, name: str):
        self.page.get_by_role("button", name=name, exact=True).click()

    def handle(self, node: str, port: str):
        return self.page.locator(f'.react-flow__handle[data-nodeid="{node}"][data-handleid="{port}"]')

    def drag_wire(self, source: tuple[str, str], target: tuple[str, str], release=True):
        s, t = self.handle(*source).bounding_box(), self.handle(*target).bounding_box()
        self.page.mouse.move(s["x"] + s["width"] / 2, s["y"] + s["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(t["x"] + 30, t["y"] + 30, steps=5)
        time.sleep(0.4)  # the server answers the connection validation request
        self.page.mouse.move(t["x"] + t["width"] / 2, t["y"] + t["height"] / 2, steps=5)
        time.sleep(0.4)
        if release:
            self.page.mouse.up()

    def select(self, node: str):
        self.page.locator(f'.react-flow__node[data-id="{node}"]').click()
        self.wait_for(lambda: self.page.get_by_role("button", name=f"Delete {node}").count() > 0, 10,
                      f"the inspector showing {node}")

    def set_param(self, name: str, value):
        box = self.page.locator(f".wb-param-{name} input").first
        box.fill(str(value))
        box.press("Enter")

    def upload(self, name: str, content: bytes):
        self.page.locator(".wb-open input[type=file]").set_input_files(
            {"name": name, "mimeType": "application/json", "buffer": content})


@pytest.fixture
def page(browser, server):
    p = Page(browser, server)
    yield p
    p.close()


def test_page_loads_with_demo_and_no_failed_requests(page):
    assert len(page.nodes()) == DEMO_BLOCKS
    assert {"input", "exc", "inh", "inp", "stdp"} <= page.nodes()
    assert page.edges() == DEMO_WIRES
    time.sleep(1)
    assert page.failed == []
    assert page.errors == []


def test_add_block_by_click_and_by_drag_then_wire(page):
    palette_item = page.page.locator("[draggable=true]").filter
    palette_item(has=page.page.get_by_text("Projection", exact=True)).first.click()
    page.wait_for(lambda: "projection1" in page.nodes(), what="projection1 on the canvas")
    pane = page.page.locator(".react-flow__pane")
    palette_item(has=page.page.get_by_text("PoissonInput", exact=True)).first.drag_to(
        pane, target_position={"x": 150, "y": 330})
    page.wait_for(lambda: "poisson1" in page.nodes(), what="poisson1 dropped on the canvas")
    page.page.locator(".react-flow__controls-fitview").click()
    time.sleep(0.5)
    page.drag_wire(("poisson1", "spikes"), ("projection1", "spikes"))
    page.wait_for(lambda: "Wired poisson1.spikes -> projection1.spikes" in page.message(), what="the wire accepted")
    assert page.edges() == DEMO_WIRES + 1


def test_refused_wire_shows_its_reason(page):
    page.drag_wire(("exc", "spikes"), ("inh", "current"), release=False)
    target = page.handle("inh", "current")
    tooltip = target.get_attribute("data-tooltip")
    assert "rf-handle-invalid" in target.get_attribute("class")
    page.page.mouse.up()
    assert tooltip == "cannot wire exc.spikes -> inh.current: exc.spikes carries spikes but inh.current expects current"
    time.sleep(0.5)
    assert page.edges() == DEMO_WIRES


def test_run_grows_the_raster_and_pause_stops_it(page):
    page.button("▶ Run")
    first = page.wait_for(lambda: page.raster_points() > 0 and page.raster_points(), what="first raster points")
    page.wait_for(lambda: page.raster_points() > first, what="the raster to grow")
    assert page.source("wb-rates", "t"), "population rates stream too"
    OUT.mkdir(exist_ok=True)
    time.sleep(1.0)
    page.page.screenshot(path=str(OUT / "workbench_running.png"), full_page=True)
    page.button("Pause")
    time.sleep(0.5)
    t_pause = page.source("wb-rates", "t")[-1]
    time.sleep(1.5)
    assert page.source("wb-rates", "t")[-1] == t_pause, "no new data after Pause"
    status = page.text(".wb-status")
    assert status.startswith("paused")
    page.button("Step")
    page.wait_for(lambda: page.source("wb-rates", "t")[-1] > t_pause, what="Step to advance")
    page.button("Reset")
    page.wait_for(lambda: page.raster_points() == 0, what="Reset to clear the raster")


def _mean_rate(page, column, after_ms):
    t, r = page.source("wb-rates", "t"), page.source("wb-rates", column)
    values = [v for tt, v in zip(t, r) if tt > after_ms]
    return sum(values) / len(values) if values else None, len(values)


def test_live_parameter_change_alters_rate_and_bounds_are_enforced(page):
    page.select("input")
    page.set_param("rate", 5000)
    page.wait_for(lambda: "must be at most 1000" in page.text(".wb-param-error"),
                  what="the bound in the error message")
    page.button("▶ Run")
    page.wait_for(lambda: len(page.source("wb-rates", "t") or []) > 15, what="rate bins")
    high, _ = _mean_rate(page, "exc__spikes", 0)
    page.set_param("rate", 2)
    # the promise: the activity changes within a second of the knob moving
    time.sleep(1.0)
    t_change = page.source("wb-rates", "t")[-1]
    page.wait_for(lambda: _mean_rate(page, "exc__spikes", t_change)[1] >= 10, what="rate bins after the change")
    low, _ = _mean_rate(page, "exc__spikes", t_change)
    page.button("Pause")
    assert high > 10 and low < high / 4, (high, low)


def test_save_then_open_gives_the_same_circuit_and_a_corrupt_file_is_refused(page, tmp_path):
    with page.page.expect_download() as info:
        page.page.locator(".wb-save").click()
    saved = Path(info.value.path()).read_text()
    doc = json.loads(saved)
    assert len(doc["blocks"]) == DEMO_BLOCKS and len(doc["wires"]) == DEMO_WIRES
    page.select("ii")
    page.button("Delete ii")
    page.wait_for(lambda: "ii" not in page.nodes(), what="ii deleted")
    page.upload("corrupt.json", b'{"format": "workbench-circuit", "version": 1, "blocks": [ broken')
    page.wait_for(lambda: "not valid JSON" in page.message(), what="the file error")
    assert "unchanged" in page.message()
    assert len(page.nodes()) == DEMO_BLOCKS - 1
    page.upload("saved.json", saved.encode())
    page.wait_for(lambda: len(page.nodes()) == DEMO_BLOCKS, what="the saved circuit")
    assert page.edges() == DEMO_WIRES
    with page.page.expect_download() as info:
        page.page.locator(".wb-save").click()
    assert json.loads(Path(info.value.path()).read_text()) == doc


def test_delete_and_undo_and_reload_keeps_the_circuit(page):
    page.select("ee")
    page.button("Delete ee")
    page.wait_for(lambda: "ee" not in page.nodes(), what="ee deleted")
    assert page.edges() == DEMO_WIRES - 2
    page.button("↶ Undo")
    page.wait_for(lambda: "ee" in page.nodes(), what="ee restored")
    page.wait_for(lambda: page.edges() == DEMO_WIRES, what="ee's wires restored")
    page.select("ii")
    page.button("Delete ii")
    page.wait_for(lambda: "ii" not in page.nodes(), what="ii deleted")
    page.open()  # reload: the circuit of this browser comes back
    assert "ii" not in page.nodes() and len(page.nodes()) == DEMO_BLOCKS - 1


def test_two_browsers_run_different_circuits_without_cross_talk(browser, server):
    a, b = Page(browser, server), Page(browser, server)
    try:
        a.select("ii")
        a.button("Delete ii")
        a.wait_for(lambda: "ii" not in a.nodes(), what="ii deleted in A")
        a.button("▶ Run")
        a.wait_for(lambda: a.raster_points() > 100, what="A's raster")
        b.open()
        assert len(b.nodes()) == DEMO_BLOCKS, "B still has the demo circuit"
        time.sleep(1)
        assert b.raster_points() == -1, "B has not run: no raster"
        b.select("input")
        b.set_param("rate", 40)
        b.button("▶ Run")
        b.wait_for(lambda: b.raster_points() > 100, what="B's raster")
        assert "running" in a.text(".wb-status")
        assert len(a.nodes()) == DEMO_BLOCKS - 1
        a.page.locator('.react-flow__node[data-id="input"]').click()
        a.wait_for(lambda: a.page.locator(".wb-param-rate input").count() > 0, what="A's inspector")
        assert float(a.page.locator(".wb-param-rate input").first.input_value()) == 20.0
        a.button("Pause")
        b.button("Pause")
    finally:
        a.close()
        b.close()
