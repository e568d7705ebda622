"""Modules in real headless Chromium against the real server (issue 14): select blocks, Group
them into a module node with its ports, run the flattened circuit, expand and collapse it,
undo and redo the grouping, save it to "My modules" and add it again from the palette,
download it as a module file and add that file with Open; screenshots at 1280x720 and 1920x1080."""
from __future__ import annotations

import json
import re
import os
import time
from pathlib import Path

import pytest

from browser_page import OUT, Page


def downloaded(page, action) -> tuple[str, str]:
    with page.page.expect_download() as info:
        action()
    return info.value.suggested_filename, Path(info.value.path()).read_text()


def key(page, combo: str):
    page.page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.page.keyboard.press(combo)


def handles(page, node: str) -> set[str]:
    return set(page.page.eval_on_selector_all(f'.react-flow__handle[data-nodeid="{node}"]',
                                              "els => els.map(e => e.dataset.handleid)"))


def module_edges(page, node: str) -> int:
    return page.page.locator(f'.react-flow__edge[data-testid*="{node}"], .react-flow__edge[aria-label*="{node}"]').count()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_group_collapse_expand_undo_reuse_and_module_files(chromium, workbench_url, size):
    w, h = size
    page = Page(chromium, workbench_url, width=w, height=h)
    try:
        page.page.locator(".react-flow__controls-fitview").click()
        time.sleep(0.5)
        # select exc and ee (Shift+click), name the module, Group
        page.page.locator('.react-flow__node[data-id="exc"]').click()
        page.page.locator('.react-flow__node[data-id="ee"]').click(modifiers=["Shift"])
        page.wait_for(lambda: page.page.locator(".react-flow__node.selected").count() == 2, what="two selected")
        time.sleep(0.5)  # the selection reaches the server
        box = page.page.locator(".wb-module-name input").first
        box.fill("recurrent")
        box.press("Enter")
        page.click(".wb-group")
        page.wait_for(lambda: "recurrent" in page.nodes() and "ee" not in page.nodes(), what="the module node")
        assert "Grouped 2 into module recurrent" in page.message()
        assert {"exc", "ee"}.isdisjoint(page.nodes()) and {"ei", "inh"} <= page.nodes()
        ports = page.wait_for(lambda: handles(page, "recurrent"), what="the module's port handles")
        assert ports == {"spikes", "current"}, ports  # exc's input and output: the wires crossing the edge
        assert page.edges() == 10, "12 wires, the 2 inside the collapsed module hidden, the others on its ports"
        OUT.mkdir(exist_ok=True)
        page.page.screenshot(path=str(OUT / f"modules_collapsed_{w}x{h}.png"))
        kind = page.page.locator('.react-flow__node[data-id="recurrent"] .wb-node-kind')
        page.wait_for(lambda: kind.count() and "module recurrent · 2 blocks" in kind.first.inner_text(),
                      what="the module node's description")
        # the flattened circuit runs: its inner blocks are addressed as recurrent__ee
        page.button("▶ Run")
        page.wait_for(lambda: page.raster_points() > 0, what="raster points", timeout=60)
        page.button("Pause")
        assert "recurrent__exc.spikes" in page.text(".wb-probes")  # views address inner blocks by flat name
        # expand: the inner blocks show inside a frame; collapse again
        page.click(".wb-collapse")
        page.wait_for(lambda: {"recurrent__exc", "recurrent__ee", "frame:recurrent"} <= page.nodes(), what="expanded")
        assert page.edges() == 12
        assert "recurrent" not in page.nodes()
        page.page.locator(".react-flow__controls-fitview").click()
        time.sleep(0.8)
        page.page.screenshot(path=str(OUT / f"modules_expanded_{w}x{h}.png"))
        page.click(".wb-collapse")
        page.wait_for(lambda: "recurrent" in page.nodes() and "recurrent__exc" not in page.nodes(), what="collapsed")
        # undo: collapse, expand, group; redo brings the group back
        for _ in range(3):
            key(page, "Control+z")
            time.sleep(0.6)
        page.wait_for(lambda: {"exc", "ee"} <= page.nodes() and "recurrent" not in page.nodes(), what="group undone")
        key(page, "Control+Shift+z")
        page.wait_for(lambda: "recurrent" in page.nodes() and "exc" not in page.nodes(), what="group redone")
        history = page.text(".wb-history")
        assert re.search(r"Group (exc, ee|ee, exc) as recurrent", history) and "Expand recurrent" in history
        # Save to My modules: a file in $WORKBENCH_MODULES, listed in the palette, added by a click
        page.click(".wb-module-save")
        folder = Path(os.environ["WORKBENCH_MODULES"])
        page.wait_for(lambda: (folder / "recurrent.json").exists(), what="the library file")
        assert json.loads((folder / "recurrent.json").read_text())["format"] == "workbench-module"
        item = page.page.locator("[draggable=true]").filter(has=page.page.get_by_text("▣ recurrent", exact=True))
        page.wait_for(lambda: item.count() > 0, what="My modules in the palette")
        assert "MY MODULES" in page.text(".wb-palette")
        item.first.click()
        page.wait_for(lambda: "recurrent1" in page.nodes(), what="the module added from the palette")
        assert handles(page, "recurrent1") == handles(page, "recurrent")
        item.first.drag_to(page.page.locator(".react-flow__pane"), target_position={"x": 120, "y": 120})
        page.wait_for(lambda: "recurrent2" in page.nodes(), what="the module dropped from the palette")
        # the module as a file of its own, added to a new circuit with Open
        page.page.locator(".wb-module-choice select").first.select_option("recurrent")
        time.sleep(0.5)
        name, text = downloaded(page, lambda: page.page.locator(".wb-module-download").click())
        assert name == "recurrent.json" and json.loads(text)["format"] == "workbench-module"
        _, saved = downloaded(page, lambda: key(page, "Control+s"))
        doc = json.loads(saved)
        assert doc["version"] == 2 and {m["name"] for m in doc["modules"]} == {"recurrent", "recurrent1", "recurrent2"}
        page.button("New")
        page.wait_for(lambda: not page.nodes(), what="an empty canvas")
        page.upload("recurrent.json", text.encode())
        page.wait_for(lambda: "recurrent1" in page.nodes(), what="the module file added")
        page.wait_for(lambda: "Add module recurrent1" in page.text(".wb-history"), what="the add listed")
        # a wire drawn on the canvas from the module's port
        page.page.locator("[draggable=true]").filter(has=page.page.get_by_text("Projection", exact=True)).first.click()
        page.wait_for(lambda: "projection1" in page.nodes(), what="a projection")
        page.page.locator(".react-flow__controls-fitview").click()
        time.sleep(0.5)
        page.drag_wire(("recurrent1", "spikes"), ("projection1", "spikes"))
        page.wait_for(lambda: "Wired recurrent1.spikes -> projection1.spikes" in page.message(), what="the wire")
        assert page.edges() == 1
        # a hostile module file is refused with its reason, the circuit unchanged
        bad = json.loads(text)
        bad["ports"].append({"name": "x", "endpoint": "ghost.spikes"})
        page.upload("bad.json", json.dumps(bad).encode())
        page.wait_for(lambda: "Could not add bad.json" in page.message(), what="the refusal")
        assert page.nodes() == {"recurrent1", "projection1"}
        page.page.screenshot(path=str(OUT / f"modules_added_{w}x{h}.png"))
        assert page.errors == [], page.errors
    finally:
        page.close()
