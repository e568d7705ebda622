"""How live the workbench is: frames reaching the browser, simulation speed while displayed
versus headless, lag from a frame's data to its paint, and time from Run to the first frame.

Runs the real server (``python app.py``) and headless Chromium; each CUBA circuit is opened
through the page's file input, as a user would (1k and 10k neurons: CUBA as published, p = 0.02;
larger: CUBA-like with 100 synapses per neuron, ~10M synapses at 100k). ``--two-tabs`` measures
how long one tab's display stalls while another tab compiles the BDH demo. 10^6 neurons are
simulated on CUDA when a GPU is there; without one a line says "no GPU" and the rest runs.
CPU seconds per wall second of the server, the simulation process and the browser show where
the machine's cores go while a size is displayed.

    python benchmarks/live_views.py [--seconds 8] [--sizes 1000 10000 100000] [--two-tabs] [--no-gpu]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from simulations import compile  # noqa: E402
from simulations.examples import cuba  # noqa: E402
from workbench.app import DT  # noqa: E402
from workbench.serve import CHROMIUM_ARGS, chromium_path, start_server, stop_server  # noqa: E402

COUNT_FRAMES = """() => {
  window.__frames = 0; window.__frameTimes = [];
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.properties && m.properties.frame && m.properties.ack) {
      m.properties.frame.change.connect(() => { window.__frames += 1; window.__frameTimes.push(performance.now()); });
      return true;
    }
  return false;
}"""

FIRST_FRAME = """() => { for (const d of Bokeh.documents) for (const m of d.all_models) {
  if (m.name === "wb-raster" && m.data.t.length > 0) return true;
  if (m.name === "wb-raster-image" && m.data.x && m.data.x[0] !== 0) return true; }
  return false; }"""


def circuit_for(n: int):
    return cuba(n) if n <= 10_000 else cuba(n, p=100 / n)


def headless_steps_per_second(n: int, seconds: float, device: str = "cpu", sim=None) -> tuple[float, object]:
    """Steps/s of the same circuit compiled the same way (every default recorder on), one
    thread, no views: what the simulation does with nothing drawn."""
    torch.set_num_threads(1)
    if sim is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sim = compile(circuit_for(n), dt=DT, seed=0, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # recorders full: they keep the newest, as in the app
        sim.step(50)
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            sim.step(100)
            steps += 100
    return steps / (time.perf_counter() - start), sim


def _cpu_seconds() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, user + system CPU seconds) of every process (Linux)."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            name, rest = raw[raw.index("(") + 1: raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
            out[int(entry)] = (name, int(rest[1]), (int(rest[11]) + int(rest[12])) / tick)
    return out


def _descendants(table, root: int) -> set[int]:
    found, grew = {root}, True
    while grew:
        more = {pid for pid, (_, parent, _) in table.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


class CpuShares:
    """CPU seconds per wall second of the server (its event loop and threads), its simulation
    processes and the browser over a window: where the machine's two cores go."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.before, self.start = self._groups(), time.perf_counter()

    def _groups(self) -> dict[str, float]:
        table = _cpu_seconds()
        server_tree = _descendants(table, self.server_pid)
        browser = {pid for pid in _descendants(table, os.getpid()) if "chrom" in table[pid][0].lower()}
        browser = set().union(*(_descendants(table, pid) for pid in browser)) if browser else set()
        groups = dict(server=table[self.server_pid][2] if self.server_pid in table else 0.0,
                      simulation=sum(table[pid][2] for pid in server_tree - {self.server_pid}),
                      browser=sum(table[pid][2] for pid in browser))
        return groups

    def shares(self) -> dict[str, float]:
        after, wall = self._groups(), time.perf_counter() - self.start
        return {k: (after[k] - self.before[k]) / wall for k in after}


def status(page) -> str:
    return page.locator(".wb-status").evaluate("e => e.shadowRoot ? e.shadowRoot.textContent : e.textContent")


SIM_TIME = """() => { let last = 0; for (const d of Bokeh.documents) for (const m of d.all_models)
  if (m.name === "wb-rates" && m.data.t.length) last = Math.max(last, m.data.t[m.data.t.length - 1]);
  return last; }"""  # a replaced dashboard's source may linger in the document: take the latest


def sim_time(page) -> float:
    """Simulated ms the page shows: the newest population-rate bin (10 ms wide; rates redraw
    every 2nd to 4th frame) or the status line's time (4 updates a second), whichever is later."""
    found = re.findall(r"t = ([\d.,]+) ms", status(page))
    return max(float(page.evaluate(SIM_TIME)), float(found[-1].replace(",", "")) if found else 0.0)


def open_page(browser, url):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    opened = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".react-flow__node", timeout=120000)
    return context, page, time.perf_counter() - opened


def open_circuit(page, n: int) -> None:
    """Upload the circuit file through the page's Open input and wait for its 6 blocks. The file
    goes as bytes (a path is read lazily by the browser: a deleted temporary file was the
    fresh-clone timeout); a lost upload (page not yet connected) is sent again."""
    content = circuit_for(n).to_json().encode()
    for attempt in range(3):
        page.locator(".wb-open input[type=file]").set_input_files(
            {"name": f"cuba{n}-{attempt}.json", "mimeType": "application/json", "buffer": content})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if page.locator(".react-flow__node").count() == 6:
                return
            time.sleep(0.2)
    raise TimeoutError(f"the CUBA circuit did not open ({page.locator('.react-flow__node').count()} nodes)")


def displayed(browser, url: str, n: int, seconds: float, server_pid: int) -> dict:
    context, page, canvas_ready = open_page(browser, url)
    opened = time.perf_counter()
    open_circuit(page, n)  # the workbench compiles an opened circuit at once, ahead of Run
    time.sleep(1.0)  # a user's second between seeing the circuit and pressing Run
    clicked = time.perf_counter()
    page.get_by_role("button", name="▶ Run", exact=True).click()
    page.wait_for_function(FIRST_FRAME, timeout=180000, polling=20)
    run_to_frame, open_to_frame = time.perf_counter() - clicked, time.perf_counter() - opened
    time.sleep(1.0)
    page.evaluate(COUNT_FRAMES)
    lags_before = page.evaluate("() => window.__wbLags.length")
    t0, w0 = sim_time(page), time.perf_counter()
    cpu = CpuShares(server_pid)
    time.sleep(seconds)
    frames = page.evaluate("() => window.__frames")
    t1, w1 = sim_time(page), time.perf_counter()
    shares = cpu.shares()
    lags = page.evaluate(f"() => window.__wbLags.slice({lags_before})")
    detail = re.findall(r"detail (\d+)%", status(page))
    page.get_by_role("button", name="Pause", exact=True).click()
    context.close()
    lags = sorted(lags) or [float("nan")]
    return dict(canvas_ready=canvas_ready, run_to_first_frame=run_to_frame, open_to_first_frame=open_to_frame,
                fps=frames / (w1 - w0), cpu=shares, detail=int(detail[-1]) if detail else 100,
                steps_per_second=(t1 - t0) / DT / (w1 - w0), lag_median=lags[len(lags) // 2],
                lag_p90=lags[int(len(lags) * 0.9)])


def two_tabs(browser, url: str, quiet_seconds: float = 6.0) -> dict:
    """Tab B streams CUBA 1k; tab A opens the BDH demo (which compiles it) and presses Run. B's
    longest gap between frames from the click until A's compile is done, against B's longest gap
    in a quiet window just before."""
    ctx_b, b, _ = open_page(browser, url)
    open_circuit(b, 1000)
    b.get_by_role("button", name="▶ Run", exact=True).click()
    b.wait_for_function(FIRST_FRAME, timeout=120000, polling=20)
    ctx_a, a, _ = open_page(browser, url)
    a.get_by_role("button", name="Gallery", exact=True).click()
    time.sleep(2.0)
    b.evaluate(COUNT_FRAMES)
    time.sleep(quiet_seconds)
    quiet = b.evaluate("() => window.__frameTimes")
    start_ms = b.evaluate("() => performance.now()")
    clicked = time.perf_counter()
    a.get_by_role("button", name="Open Dragon Hatchling on a tiny text", exact=True).click()  # compiles ahead
    while "compiling" not in status(a) and time.perf_counter() - clicked < 10:
        time.sleep(0.05)
    a.get_by_role("button", name="▶ Run", exact=True).click()
    while "compiling" in status(a) and time.perf_counter() - clicked < 120:
        time.sleep(0.05)
    compile_s = time.perf_counter() - clicked
    end_ms = b.evaluate("() => performance.now()")
    times = [t for t in b.evaluate("() => window.__frameTimes") if start_ms <= t <= end_ms]
    marks = [start_ms, *times, end_ms]
    busy_gap = max(y - x for x, y in zip(marks, marks[1:])) / 1000
    quiet_gap = max(y - x for x, y in zip(quiet, quiet[1:])) / 1000 if len(quiet) > 1 else float("nan")
    for page in (a, b):
        page.get_by_role("button", name="Pause", exact=True).click()
    ctx_a.close()
    ctx_b.close()
    return dict(compile_s=compile_s, busy_gap=busy_gap, quiet_gap=quiet_gap, frames=len(times),
                median_gap=statistics.median(y - x for x, y in zip(marks, marks[1:])) / 1000)


def event_loop_work() -> dict:
    """Longest piece of work a session puts on the server's event loop (shared by every tab)
    while it opens the BDH demo, compiles it (in its process) and builds its views, then runs."""
    from workbench.app import Workbench
    from workbench.demos import get

    wb = Workbench()

    def longest_tick(until, ticks=None):
        worst = 0.0
        while not until() if ticks is None else ticks > 0:
            start = time.process_time()
            wb._sent.clear()
            wb.tick()
            worst = max(worst, time.process_time() - start)
            time.sleep(0.05)
            ticks = None if ticks is None else ticks - 1
        return worst

    try:
        longest_tick(lambda: wb.runner.layout is not None)
        start = time.process_time()
        wb.open_demo(get("bdh"))
        opening = time.process_time() - start
        compiling = longest_tick(lambda: wb.runner.layout is not None)
        wb.run()
        running = longest_tick(None, ticks=60)
        return dict(open=opening, compile=compiling, run=running)
    finally:
        wb.close()


def parameter_latency(n: int = 10_000, changes: int = 20) -> list[float]:
    """Seconds from ``set_param`` on the server to the change applied in the simulation process,
    while it runs ``n`` neurons as fast as it can."""
    from workbench.runner import Runner

    runner = Runner()

    def wait(kind):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for msg in runner.poll():
                if msg[0] == kind:
                    return msg
            time.sleep(0.001)
        raise TimeoutError(kind)

    try:
        runner.load(circuit_for(n).to_json(), None, DT, None)
        wait("loaded")
        runner.run()
        time.sleep(1.0)
        latencies = []
        for k in range(changes):
            runner.set_param("exc", "v_th", -50.0 - 0.1 * (k % 2))
            _, _, _, problem, sent_at, _ = wait("set")
            assert problem is None, problem
            latencies.append(time.monotonic() - sent_at)
            time.sleep(0.1)
        return sorted(latencies)
    finally:
        runner.close()


HEADER = ("  neurons  frames/s  steps/s shown  headless  ratio  lag s med/p90  Run->1st frame  Open->1st frame  "
          "detail  CPU s/s: server sim browser")


def table_row(n, shown, alone):
    c = shown["cpu"]
    return (f"{n:>9,}  {shown['fps']:8.1f}  {shown['steps_per_second']:13,.0f}  {alone:8,.0f}  "
            f"{shown['steps_per_second'] / alone:5.2f}  {shown['lag_median']:6.2f} / {shown['lag_p90']:4.2f}  "
            f"{shown['run_to_first_frame']:12.2f} s  {shown['open_to_first_frame']:13.2f} s  {shown['detail']:5d}%  "
            f"{c['server']:.2f} {c['simulation']:.2f} {c['browser']:.2f}")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per size")
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--two-tabs", action="store_true")
    parser.add_argument("--no-gpu", action="store_true", help="leave out 10^6 neurons on CUDA")
    args = parser.parse_args()
    runs = [(n, "cpu") for n in args.sizes]
    if not args.no_gpu:
        if torch.cuda.is_available():
            runs.append((1_000_000, "cuda"))
        else:
            print("10^6 neurons on a GPU: no GPU (no CUDA device here), skipped", flush=True)
    if not runs and not args.two_tabs:
        return
    print(load(), flush=True)
    lat = parameter_latency()
    print(f"live parameter change at 10k neurons, server -> simulation: median {lat[len(lat) // 2] * 1000:.0f} ms, "
          f"max {lat[-1] * 1000:.0f} ms over {len(lat)} changes", flush=True)
    print("headless: the same circuit stepped alone, just before and just after the displayed window "
          "(mean of the two); ratio = shown / headless", flush=True)
    print(HEADER, flush=True)
    headless_s = min(args.seconds / 2, 4.0)
    for device in sorted({d for _, d in runs} | ({"cpu"} if args.two_tabs else set())):
        os.environ["WORKBENCH_DEVICE"] = device  # read by the server's simulation processes
        proc, url = start_server()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                for n, d in runs:
                    if d != device:
                        continue
                    before, sim = headless_steps_per_second(n, headless_s, device)
                    shown = displayed(browser, url, n, args.seconds, proc.pid)
                    after, _ = headless_steps_per_second(n, headless_s, device, sim)
                    del sim
                    print(table_row(n, shown, (before + after) / 2) + ("  (CUDA)" if device == "cuda" else "")
                          + f"   [headless {before:,.0f} / {after:,.0f}; {load()}]", flush=True)
                if args.two_tabs and device == "cpu":
                    work = event_loop_work()
                    print(f"server event loop, longest callback (CPU s): BDH opened {work['open']:.3f}, while it "
                          f"compiles and its views are built {work['compile']:.3f}, running {work['run']:.3f}",
                          flush=True)
                    got = two_tabs(browser, url)
                    print(f"two tabs: opening + compiling BDH in tab A took {got['compile_s']:.1f} s; tab B's longest gap "
                          f"between frames meanwhile {got['busy_gap']:.2f} s ({got['frames']} frames, median gap "
                          f"{got['median_gap']:.2f} s) vs {got['quiet_gap']:.2f} s in a quiet window", flush=True)
                browser.close()
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
