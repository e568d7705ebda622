"""How a live view is presented: a collapsible card with its title, a CSV download of the data
it holds (the visible window) and buttons to make the plot taller or shorter. The plots
themselves carry Bokeh's toolbar (pan, zoom, reset, hover, save PNG)."""
from __future__ import annotations

import csv
import io

import numpy as np
import panel as pn

HEIGHT_STEP, MIN_HEIGHT, MAX_HEIGHT = 90, 110, 800


def view_csv(view) -> str:
    """The data a view holds now as CSV: its columns, or a matrix's rows (heatmaps)."""
    data = view.source.data
    out = io.StringIO()
    writer = csv.writer(out)
    if "image" in data:
        for row in np.asarray(data["image"][0]):
            writer.writerow([f"{v:.6g}" for v in row])
        return out.getvalue()
    columns = [k for k, v in data.items() if len(v) and np.asarray(v).dtype.kind in "biuf"]
    writer.writerow(columns)
    for row in zip(*(np.asarray(data[k]) for k in columns)):
        writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in row])
    return out.getvalue()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()[:60] or "view"


def view_card(view, title: str | None = None) -> pn.Card:
    fig = view.panel.object
    title = title or fig.title.text
    key = _slug(getattr(view, "path", None) or view.kind)
    download = pn.widgets.FileDownload(callback=lambda: io.StringIO(view_csv(view)), filename=f"{key}.csv",
                                       label="CSV", button_type="light", width=60, height=28, margin=(0, 2),
                                       css_classes=["wb-view-csv"])

    def resize(step):
        fig.height = int(min(MAX_HEIGHT, max(MIN_HEIGHT, fig.height + step)))

    taller = pn.widgets.Button(label="+", width=30, height=28, margin=(0, 2), button_type="light",
                               css_classes=["wb-view-taller"], description="taller")
    shorter = pn.widgets.Button(label="−", width=30, height=28, margin=(0, 2), button_type="light",
                                css_classes=["wb-view-shorter"], description="shorter")
    taller.on_click(lambda _e: resize(HEIGHT_STEP))
    shorter.on_click(lambda _e: resize(-HEIGHT_STEP))
    header = pn.Row(pn.pane.HTML(f"<b style='font-size:12px'>{title}</b>", margin=(4, 4)), pn.layout.HSpacer(),
                    shorter, taller, download, sizing_mode="stretch_width", margin=0)
    fig.title.text = ""  # the card's header carries it
    return pn.Card(view.panel, header=header, collapsible=True, sizing_mode="stretch_width", margin=(2, 2),
                   css_classes=["wb-view", f"wb-view-{view.kind}"], header_background="#f5f6f8")
