"""The toolbar's Export menu: the circuit as JSON, a Python script, a notebook or a NIR graph.

Each download is built when clicked, from the circuit as it is then, with the app's dt and
seed, so the script and the notebook reproduce what Run shows. The exporters themselves live
in ``simulations.export`` and ``simulations.nir_io`` (no GUI code there).
"""
from __future__ import annotations

import io
from typing import Callable

import panel as pn

from simulations import Circuit
from simulations.export import export_text

FORMATS = {"Python script (.py)": "script", "Notebook (.ipynb)": "notebook", "Circuit JSON (.json)": "json",
           "NIR graph (.nir)": "nir"}


class ExportMenu:
    """A format choice and a download button; ``circuit`` is read at click time."""

    def __init__(self, circuit: Callable[[], Circuit], notify: Callable[[str, str], None], dt: float, seed: int):
        self._circuit, self._notify, self.dt, self.seed = circuit, notify, dt, seed
        self.format = pn.widgets.Select(options=FORMATS, value="script", width=170, margin=(5, 3),
                                        css_classes=["wb-export-format"])
        self.button = pn.widgets.FileDownload(callback=self._export, filename="circuit.py", label="Export",
                                              button_type="primary", button_style="outline", width=80,
                                              margin=(5, 3), css_classes=["wb-export"])
        self.panel = pn.Row(self.format, self.button, margin=0)

    def _export(self):
        circuit, kind = self._circuit(), self.format.value
        if kind == "nir":
            return self._nir(circuit)
        name, text = export_text(circuit, kind, **({} if kind == "json" else {"dt": self.dt, "seed": self.seed}))
        self.button.filename = name
        return io.StringIO(text)

    def _nir(self, circuit: Circuit):
        import warnings

        from simulations.nir_io import NIRError, to_nir

        try:
            import nir

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                graph = to_nir(circuit, dt=self.dt, seed=self.seed)
        except NIRError as e:
            self._notify(f"NIR export refused: {e}", "danger")
            self.button.filename = f"{circuit.name}-nir-refused.txt"
            return io.StringIO(f"{e}\n")
        buffer = io.BytesIO()
        nir.write(buffer, graph)
        self.button.filename = f"{circuit.name}.nir"
        if caught:
            self._notify(f"Exported {circuit.name}.nir. Note: {caught[0].message}", "warning")
        return buffer
