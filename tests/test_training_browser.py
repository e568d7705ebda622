"""The training panel in a real headless browser against the real server: train, watch the
loss curve, pause and resume, write the trained weights into the circuit (saved), undo."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from browser_page import OUT, Page


@pytest.fixture
def page(chromium, workbench_url):
    p = Page(chromium, workbench_url, height=1800)
    yield p
    p.close()


def _saved(page) -> dict:
    with page.page.expect_download() as info:
        page.page.locator(".wb-save").click()
    return json.loads(Path(info.value.path()).read_text())


def _block(doc, name):
    return next(b for b in doc["blocks"] if b["name"] == name)


def test_train_pause_resume_write_back_and_undo(page):
    page.page.get_by_text("Train by gradient").click()
    page.button("Open its circuit")
    page.wait_for(lambda: page.nodes() == {"inp", "hidden", "out", "w_in", "w_out"}, what="the task's circuit")
    for name, value in (("samples", 96), ("epochs", 3)):
        box = page.page.locator(f".wb-train-{name} input").first
        box.fill(str(value))
        box.press("Enter")
    time.sleep(0.5)
    page.button("Train")
    page.wait_for(lambda: len(page.source("wb-train-loss", "loss") or []) >= 2, 60, "loss points")
    page.button("Pause training")
    page.wait_for(lambda: page.text(".wb-train-status").startswith("paused"), 60, "the paused status")
    time.sleep(1.0)
    frozen = len(page.source("wb-train-loss", "loss"))
    time.sleep(1.5)
    assert len(page.source("wb-train-loss", "loss")) == frozen, "no training while paused"

    before = _block(_saved(page), "w_in")["params"]
    assert before["connectivity"] == "all_to_all"
    page.button("Write into circuit")
    page.wait_for(lambda: "Wrote w_in.weights, w_out.weights" in page.message(), what="the write-back message")
    after = _block(_saved(page), "w_in")["params"]
    assert after["connectivity"] == "edges" and len(after["edges"]) == 64 * 100
    assert len({round(e[2], 6) for e in after["edges"]}) > 1000  # trained, distinct weights per synapse
    page.button("Undo write")
    page.wait_for(lambda: "Restored" in page.message(), what="the undo message")
    assert _block(_saved(page), "w_in")["params"] == before

    page.button("Resume training")
    page.wait_for(lambda: page.text(".wb-train-status").startswith("done"), 180, "training to finish")
    losses = page.source("wb-train-loss", "loss")
    assert len(losses) > frozen and all(v == v for v in losses)  # grew after resuming; no NaN
    assert len(page.source("wb-train-accuracy", "test")) == 3
    OUT.mkdir(exist_ok=True)
    page.page.locator(".wb-train").screenshot(path=str(OUT / "training_panel.png"))
    assert page.failed == [] and page.errors == []
