"""A tiny browser-side helper: frame acknowledgements (backpressure), tab and browser ids,
keyboard shortcuts and file downloads started by the server.

The server sends a frame number with each frame; the browser echoes it back once the frame
has been painted (after the next animation frame), so the server can tell how far the page
lags behind and skip frames instead of queueing them. The tab id lives in sessionStorage (one
per tab, kept across reloads of that tab), the browser id in a cookie: autosave is per tab, and
a new tab can offer the browser's latest autosave. Shortcuts are sent as commands
(``on_command``); they are ignored while the user types in a field.
"""
from __future__ import annotations

from typing import Callable

import param
from panel.custom import JSComponent

COOKIE = "workbench_id"
TAB_KEY = "workbench_tab"

SHORTCUTS = {  # command -> keys, as shown in the help panel
    "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z or Ctrl+Y",
    "save": "Ctrl+S",
    "run_pause": "Space",
    "select_all": "Ctrl+A",
    "delete": "Delete or Backspace (selected blocks and wires)",
}


class BrowserLink(JSComponent):
    frame = param.Integer(default=0, doc="number of the last frame the server sent")
    ack = param.Integer(default=0, doc="number of the last frame the browser painted")
    stamp = param.Number(default=0.0, doc="wall-clock time (s) the simulation process built the frame")
    browser_id = param.String(default="", doc="this browser's id (cookie), set by the browser")
    tab_id = param.String(default="", doc="this tab's id (sessionStorage), set by the browser")

    _esm = """
    function fresh() {
      return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now();
    }
    function typing(e) {
      const el = e.composedPath()[0];
      if (!el || !el.tagName) return false;
      return ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable;
    }
    function deep(root, selector) {
      // the first match under root, looking inside Panel's shadow roots too
      const found = root.querySelector(selector);
      if (found) return found;
      for (const el of root.querySelectorAll("*")) {
        if (el.shadowRoot) { const inner = deep(el.shadowRoot, selector); if (inner) return inner; }
      }
      return null;
    }
    function fit() {
      // the canvas's own fit-view control: it measures the canvas and the drawn nodes; again
      // a little later, for nodes the canvas was still drawing
      for (const wait of [300, 1200]) setTimeout(() => {
        const b = deep(document, ".react-flow__controls-fitview");
        if (b) b.click();
      }, wait);
    }
    function offer(model, html) {
      // the autosave offer: a banner of its own, so nothing on the page moves
      let bar = document.querySelector(".wb-restore");
      if (bar) bar.remove();
      if (!html) return;
      bar = document.createElement("div");
      bar.className = "wb-restore";
      bar.style.cssText = "position:fixed;top:100px;left:320px;z-index:2600;background:#fff8e1;" +
        "border:1px solid #f0c36d;border-radius:6px;padding:8px 12px;box-shadow:0 2px 10px rgba(0,0,0,.25);" +
        "font:14px sans-serif;display:flex;gap:10px;align-items:center";
      const text = document.createElement("span");
      text.className = "wb-restore-text";
      text.innerHTML = html;
      bar.appendChild(text);
      for (const [label, answer] of [["Restore", true], ["Keep this one", false]]) {
        const b = document.createElement("button");
        b.textContent = label;
        b.style.cssText = "padding:4px 10px;cursor:pointer";
        b.onclick = () => { bar.remove(); model.send_msg({ restore: answer }); };
        bar.appendChild(b);
      }
      document.body.appendChild(bar);
    }
    export function render({ model }) {
      const name = "%s";
      let id = (document.cookie.split("; ").find((c) => c.startsWith(name + "=")) || "").split("=")[1];
      if (!id) {
        id = fresh();
        document.cookie = `${name}=${id}; path=/; max-age=31536000; SameSite=Lax`;
      }
      let tab = sessionStorage.getItem("%s");
      if (!tab) { tab = fresh(); sessionStorage.setItem("%s", tab); }
      model.browser_id = id;
      model.tab_id = tab;
      window.__wbLags = [];  // seconds from a frame's data to its paint (benchmarks read it)
      model.on("frame", () => {
        const f = model.frame, stamp = model.stamp;
        requestAnimationFrame(() => setTimeout(() => {
          model.ack = f;
          window.__wbLags.push(Date.now() / 1000 - stamp);
          if (window.__wbLags.length > 5000) window.__wbLags.splice(0, 1000);
        }, 0));
      });
      model.on("msg:custom", (msg) => {
        if (msg.offer !== undefined) { offer(model, msg.offer); return; }
        if (msg.fit) { fit(); return; }
        if (msg.download === undefined) return;
        const url = URL.createObjectURL(new Blob([msg.text], { type: "application/json" }));
        const a = document.createElement("a");
        a.href = url; a.download = msg.download; document.body.appendChild(a); a.click();
        setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
      });
      const onKey = (e) => {
        const ctrl = e.ctrlKey || e.metaKey, key = e.key.toLowerCase();
        let command = null;
        if (ctrl && key === "z") command = e.shiftKey ? "redo" : "undo";
        else if (ctrl && key === "y") command = "redo";
        else if (ctrl && key === "s") command = "save";
        else if (ctrl && key === "a") command = "select_all";
        else if (!ctrl && key === " ") command = "run_pause";
        else if (!ctrl && (key === "delete" || key === "backspace")) command = "delete";
        if (command === null || (typing(e) && command !== "save")) return;
        if (command !== "delete") e.preventDefault();  // the canvas deletes selected wires itself
        model.send_msg({ command });
      };
      document.addEventListener("keydown", onKey);
      const el = document.createElement("span");
      el.className = "wb-browser-link";
      return el;
    }
    """ % (COOKIE, TAB_KEY, TAB_KEY)

    def __init__(self, **params):
        super().__init__(**params)
        self.on_command: Callable[[str], None] | None = None
        self.on_restore: Callable[[bool], None] | None = None

    def _handle_msg(self, data) -> None:
        if isinstance(data, dict) and isinstance(data.get("restore"), bool) and self.on_restore is not None:
            self.on_restore(data["restore"])
            return
        command = data.get("command") if isinstance(data, dict) else None
        if command in SHORTCUTS and self.on_command is not None:
            self.on_command(command)

    def offer_restore(self, html: str) -> None:
        """Show the autosave offer (trusted, escaped HTML); the answer comes to ``on_restore``."""
        self._send_msg({"offer": html})

    def fit(self) -> None:
        """Frame every block in the canvas (after Open, or the Fit button)."""
        self._send_msg({"fit": True})

    def download(self, filename: str, text: str) -> None:
        """Make the browser save ``text`` as ``filename`` (Ctrl+S)."""
        self._send_msg({"download": filename, "text": text})
