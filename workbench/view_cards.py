"""How a live view is presented: a collapsible card with its title, buttons to save the plot
as PNG or SVG, to download the data it holds (the visible window) as CSV or Parquet, to make
the plot taller or shorter and to move it up or down among the views. The plots themselves
carry Bokeh's toolbar (pan, zoom, reset, hover, save PNG)."""
from __future__ import annotations

import io
from typing import Callable

import numpy as np
import pandas as pd
import panel as pn

HEIGHT_STEP, MIN_HEIGHT, MAX_HEIGHT = 90, 110, 800

# Draws the figure's own view into a PNG or SVG (Bokeh's PlotView.export paints either backend,
# whatever the figure draws with on screen) and hands the file to the browser as a download.
EXPORT_JS = """
const view = Bokeh.index.find_one(fig);
if (view == null) return;
view.export(kind).to_blob().then((blob) => {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
});
"""


def view_table(view) -> pd.DataFrame:
    """The data a view holds now: its numeric columns, or a matrix's rows (heatmaps, raster images)."""
    data = view.source.data
    if "image" in data:
        m = np.asarray(data["image"][0], dtype=np.float64)
        return pd.DataFrame(m.reshape(m.shape[0], -1), columns=[str(j) for j in range(m.shape[-1])])
    columns = {k: np.asarray(v) for k, v in data.items() if len(v) and np.asarray(v).dtype.kind in "biuf"}
    if not columns:
        columns = {k: np.asarray(v) for k, v in data.items() if k != "color"}
    return pd.DataFrame(columns)


def view_csv(view) -> str:
    """The view's data as CSV (6 significant digits; heatmaps: one line per matrix row, no header)."""
    table = view_table(view)
    return table.to_csv(index=False, header="image" not in view.source.data, float_format="%.6g")


def view_parquet(view) -> bytes:
    """The view's data as a Parquet file (full precision, typed columns)."""
    out = io.BytesIO()
    view_table(view).to_parquet(out, index=False)
    return out.getvalue()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()[:60] or "view"


def view_key(view) -> str:
    """A view's identity while the session lasts (its probe path, or its kind)."""
    return getattr(view, "path", None) or view.kind


def _small(label: str, css: str, tip: str, width=30) -> pn.widgets.Button:
    return pn.widgets.Button(label=label, width=width, height=28, margin=(0, 2), button_type="light",
                             css_classes=[css], description=tip)


def view_card(view, title: str | None = None, on_move: Callable[[str, int], None] | None = None) -> pn.Card:
    """``on_move(key, step)``: the user moved the view up (-1) or down (+1)."""
    fig = view.panel.object
    title = title or fig.title.text
    key = _slug(view_key(view))
    csv = pn.widgets.FileDownload(callback=lambda: io.StringIO(view_csv(view)), filename=f"{key}.csv",
                                  label="CSV", button_type="light", width=52, height=28, margin=(0, 2),
                                  css_classes=["wb-view-csv"], description="download the data shown as CSV")
    parquet = pn.widgets.FileDownload(callback=lambda: io.BytesIO(view_parquet(view)), filename=f"{key}.parquet",
                                      label="Parquet", button_type="light", width=72, height=28, margin=(0, 2),
                                      css_classes=["wb-view-parquet"], description="download the data shown as Parquet")
    images = []
    for kind in ("png", "svg"):
        b = _small(kind.upper(), f"wb-view-{kind}", f"save the plot as {kind.upper()}", width=48)
        b.js_on_click(args=dict(fig=fig, kind=kind, filename=f"{key}.{kind}"), code=EXPORT_JS)
        images.append(b)

    def resize(step):
        fig.height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, fig.height + step)))

    taller, shorter = _small("+", "wb-view-taller", "taller"), _small("−", "wb-view-shorter", "shorter")
    taller.on_click(lambda _e: resize(HEIGHT_STEP))
    shorter.on_click(lambda _e: resize(-HEIGHT_STEP))
    moves = []
    if on_move is not None:
        up, down = _small("↑", "wb-view-up", "move this view up"), _small("↓", "wb-view-down", "move this view down")
        up.on_click(lambda _e: on_move(view_key(view), -1))
        down.on_click(lambda _e: on_move(view_key(view), +1))
        moves = [up, down]
    header = pn.Row(pn.pane.HTML(f"<b style='font-size:12px'>{title}</b>", margin=(4, 4)), pn.layout.HSpacer(),
                    *moves, shorter, taller, *images, csv, parquet, sizing_mode="stretch_width", margin=0)
    fig.title.text = ""  # the card's header carries it
    return pn.Card(view.panel, header=header, collapsible=True, sizing_mode="stretch_width", margin=(2, 2),
                   css_classes=["wb-view", f"wb-view-{view.kind}"], header_background="#f5f6f8")
