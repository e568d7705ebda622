"""How live the workbench is: frames reaching the browser, simulation speed while displayed
versus headless, and time from page open to the first frame.

Runs the real server (``python app.py``) and headless Chromium; each circuit (CUBA with 1,000
and 10,000 neurons) is opened through the page's file input, as a user would.

    python benchmarks/live_views.py [--seconds 10] [--sizes 1000 10000]
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from simulations import compile  # noqa: E402
from simulations.examples import cuba  # noqa: E402
from workbench.app import DT  # noqa: E402
from workbench.serve import CHROMIUM_ARGS, chromium_path, start_server, stop_server  # noqa: E402

COUNT_FRAMES = """() => {
  window.__frames = 0;
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.properties && m.properties.frame && m.properties.ack) {
      m.properties.frame.change.connect(() => { window.__frames += 1; });
      return true;
    }
  return false;
}"""

RASTER_POINTS = """() => { for (const d of Bokeh.documents) {
  const found = [...d.all_models].filter((m) => m.name === "wb-raster");
  if (found.length) return found[found.length - 1].data.t.length; } return 0; }"""


def headless_steps_per_second(n: int, seconds: float) -> float:
    torch.set_num_threads(1)
    sim = compile(cuba(n), dt=DT, seed=0)
    sim.step(50)
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        sim.step(100)
        steps += 100
    return steps / (time.perf_counter() - start)


def sim_time(page) -> float:
    text = page.locator(".wb-status").evaluate("e => e.shadowRoot ? e.shadowRoot.textContent : e.textContent")
    found = re.findall(r"t = ([\d.,]+) ms", text)
    return float(found[-1].replace(",", "")) if found else 0.0


def displayed(browser, url: str, n: int, seconds: float) -> dict:
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    opened = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".react-flow__node", timeout=60000)
    canvas_ready = time.perf_counter() - opened
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"cuba{n}.json"
        cuba(n).save(path)
        page.locator(".wb-open input[type=file]").set_input_files(str(path))
    deadline = time.monotonic() + 60
    while page.locator(".react-flow__node").count() != 6:  # the CUBA circuit replaced the demo
        if time.monotonic() > deadline:
            raise TimeoutError(f"the CUBA circuit did not open ({page.locator('.react-flow__node').count()} nodes)")
        time.sleep(0.2)
    clicked = time.perf_counter()
    page.get_by_role("button", name="▶ Run", exact=True).click()
    page.wait_for_function(f"({RASTER_POINTS})() > 0", timeout=120000, polling=20)
    run_to_frame = time.perf_counter() - clicked
    page.evaluate(COUNT_FRAMES)
    t0, w0 = sim_time(page), time.perf_counter()
    time.sleep(seconds)
    frames = page.evaluate("() => window.__frames")
    t1, w1 = sim_time(page), time.perf_counter()
    page.get_by_role("button", name="Pause", exact=True).click()
    page.close()
    return dict(canvas_ready=canvas_ready, run_to_first_frame=run_to_frame,
                fps=frames / (w1 - w0), steps_per_second=(t1 - t0) / DT / (w1 - w0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    proc, url = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            for n in args.sizes:
                shown = displayed(browser, url, n, args.seconds)
                alone = headless_steps_per_second(n, min(args.seconds, 5.0))
                print(f"CUBA {n:>6} neurons: {shown['fps']:5.1f} frames/s in the browser | "
                      f"{shown['steps_per_second']:7.0f} steps/s displayed vs {alone:7.0f} headless | "
                      f"page open -> canvas {shown['canvas_ready']:.1f} s, Run -> first frame "
                      f"{shown['run_to_first_frame']:.2f} s", flush=True)
            browser.close()
    finally:
        stop_server(proc)


if __name__ == "__main__":
    main()
