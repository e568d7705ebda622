"""Exports of a circuit as code a person can read and run: a Python script, a Jupyter notebook,
and run results as plain tables (pandas DataFrames).

The script and the notebook rebuild the circuit with the public API, one statement per block
and per wire, writing only the parameters that differ from the block's defaults, so the code
reads like something a person wrote and keeps working when a default is tuned. Both compile
with the same ``dt`` and ``seed`` as the app, so they reproduce the app's spikes exactly.
No GUI code here: the app and the notebook glue call these functions.

No text from a circuit reaches the generated code unquoted: names and values are written as
Python literals (``repr`` of plain data only, checked), markdown gets text escaped, and file
names are reduced to safe characters.
"""
from __future__ import annotations

import datetime
import html
import inspect
import math
import re

from . import files, modules
from .circuit import Circuit
from .errors import CircuitError
from .files import FORMAT

DT_MS = 0.1  # the app's step
SEED = 0  # the app's seed
SECONDS = 1.0


# -- code generation ---------------------------------------------------------------------------
def _plain(value) -> bool:
    """Plain data whose repr is a Python literal (no object can pick its own repr)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif not (v is None or type(v) in (bool, int, float, str)):
            return False
    return True


def _literal(value) -> str:
    """A Python literal for a parameter value (non-finite floats spelled as float('inf'))."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, tuple):
        value = list(value)
    if not _plain(value):
        raise CircuitError(f"cannot export a value of type {type(value).__name__}: only plain data is written as code")
    return repr(value)


def _md_text(text: str) -> str:
    """Text shown as itself in markdown: HTML escaped, markdown punctuation backslashed, one line."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", text)


def _html_code(text: str) -> str:
    """Text for inside <code>: HTML escaped, backticks too (no markdown code span opens)."""
    return html.escape(text).replace("`", "&#96;").replace("\n", " ")


def safe_filename(name: str, suffix: str) -> str:
    """A file name from a circuit name: letters, digits, '-', '_' and '.' only, no leading dot."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:100].lstrip(".") or "circuit"
    return stem + suffix


def changed_params(block) -> dict:
    """The block's parameters whose values differ from its class defaults."""
    cls = type(block)
    out = {}
    for key, value in block.values().items():
        default = cls.param[key].default
        same = value == default or (isinstance(value, float) and isinstance(default, float)
                                    and math.isnan(value) and math.isnan(default))
        if not same:
            out[key] = value
    return out


def _position_arg(position) -> list[str]:
    if position is None:
        return []
    x, y = position
    return [f"position=({_literal(x)}, {_literal(y)})"]


def _level_code(circuit: Circuit, scope: str | None, var: str, functions: dict[str, str]) -> list[str]:
    """Statements that fill ``var`` with the blocks, modules and wires directly inside ``scope``."""
    lines = []
    for name, data in circuit.graph.nodes(data=True):
        if modules.owner(circuit, name) != scope:
            continue
        block = data["block"]
        args = [_literal(modules.local(name, scope)), _literal(type(block).__name__), *_position_arg(data.get("position"))]
        args += [f"{k}={_literal(v)}" for k, v in changed_params(block).items()]
        lines.append(f"{var}.add({', '.join(args)})")
    for name, rec in circuit.modules.items():
        if modules.owner(circuit, name) == scope:
            builder = _module_function(circuit, name, functions)
            args = [_literal(modules.local(name, scope)), f"{builder}()", *_position_arg(rec.position)]
            lines.append(f"{var}.add({', '.join(args)})")
    for w in circuit.wires:
        here = modules.owner(circuit, w.source)
        while not modules.inside(w.target, here):
            here = modules.owner(circuit, here)
        if here == scope:
            lines.append(f"{var}.connect({_literal(files._endpoint(circuit, scope, w.source, w.output))}, "
                         f"{_literal(files._endpoint(circuit, scope, w.target, w.input))})")
    return lines


def _module_function(circuit: Circuit, name: str, functions: dict[str, str]) -> str:
    """Define (once per distinct module) a function that builds module ``name``; returns its name.
    ``functions`` maps each function's body to its name, in definition order."""
    rec = circuit.modules[name]
    body = [f"sub = Circuit({_literal(rec.label)})", *_level_code(circuit, name, "sub", functions)]
    ports = ", ".join(f"{_literal(k)}: {_literal(files._endpoint(circuit, name, b, p))}" for k, (b, p) in rec.ports.items())
    body.append(f"return Module(sub, ports={{{ports}}})")
    text = "".join(f"    {line}\n" for line in body)
    if text not in functions:
        stem = f"build_{name.rsplit(modules.SEP, 1)[-1]}"  # an identifier: instance names are
        fn, k = stem, 1
        while fn in functions.values():
            k += 1
            fn = f"{stem}_{k}"
        functions[text] = fn
    return functions[text]


def build_code(circuit: Circuit, var: str = "circuit") -> str:
    """Statements that rebuild ``circuit``: one ``add`` per block, one ``connect`` per wire, and
    one builder function per distinct module (``circuit.add("m", build_m())``)."""
    functions: dict[str, str] = {}
    body = _level_code(circuit, None, var, functions)
    head = "from simulations import Circuit, Module, compile" if functions else "from simulations import Circuit, compile"
    lines = [head, "", ""] if functions else [head, ""]
    for text, fn in functions.items():
        lines += [f"def {fn}():", f'    """A module: its blocks, wires and exposed ports."""', text.rstrip("\n"), "", ""]
    lines += [f"{var} = Circuit({_literal(circuit.name)})", *body]
    if list(circuit.graph.nodes) != modules.natural_order(circuit):
        lines.append(f"{var}.reorder({_literal(list(circuit.graph.nodes))})  # the app's block order: "
                     "it sets the random draws")
    return "\n".join(lines) + "\n"


def _run_code(dt: float, seed: int, seconds: float) -> str:
    return (
        f"DT_MS, SEED, SECONDS = {dt!r}, {seed!r}, {seconds!r}  # the app's step and seed\n"
        "sim = compile(circuit, dt=DT_MS, seed=SEED)\n"
        "sim.run(SECONDS)\n"
    )


def to_script(circuit: Circuit, dt: float = DT_MS, seed: int = SEED, seconds: float = SECONDS) -> str:
    """A Python script that rebuilds ``circuit``, runs it and prints each population's spikes."""
    header = (  # the circuit's name appears only as a literal in the code below
        '"""Rebuild and run a circuit exported from the workbench (its name: see Circuit(...) below).\n\n'
        "Run it from the workbench project (or with the project installed): python this_file.py\n"
        '"""\n'
    )
    body = build_code(circuit)
    first, rest = body.split("\n", 1)
    return (
        header + first + "\nfrom simulations.export import spike_counts\n" + rest
        + "\n\nif __name__ == \"__main__\":\n"
        + "".join(f"    {line}\n" for line in _run_code(dt, seed, seconds).splitlines())
        + "    for name, count in spike_counts(sim).items():\n"
        + "        print(f\"{name}: {count} spikes, {sim.rates(name)[0]:.2f} Hz\")\n"
    )


def _first_line(doc: str | None) -> str:
    doc = inspect.cleandoc(doc or "")
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def describe(circuit: Circuit) -> str:
    """Markdown: every block (type, doc, non-default parameters) and every wire."""
    rows = ["| block | type | what it is | parameters set |", "|---|---|---|---|"]
    for name, block in circuit.blocks.items():
        params = ", ".join(f"<code>{_html_code(f'{k}={_literal(v)}')}</code>" for k, v in changed_params(block).items()
                           if not (isinstance(v, list) and len(v) > 8)) or "defaults"
        big = [k for k, v in changed_params(block).items() if isinstance(v, list) and len(v) > 8]
        if big:
            params += "; " + ", ".join(f"`{k}` ({len(block.values()[k])} rows)" for k in big)
        rows.append(f"| `{name}` | {type(block).__name__} | {_md_escape(_first_line(type(block).__doc__))} "
                    f"| {_md_escape(params)} |")
    wires = [f"- `{w.source}.{w.output}` → `{w.target}.{w.input}`" for w in circuit.wires] or ["- (none)"]
    mods = [f"- `{name}` ({_md_text(rec.label)}): blocks `{name}__*`; ports "
            + (", ".join(f"`{k}` = `{b}.{p}`" for k, (b, p) in rec.ports.items()) or "none")
            for name, rec in circuit.modules.items()]
    return ("## Blocks\n\n" + "\n".join(rows) + "\n\n## Wires\n\n" + "\n".join(wires) + "\n"
            + ("\n## Modules\n\nSub-circuits; compile runs their blocks under these flat names.\n\n"
               + "\n".join(mods) + "\n" if mods else ""))


PLOT_CODE = '''\
import holoviews as hv
hv.extension("bokeh", inline=True)  # Bokeh's JS inside the notebook: plots render offline

plots = []
for path, view in sim.probe_paths().items():
    block, probe = path.split(".")
    if path not in sim.recorders:
        continue
    if view == "raster":
        t, i = sim.spikes(block, probe)
        plots.append(hv.Scatter((t, i), "time (ms)", "neuron", label=path).opts(size=2, width=450))
    elif view in ("trace", "scalar"):
        t, values = sim.trace(block, probe)
        values = values.reshape(len(t), sim.batch, -1)[:, 0, :4]  # first batch row, 4 signals
        curves = [hv.Curve((t, values[:, k]), "time (ms)", probe) for k in range(values.shape[1])]
        plots.append(hv.Overlay(curves, label=path).opts(width=450))
for name, block in circuit.blocks.items():
    if "weights" in block.probes:
        plots.append(hv.Image(sim.weights(name).numpy().T, kdims=["pre", "post"], label=f"{name} weights",
                              bounds=None).opts(cmap="RdBu_r", colorbar=True, width=450))
hv.Layout(plots).cols(2).opts(shared_axes=False) if plots else "nothing recorded"
'''


def to_notebook(circuit: Circuit, dt: float = DT_MS, seed: int = SEED, seconds: float = SECONDS):
    """An ``nbformat`` notebook: markdown explaining the circuit, then code that rebuilds it,
    runs it with the app's seed, tabulates and plots the probes (HoloViews/Bokeh).

    The ``parameters`` cell (tagged, papermill style) holds ``COUNTS_FILE``: set it to a path
    and the notebook writes each population's spike count there as JSON.
    """
    import nbformat.v4 as nbf

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    intro = (
        f"# Circuit {_md_text(circuit.name)}\n\n"
        f"Exported from the workbench on {when}: {len(circuit.graph)} blocks, {len(circuit.wires)} wires. "
        "The cells below rebuild the circuit with the Python API, run it for "
        f"{seconds:g} s of biological time (dt = {dt:g} ms, seed {seed}: the same spikes as the app's run), "
        "and plot what the probes recorded. Run it from the workbench project (or with it installed).\n"
    )
    cells = [
        nbf.new_markdown_cell(intro),
        nbf.new_markdown_cell(describe(circuit)),
        nbf.new_code_cell("COUNTS_FILE = None  # a path: write the spike counts there as JSON",
                          metadata={"tags": ["parameters"]}),
        nbf.new_markdown_cell("## Build\n\nOne statement per block and per wire; parameters left at "
                              "their defaults are not written."),
        nbf.new_code_cell(build_code(circuit) + "circuit.validate()"),
        nbf.new_markdown_cell("## Run"),
        nbf.new_code_cell(_run_code(dt, seed, seconds) + "sim"),
        nbf.new_markdown_cell("## Spikes\n\nSpike counts and rates per population; each raster as a table "
                              "(`spikes_frame`), ready for pandas."),
        nbf.new_code_cell(
            "import json\nfrom simulations.export import spike_counts, spikes_frame\n\n"
            "counts = spike_counts(sim)\n"
            "for name, count in counts.items():\n"
            "    print(f\"{name}: {count} spikes, {sim.rates(name)[0]:.2f} Hz\")\n"
            "if COUNTS_FILE:\n"
            "    with open(COUNTS_FILE, \"w\") as f:\n"
            "        json.dump(counts, f)\n"
            + (f"spikes_frame(sim, {next(iter(counts_blocks(circuit)))!r}).head()" if counts_blocks(circuit) else "")
        ),
        nbf.new_markdown_cell("## Probes"),
        nbf.new_code_cell(PLOT_CODE),
        nbf.new_markdown_cell(
            "## Open it in the workbench\n\n`circuit.show()` displays the editor and live views in this "
            "notebook (Panel); press Run there, or run the simulator from a cell while it is shown:\n\n"
            "```python\nwb = circuit.show()\n```"
        ),
    ]
    nb = nbf.new_notebook(cells=cells)
    nb.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "workbench": {"format": FORMAT, "circuit": circuit.name},
    })
    return nb


def notebook_text(circuit: Circuit, **kw) -> str:
    """``to_notebook`` as .ipynb JSON text."""
    import nbformat

    return nbformat.writes(to_notebook(circuit, **kw))


def counts_blocks(circuit: Circuit) -> list[str]:
    """Blocks that have a ``spikes`` raster probe, in document order."""
    return [n for n, b in circuit.blocks.items() if "spikes" in b.probes and b.probes["spikes"].view == "raster"]


# -- run results as data -----------------------------------------------------------------------
def spike_counts(sim, row: int = 0) -> dict[str, int]:
    """Number of recorded spikes per block with a recorded ``spikes`` probe (one batch row)."""
    return {name: int(len(sim.spikes(name, row=row)[0]))
            for name in counts_blocks(sim.circuit) if f"{name}.spikes" in sim.recorders}


def spikes_frame(sim, block: str, probe: str = "spikes", row: int = 0):
    """A pandas DataFrame of spike events: columns ``time_ms`` and ``neuron``."""
    import pandas as pd

    t, i = sim.spikes(block, probe, row=row)
    return pd.DataFrame({"time_ms": t, "neuron": i})


def trace_frame(sim, block: str, probe: str, row: int = 0):
    """A sampled probe as a wide DataFrame indexed by ``time_ms``, one column per recorded
    neuron, labelled with the neuron's own id."""
    import pandas as pd

    t, values = sim.trace(block, probe)
    values = values.reshape(len(t), sim.batch, -1)[:, row, :]
    ids = sim.recorder(f"{block}.{probe}").ids(values.shape[1])
    return pd.DataFrame(values, index=pd.Index(t, name="time_ms"), columns=pd.Index(ids, name="neuron"))


def to_dataframes(sim, row: int = 0) -> dict:
    """Every recorded raster and trace probe as a DataFrame, keyed by ``"block.probe"``."""
    out = {}
    for path, view in sim.probe_paths().items():
        if path not in sim.recorders:
            continue
        block, probe = path.split(".")
        if view == "raster":
            out[path] = spikes_frame(sim, block, probe, row)
        elif view in ("trace", "scalar"):
            out[path] = trace_frame(sim, block, probe, row)
    return out


def export_text(circuit: Circuit, kind: str, **kw) -> tuple[str, str]:
    """(file name, text) of an export: ``kind`` is "json", "script" or "notebook"."""
    if kind == "json":
        return safe_filename(circuit.name, ".json"), circuit.to_json()
    if kind == "script":
        return safe_filename(circuit.name, ".py"), to_script(circuit, **kw)
    if kind == "notebook":
        return safe_filename(circuit.name, ".ipynb"), notebook_text(circuit, **kw)
    raise ValueError(f"unknown export {kind!r}; expected json, script or notebook")


__all__ = ["build_code", "to_script", "to_notebook", "notebook_text", "describe", "changed_params", "spike_counts",
           "spikes_frame", "trace_frame", "to_dataframes", "export_text"]
