"""A workbench page in headless Chromium, with the reads and gestures the browser tests share.

Needs the Python package playwright and a Chromium: a system one (Debian package ``chromium``,
found on PATH or via WORKBENCH_CHROMIUM). The server and browser fixtures are in conftest.py.
"""
from __future__ import annotations

import time
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "test-output"  # screenshots (git-ignored)


class Page:
    """A workbench page with the checks the tests share; records failed requests and errors."""

    def __init__(self, browser, url, height=1100, width=1500, context=None):
        """A new browser context (own cookies: another browser), or a new tab in ``context``."""
        self.own_context = context is None
        self.context = context or browser.new_context(viewport={"width": width, "height": height},
                                                      accept_downloads=True)
        self.page = self.context.new_page()
        self.failed, self.errors = [], []
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.url = url
        self.open()

    def open(self):
        self.page.goto(self.url, timeout=90000)  # a loaded 2-core machine starts Chromium and a simulation process
        self.page.wait_for_selector(".react-flow__node", timeout=90000)

    def close(self):
        if self.own_context:
            self.context.close()
        else:
            self.page.close()

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

    def visible(self, selector: str) -> bool:
        loc = self.page.locator(selector)
        return loc.count() > 0 and loc.first.is_visible()

    def click(self, selector: str):
        """Click the button inside a Panel component found by its CSS class."""
        self.page.locator(f"{selector} button").first.click()

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
        self.wait_for(lambda: self.page.get_by_role("button", name=f"Delete {node}").count() > 0, 30,
                      f"the inspector showing {node}")

    def set_param(self, name: str, value):
        box = self.page.locator(f".wb-param-{name} input").first
        box.fill(str(value))
        box.press("Enter")

    def upload(self, name: str, content: bytes):
        self.page.locator(".wb-open input[type=file]").set_input_files(
            {"name": name, "mimeType": "application/json", "buffer": content})

    # -- the simulation process ------------------------------------------------------------------
    def sim_pid(self) -> int:
        """Process id of this session's simulation process (the status carries it)."""
        pid = self.page.eval_on_selector(
            ".wb-status", "e => { const s = (e.shadowRoot || e).querySelector('[data-pid]'); return s ? s.dataset.pid : null; }")
        return int(pid) if pid and pid != "None" else -1

    def raster_image(self):
        """(rows, columns, total) of the newest raster image in this page, or None."""
        return self.page.evaluate(
            """() => { for (const d of Bokeh.documents) {
                 const found = [...d.all_models].filter((m) => m.name === "wb-raster-image");
                 if (found.length) { const img = found[found.length - 1].data.image[0];
                   let total = 0; for (const v of img) total += v;
                   return [img.shape[0], img.shape[1], total]; } }
               return null; }""")

    def frame_times(self, start: bool = False):
        """Arrival times (ms, performance.now) of this page's frames since ``start=True``."""
        if start:
            self.page.evaluate("""() => { window.__frameTimes = [];
              for (const d of Bokeh.documents) for (const m of d.all_models)
                if (m.properties && m.properties.frame && m.properties.ack)
                  m.properties.frame.change.connect(() => window.__frameTimes.push(performance.now())); }""")
        return self.page.evaluate("() => [performance.now(), window.__frameTimes]")
