"""The last circuit of each browser, kept server-side and keyed by the browser's cookie id,
so a page reload (a new Panel session) reopens what the user was editing."""
from __future__ import annotations

import threading
from collections import OrderedDict

MAX_BROWSERS = 200

_lock = threading.Lock()
_circuits: OrderedDict[str, str] = OrderedDict()


def save(browser_id: str, circuit_json: str) -> None:
    if not browser_id:
        return
    with _lock:
        _circuits[browser_id] = circuit_json
        _circuits.move_to_end(browser_id)
        while len(_circuits) > MAX_BROWSERS:
            _circuits.popitem(last=False)


def load(browser_id: str | None) -> str | None:
    with _lock:
        return _circuits.get(browser_id) if browser_id else None
