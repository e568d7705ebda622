"""No text from a circuit is ever run: hostile text in every text field of a circuit (its name,
string parameters; block names must be identifiers) goes through the script and notebook
exports, the exports run in a subprocess and a real kernel, and the payload never executes
while the text comes back intact."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from simulations import Circuit, CircuitError
from simulations.export import export_text, notebook_text, safe_filename, to_script

ROOT = Path(__file__).resolve().parent.parent


def payloads(marker: Path) -> list[str]:
    """Texts that would create ``marker`` if any exporter let them out of their quotes."""
    act = f"open({str(marker)!r}, 'w').write('pwned')"
    return [
        f'"""\n{act}\n"""',
        f"'''\n{act}\n'''",
        f"\\\"\"\"; {act} #",
        f"'); {act}; ('",
        f"\"); {act}; (\"",
        f"{{{act}}}",
        f"\n{act}\n",
        f"\r{act}\r",
        f"\u2028{act}\u2029",
        f"\\x27\\n{act}",
        f"</script><script>{act}</script>",
        f"`\n```python\n{act}\n```\n`",
        f"# {act}\n",
    ]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def hostile_circuit(text: str) -> Circuit:
    c = Circuit(text)
    c.add("src", "PoissonInput", n=5, rate=50.0)
    c.add("syn", "Projection", connectivity="all_to_all", weight=20.0)
    c.add("cells", "LIFPopulation", n=3)
    c.add("tok", "TokenEncoder", text=text)  # a string parameter holding the payload
    c.connect("src.spikes", "syn.spikes")
    c.connect("syn.current", "cells.current")
    return c


def test_block_names_must_be_identifiers(tmp_path):
    c = Circuit("x")
    for text in payloads(tmp_path / "m"):
        with pytest.raises(CircuitError, match="identifier"):
            c.add(text, "LIFPopulation")


def test_hostile_text_in_a_script_export_is_never_run(tmp_path):
    marker = tmp_path / "MARKER"
    texts = payloads(marker)
    scripts = []
    for k, text in enumerate(texts):
        scripts.append(str(tmp_path / f"export_{k}.py"))
        Path(scripts[-1]).write_text(to_script(hostile_circuit(text)))
    # import each script in one subprocess (its circuit is built; the run, guarded by
    # __main__, is not: the TokenEncoder's text is not a shipped file) and print what it holds
    probe = ("import runpy, sys\n"
             "for path in sys.argv[1:]:\n"
             "    c = runpy.run_path(path, run_name='exported')['circuit']\n"
             "    print(ascii(c.name), ascii(c.block('tok').text))\n")
    out = subprocess.run([sys.executable, "-c", probe, *scripts], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{ascii(t)} {ascii(t)}" for t in texts]
    assert not marker.exists()


def test_hostile_name_in_a_runnable_script(tmp_path):
    marker = tmp_path / "MARKER"
    text = payloads(marker)[0]
    c = hostile_circuit(text)
    c.remove("tok")
    name, source = export_text(c, "script", seconds=0.02)
    assert name == safe_filename(text, ".py") and "/" not in name and not name.startswith(".")
    (tmp_path / "run.py").write_text(source)
    out = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, env=_env(), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cells:" in out.stdout and not marker.exists()


def test_hostile_text_in_a_notebook_export_is_never_run(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    marker = tmp_path / "MARKER"
    texts = payloads(marker)
    c = hostile_circuit(texts[0])
    c.remove("tok")
    nb = nbformat.reads(notebook_text(c, seconds=0.02), as_version=4)
    markdown = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    fences = notebook_text(Circuit("plain")).count("```python")  # the notebook's own example
    assert "<script>" not in markdown and markdown.count("```python") == fences
    # a real kernel runs the build and run cells; every other payload rides in one notebook
    # through the build cell of its own circuit
    cells = [cell for cell in nb.cells if cell.cell_type == "code"][:3]
    for text in texts[1:]:
        other = nbformat.reads(notebook_text(hostile_circuit(text)), as_version=4)
        build = next(cell for cell in other.cells if cell.cell_type == "code" and "circuit.validate()" in cell.source)
        source = build.source.replace("circuit.validate()", "")  # the text is not a shipped file
        cells.append(nbformat.v4.new_code_cell(source + f"\nassert circuit.name == {text!r}"))
        markdown = "\n".join(cell.source for cell in other.cells if cell.cell_type == "markdown")
        assert "<script>" not in markdown and markdown.count("```python") == fences
    nb.cells = cells
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in nb.cells for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    assert not marker.exists()
