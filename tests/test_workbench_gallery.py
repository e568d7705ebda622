"""The gallery in a real headless browser: open it, open a demo, run it, see its views and
its live demo metric update."""
from __future__ import annotations

from browser_page import OUT, Page

from workbench.demos import demos


def test_gallery_opens_a_demo_whose_views_and_live_metric_update(chromium, workbench_url):
    page = Page(chromium, workbench_url, height=1300)
    try:
        page.button("Gallery")
        page.page.wait_for_selector(".wb-demo-card", timeout=10000)
        assert page.page.locator(".wb-demo-card").count() == len(demos())
        assert page.page.locator(".wb-demo-card img").count() == len(demos())  # thumbnails
        page.button("Open Continual learning without forgetting")
        page.wait_for(lambda: {"taskA", "taskB", "hlop", "syn"} <= page.nodes(), what="the demo's circuit on the canvas")
        page.page.wait_for_selector(".wb-demo-panel", timeout=10000)
        page.button("▶ Run")
        page.wait_for(lambda: page.raster_points() > 0, 30, what="the raster to stream")
        live = lambda: len(page.source("wb-demo-live-continual", "t") or [])  # noqa: E731
        first = page.wait_for(lambda: live() >= 2 and live(), 30, what="the live demo metric")
        page.wait_for(lambda: live() > first, 30, what="the live metric to grow")
        OUT.mkdir(exist_ok=True)
        page.page.screenshot(path=str(OUT / "gallery_demo_running.png"), full_page=True)
        page.button("Pause")
        assert page.errors == [], page.errors
    finally:
        page.close()
