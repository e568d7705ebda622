"""The Export menu in a real browser: the script and notebook downloads parse and rebuild the
circuit on the canvas (real server, headless Chromium)."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

from browser_page import Page  # noqa: E402


@pytest.fixture
def page(chromium, workbench_url):
    p = Page(chromium, workbench_url)
    yield p
    p.close()


def download(workbench, label: str) -> tuple[str, str]:
    page = workbench.page
    page.locator(".wb-export-format select").select_option(label=label)
    page.wait_for_timeout(300)  # the choice reaches the server before the click asks for the file
    with page.expect_download(timeout=30000) as info:
        page.locator(".wb-export button").click()
    return info.value.suggested_filename, Path(info.value.path()).read_text()


def test_export_menu_downloads_a_script_and_a_notebook_that_parse(page):
    name, script = download(page, "Python script (.py)")
    assert name == "demo_stdp.py"
    tree = ast.parse(script)
    adds = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add"]
    assert sorted(a.args[0].value for a in adds) == sorted(page.nodes())  # one add per block on the canvas

    name, text = download(page, "Notebook (.ipynb)")
    assert name == "demo_stdp.ipynb"
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert json.loads(text)["metadata"]["workbench"]["circuit"] == "demo_stdp"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    ast.parse(code)
    assert "sim = compile(circuit, dt=DT_MS, seed=SEED)" in code
    assert not page.errors
