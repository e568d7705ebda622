"""A tiny browser-side helper: frame acknowledgements (for backpressure) and a browser id.

The server sends a frame number with each frame; the browser echoes it back once the frame
has been painted (after the next animation frame), so the server can tell how far the page
lags behind and skip frames instead of queueing them. The browser id is kept in a cookie so
a reload finds the session's last circuit in the server-side store.
"""
from __future__ import annotations

import param
from panel.custom import JSComponent

COOKIE = "workbench_id"


class BrowserLink(JSComponent):
    frame = param.Integer(default=0, doc="number of the last frame the server sent")
    ack = param.Integer(default=0, doc="number of the last frame the browser painted")
    stamp = param.Number(default=0.0, doc="wall-clock time (s) the simulation process built the frame")
    browser_id = param.String(default="", doc="this browser's id (cookie), set by the browser")

    _esm = """
    export function render({ model }) {
      const name = "%s";
      let id = (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "").split("=")[1];
      if (!id) {
        id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
        document.cookie = `${name}=${id}; path=/; max-age=31536000; SameSite=Lax`;
      }
      model.browser_id = id;
      window.__wbLags = [];  // seconds from a frame's data to its paint (benchmarks read it)
      model.on("frame", () => {
        const f = model.frame, stamp = model.stamp;
        requestAnimationFrame(() => setTimeout(() => {
          model.ack = f;
          window.__wbLags.push(Date.now() / 1000 - stamp);
          if (window.__wbLags.length > 5000) window.__wbLags.splice(0, 1000);
        }, 0));
      });
      const el = document.createElement("span");
      el.className = "wb-browser-link";
      return el;
    }
    """ % COOKIE
