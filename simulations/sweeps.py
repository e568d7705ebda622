"""Parameter sweeps: many variants of one circuit, run as batched tasks on dask.distributed.

A sweep is a set of points (values of one or more ``"block.param"``) times a set of seeds.
Points that differ only in live parameters share one compile on the batch dimension (each row
equals its own separate run: common random numbers), so a task is one compile of a chunk of
points for one seed. Workers get the circuit as JSON plus the values and compile there; a
Simulator never travels. Every finished point is written to a small JSON file keyed by a hash
of the circuit, point, seed and run settings, so a re-run or an interrupted sweep runs only
what is missing.

    from simulations.sweeps import sweep, grid
    ds = sweep(circuit, grid({"exc.tau_m": [10, 20, 30]}), seeds=3, duration=500, metrics=["rate"])
"""
from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import param

from components.readout import Readout

from .circuit import Circuit
from .errors import CircuitError, DivergenceError
from .files import circuit_to_dict
from .probes import SpikeRecorder

CACHE_VERSION = 1  # bump when a metric's maths changes, so old cached values are not reused


# -- designs: which points to run ------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """Points to run: ``values[i, j]`` is parameter ``names[j]`` at point ``i``. ``axes`` holds
    each parameter's values when the points are their full grid (then each gets a dimension)."""

    names: tuple[str, ...]
    values: np.ndarray
    axes: tuple[np.ndarray, ...] | None = None


def grid(params: dict[str, Sequence[float]]) -> Design:
    """Every combination of the given values (the first parameter varies slowest)."""
    names = tuple(params)
    axes = tuple(np.asarray(list(v), dtype=float) for v in params.values())
    if any(a.ndim != 1 or len(a) == 0 for a in axes):
        raise ValueError("each swept parameter needs a non-empty list of values")
    values = np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(names))
    return Design(names, values, axes)


def random_samples(params: dict[str, tuple[float, float]], n: int, seed: int = 0) -> Design:
    """``n`` points drawn uniformly from each parameter's (low, high) range."""
    names, lo, hi = _ranges(params)
    u = np.random.default_rng(seed).random((n, len(names)))
    return Design(names, lo + u * (hi - lo))


def latin_hypercube(params: dict[str, tuple[float, float]], n: int, seed: int = 0) -> Design:
    """``n`` points, one in each of the n equal slices of every parameter's range (McKay 1979):
    the marginals are even however many parameters there are."""
    names, lo, hi = _ranges(params)
    rng = np.random.default_rng(seed)
    slices = np.stack([rng.permutation(n) for _ in names], 1)
    u = (slices + rng.random((n, len(names)))) / n
    return Design(names, lo + u * (hi - lo))


def _ranges(params):
    names = tuple(params)
    bounds = np.array([tuple(map(float, params[k])) for k in names]).reshape(len(names), 2)
    if np.any(bounds[:, 1] < bounds[:, 0]):
        raise ValueError(f"each range should be (low, high); got {params}")
    return names, bounds[:, 0], bounds[:, 1]


# -- metrics: what to measure in each variant -------------------------------------------------------
def _events(sim, block):
    rec = sim.recorder(f"{block}.spikes")
    width = sim.probe_value(f"{block}.spikes").shape[-1]
    steps = 0 if rec.first_step is None else rec.last_step - rec.first_step + 1
    return rec.events(), width, steps, rec.first_step or 0


def rate(sim, block: str) -> np.ndarray:
    """Mean firing rate (Hz) of the population."""
    return sim.rates(block)


def cv_isi(sim, block: str) -> np.ndarray:
    """Coefficient of variation of inter-spike intervals, averaged over neurons with >= 3 spikes
    (1 for a Poisson train, 0 for a clock); NaN where no neuron fired 3 times."""
    events, width, _, _ = _events(sim, block)
    out = np.full(sim.batch, np.nan)
    if len(events) < 3:
        return out
    train = events[:, 1] * width + events[:, 2]  # one id per (row, neuron)
    order = np.lexsort((events[:, 0], train))
    train, steps = train[order], events[order, 0].astype(float)
    same = train[1:] == train[:-1]
    isi, who = np.diff(steps)[same], train[1:][same]
    ids, inverse, count = np.unique(who, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, isi) / count
    var = np.bincount(inverse, isi ** 2) / count - mean ** 2
    keep = count >= 2
    cv = np.sqrt(np.maximum(var[keep], 0)) / mean[keep]
    rows = ids[keep] // width
    for row in np.unique(rows):
        out[row] = cv[rows == row].mean()
    return out


def _binned(sim, block, bin_ms):
    """Population spike counts per bin, (batch, bins), and the per-(row, neuron, bin) counts."""
    events, width, steps, first = _events(sim, block)
    per_bin = max(1, int(round(bin_ms / sim.dt)))
    bins = max(1, steps // per_bin)
    events = events[(events[:, 0] - first) < bins * per_bin]
    b = (events[:, 0] - first) // per_bin
    population = np.bincount(events[:, 1] * bins + b, minlength=sim.batch * bins).reshape(sim.batch, bins)
    return population, events, b, bins, width


def branching(sim, block: str, bin_ms: float = 1.0) -> np.ndarray:
    """Branching parameter m: the slope of A(t+1) on A(t), A the population count per bin (the
    conventional regression estimator; Wilting & Priesemann 2018). 0 for independent (Poisson)
    neurons, 1 at criticality; exact when every neuron is observed, biased low when not."""
    population, *_ = _binned(sim, block, bin_ms)
    a, b = population[:, :-1].astype(float), population[:, 1:].astype(float)
    a_c, b_c = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a_c * b_c).sum(1) / (a_c ** 2).sum(1)


def synchrony(sim, block: str, bin_ms: float = 2.0) -> np.ndarray:
    """Golomb's synchrony chi on binned spike counts: sqrt(variance of the population mean /
    mean single-neuron variance); about 1/sqrt(N) for independent neurons, 1 in full synchrony."""
    population, events, b, bins, width = _binned(sim, block, bin_ms)
    population_var = (population / width).var(1)
    # mean over neurons of var_t(c) = E[c^2] - E[c]^2, from the non-empty (row, neuron, bin) cells
    neuron = events[:, 1] * width + events[:, 2]
    cells, per_cell = np.unique(neuron * bins + b, return_counts=True)
    mean_c2 = np.bincount(cells // (width * bins), per_cell.astype(float) ** 2, minlength=sim.batch) / (width * bins)
    neurons, per_neuron = np.unique(neuron, return_counts=True)
    mean_c_sq = np.bincount(neurons // width, (per_neuron / bins) ** 2, minlength=sim.batch) / width
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(population_var / (mean_c2 - mean_c_sq))


def accuracy(sim, block: str) -> np.ndarray:
    """A Readout's accuracy on the held-out windows it scored; NaN before it scored any."""
    state = sim.node(block).state
    if not state["tested"]:
        return np.full(sim.batch, np.nan)
    return state["accuracy"][:, 0].double().cpu().numpy()


BUILTIN = {"rate": rate, "cv_isi": cv_isi, "branching": branching, "synchrony": synchrony, "accuracy": accuracy}


@dataclass(frozen=True)
class Metric:
    """One output variable: ``fn(sim)`` (or ``fn(sim, block)``) gives one value per batch row."""

    name: str
    fn: Callable
    block: str | None = None

    def __call__(self, sim) -> np.ndarray:
        values = self.fn(sim) if self.block is None else self.fn(sim, self.block)
        values = np.asarray(values, dtype=float).reshape(-1)
        if len(values) != sim.batch:
            raise ValueError(f"metric {self.name!r} gave {len(values)} values for {sim.batch} variants")
        return values

    @property
    def key(self) -> str:
        """What identifies its values in the cache: the name and the function's code."""
        try:
            code = inspect.getsource(self.fn)
        except (OSError, TypeError):
            code = self.fn.__code__.co_code.hex()
        return f"{self.name}:{hashlib.sha256(code.encode()).hexdigest()[:12]}"


def metric_choices(circuit: Circuit, record: Sequence[str] | None = None) -> list[Metric]:
    """Every builtin metric that applies to this circuit, one per block (for menus)."""
    record = default_record(circuit) if record is None else record
    spiking = [p.partition(".")[0] for p in record if p.endswith(".spikes")]
    readouts = [n for n, b in circuit.blocks.items() if isinstance(b, Readout)]
    return [Metric(f"{m}_{b}", fn, b) for m, fn in BUILTIN.items() for b in (readouts if m == "accuracy" else spiking)]


def default_record(circuit: Circuit) -> list[str]:
    """Every spike probe: what the builtin metrics read, and cheap to keep."""
    return [f"{n}.{k}" for n, b in circuit.blocks.items() for k, p in b.probes.items() if p.view == "raster"]


def resolve_metrics(circuit: Circuit, metrics, record: Sequence[str]) -> list[Metric]:
    """Builtin names expand to one variable per block they apply to (``rate_exc``, ...): the
    spike metrics to every recorded spike probe, ``accuracy`` to every Readout. A function, a
    Metric or a ``{name: function}`` entry is used as it is."""
    if isinstance(metrics, (str, dict)) or callable(metrics):
        metrics = [metrics]
    choices = metric_choices(circuit, record)
    out: list[Metric] = []
    for m in metrics:
        if isinstance(m, Metric):
            out.append(m)
        elif isinstance(m, dict):
            out += [Metric(str(k), v) for k, v in m.items()]
        elif callable(m):
            out.append(Metric(m.__name__, m))
        elif m in BUILTIN:
            found = [c for c in choices if c.fn is BUILTIN[m]]
            if not found:
                raise CircuitError(f"metric {m!r} needs {'a Readout block' if m == 'accuracy' else 'a recorded spike probe'}")
            out += found
        else:
            raise ValueError(f"unknown metric {m!r}: use one of {', '.join(BUILTIN)} or a function of the simulator")
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ValueError(f"two metrics share a name: {names}")
    return out


# -- one task: runs on a worker --------------------------------------------------------------------
def run_task(circuit_json: str, seed: int, fixed: dict[str, float], variants: dict[str, list[float]],
             metrics: list[Metric], dt: float, duration: float, warmup: float, record: list[str]) -> dict:
    """Compile ``circuit_json`` with ``fixed`` structural values set and one batch row per
    variant, run it, and measure; returns ``{metric name: values}`` and the seconds it took."""
    import torch

    from .simulator import compile

    start, cpu = time.perf_counter(), time.process_time()
    torch.set_num_threads(1)  # a worker runs one task per thread: parallel across tasks
    circuit = Circuit.from_json(circuit_json)
    for key, value in fixed.items():
        _set(circuit, key, value)
    sim = compile(circuit, dt=dt, seed=seed, variants=variants, record=record)
    for path in record:  # keep every spike of the run (the default recorder keeps the newest 2M)
        if sim.recorders[path].view == "raster":
            sim.record(path, SpikeRecorder(capacity=2**62))
    try:
        if warmup > 0:
            sim.run(warmup / 1000.0)
            for rec in sim.recorders.values():
                rec.clear()
        sim.run(duration / 1000.0)
        values = {m.name: m(sim).tolist() for m in metrics}
        error = None
    except DivergenceError as e:
        values = {m.name: [math.nan] * sim.batch for m in metrics}
        error = str(e)
    return {"values": values, "error": error, "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu}


def _set(circuit: Circuit, key: str, value) -> None:
    name, _, pname = key.partition(".")
    block = circuit.block(name)
    if pname not in block.user_params():
        raise CircuitError(f"{name} ({type(block).__name__}) has no parameter {pname!r}")
    p = block.param[pname]
    if not isinstance(p, param.Number):
        raise CircuitError(f"{key} is not a number, so it cannot be swept")
    if isinstance(p, param.Integer):
        if float(value) != int(value):
            raise ValueError(f"{key} takes whole numbers, got {value}")
        value = int(value)
    setattr(block, pname, value)  # param's own bounds check and message


# -- the cache: one small JSON file per (point, seed) ----------------------------------------------
class Cache:
    """Finished points on disk, so a sweep resumes; ``folder=None`` keeps nothing."""

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)

    def get(self, key: str) -> dict:
        if self.folder is None:
            return {}
        try:
            return json.loads((self.folder / f"{key}.json").read_text())
        except (OSError, ValueError):
            return {}

    def put(self, key: str, values: dict) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        merged = {**self.get(key), **values}
        tmp = self.folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(merged))
        tmp.replace(self.folder / f"{key}.json")  # atomic: an interrupted write leaves no half file


def default_cache_folder() -> Path:
    root = os.environ.get("WORKBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "workbench")
    return Path(root) / "sweeps"


def _point_key(circuit_doc: dict, point: dict, seed: int, settings: dict) -> str:
    text = json.dumps({"v": CACHE_VERSION, "circuit": circuit_doc, "point": point, "seed": seed, **settings},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# -- the cluster -----------------------------------------------------------------------------------
_LOCAL = None
_LOCAL_LOCK = threading.Lock()


def local_client(n_workers: int | None = None):
    """A LocalCluster client sized to this machine (one single-threaded worker process per
    core), started once per process and reused (the GUI starts it early, from a thread)."""
    global _LOCAL
    from distributed import Client, LocalCluster

    with _LOCAL_LOCK:
        if _LOCAL is None or _LOCAL.status in ("closed", "closing"):
            n = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
            _LOCAL = Client(LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"))
        return _LOCAL


def _connect(client):
    """The client to use and whether we made it (then we close it): a Client, a scheduler
    address, the active client, or a LocalCluster."""
    from distributed import Client, get_client

    if isinstance(client, Client):
        return client, False
    if isinstance(client, str):
        return Client(client), True
    try:
        return get_client(), False
    except ValueError:
        return local_client(), False


def _warm_kernels():
    """Load (building if needed) the compiled kernels, so tasks find them ready."""
    import torch

    from components import native

    return native.kernel("run_program", torch.device("cpu"), torch.float32) is not None


def _warm_hosts(client) -> None:
    """Build the kernel cache one worker per host first, so the other workers on the host (which
    share its cache folder) load it instead of all compiling at once."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    first = {}
    for address, info in workers.items():
        first.setdefault(info.get("host"), address)
    client.run(_warm_kernels, workers=list(first.values()))


# -- the sweep -------------------------------------------------------------------------------------
@dataclass
class _Task:
    seed: int
    fixed: dict
    rows: list[int]  # point indices


def _estimate(circuit: Circuit, point_fixed: dict, dt: float, steps: int, record: list[str]) -> tuple[float, float]:
    """Seconds and bytes per variant for the whole run, from 50 steps of one variant here
    (compiling here also builds the kernel cache of this host)."""
    from .simulator import compile

    c = circuit.copy()
    for k, v in point_fixed.items():
        _set(c, k, v)
    sim = compile(c, dt=dt, record=record)
    sim.step(5)
    start = time.perf_counter()
    probe = 50
    sim.step(probe)
    seconds = (time.perf_counter() - start) / probe * steps
    state = sum(t.numel() * t.element_size() for node in sim.nodes.values()
                for t in node.state.values() if hasattr(t, "numel"))
    events = sum(len(r.events()) for r in sim.recorders.values() if isinstance(r, SpikeRecorder))
    return seconds, state + 24 * events / (probe + 5) * steps


def _plan(groups: dict, n_workers: int, seconds: float, nbytes: float, rows_per_task: int | None,
          task_seconds: float, memory: float) -> list[_Task]:
    """Chunks of each group's points: enough tasks to keep every worker busy (4 each), none so
    short that the per-task overhead dominates, none too big for a worker's memory."""
    total = sum(len(rows) for rows in groups.values())
    if rows_per_task is None:
        rows_per_task = math.ceil(total / (4 * n_workers))
        rows_per_task = max(rows_per_task, math.ceil(task_seconds / max(seconds, 1e-9)))
        rows_per_task = max(1, min(rows_per_task, int(memory / max(nbytes, 1)), 1024))
    tasks = []
    for (seed, fixed), rows in groups.items():
        for i in range(0, len(rows), rows_per_task):
            tasks.append(_Task(seed, dict(fixed), rows[i:i + rows_per_task]))
    return tasks


def sweep(circuit: Circuit, design: Design | dict, seeds: int | Sequence[int] = 1, duration: float = 500.0,
          metrics=("rate",), dt: float = 0.1, warmup: float = 0.0, record: Sequence[str] | None = None,
          client=None, cache: bool | str | os.PathLike = True, progress: bool = True,
          on_result: Callable | None = None, rows_per_task: int | None = None,
          task_seconds: float = 2.0, worker_memory: float = 2e9):
    """Run ``circuit`` at every point of ``design`` for every seed; returns an xarray Dataset.

    ``design``: a Design (``grid``, ``random_samples``, ``latin_hypercube``) or a dict, taken as a
    grid. ``seeds``: a count or a list. ``duration``/``warmup`` in ms (what happens during the
    warm-up is not measured). ``metrics``: names from ``BUILTIN``, functions of the simulator
    giving one value per batch row, or ``{name: function}``. ``record``: the probes recorded
    (default: every spike probe). ``client``: a distributed Client or scheduler address; by
    default the active client, else a LocalCluster. ``cache``: True (the workbench cache
    folder), a folder, or False. ``on_result(rows, seed, values)`` is called as each task
    finishes (and once per seed for the runs found in the cache); an exception from it stops
    the sweep (what finished stays cached).
    """
    import xarray as xr
    from tqdm.auto import tqdm

    if isinstance(design, dict):
        design = grid(design)
    seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds should be distinct and at least one, got {seeds}")
    if duration <= 0:
        raise ValueError(f"duration must be positive (ms), got {duration}")
    circuit.validate()
    live, scratch = set(), circuit.copy()
    for key in design.names:  # check every value here, with param's own message
        name, _, pname = key.partition(".")
        for value in np.unique(design.values[:, design.names.index(key)]):
            _set(scratch, key, value)
        if pname in circuit.block(name).live_params():
            live.add(key)
    record = default_record(circuit) if record is None else list(record)
    metric_list = resolve_metrics(circuit, metrics, record)

    doc = circuit_to_dict(circuit)
    for block in doc["blocks"]:
        block.pop("position", None)  # where a block sits on the canvas changes no result
    circuit_json = json.dumps(doc)
    settings = {"dt": dt, "duration": duration, "warmup": warmup, "record": sorted(record)}
    store = Cache(None if cache is False else default_cache_folder() if cache is True else cache)

    n_points, names = len(design.values), [m.name for m in metric_list]
    results = np.full((n_points, len(seeds), len(names)), np.nan)
    points = [dict(zip(design.names, map(float, row))) for row in design.values]
    keys = {}
    groups: dict[tuple, list[int]] = {}
    for s, seed in enumerate(seeds):
        for i, point in enumerate(points):
            keys[i, s] = _point_key(doc, point, seed, settings)
            found = store.get(keys[i, s])
            if all(m.key in found for m in metric_list):
                results[i, s] = [found[m.key] for m in metric_list]
            else:
                fixed = tuple((k, v) for k, v in point.items() if k not in live)
                groups.setdefault((seed, fixed), []).append(i)
    cached = n_points * len(seeds) - sum(len(r) for r in groups.values())
    if on_result is not None and cached:
        for s, seed in enumerate(seeds):
            rows = [i for i in range(n_points) if not np.isnan(results[i, s]).all()]
            if rows:
                on_result(rows, seed, dict(zip(names, results[rows, s].T)))

    stats = {"tasks": 0, "task_seconds": 0.0, "task_cpu_seconds": 0.0, "errors": []}
    start = time.perf_counter()
    if groups:
        dask_client, owned = _connect(client)
        try:
            _run(dask_client, circuit, circuit_json, groups, points, live, metric_list, seeds, settings,
                 rows_per_task, task_seconds, worker_memory, results, store, keys, stats, on_result,
                 tqdm(total=n_points * len(seeds), initial=cached, unit="run", disable=not progress))
        finally:
            if owned:
                dask_client.close()

    seed_coord = np.array(seeds)
    if design.axes is not None:
        dims = [*design.names, "seed"]
        shape = [len(a) for a in design.axes] + [len(seeds)]
        coords = {**dict(zip(design.names, design.axes)), "seed": seed_coord}
        data = {n: (dims, results[:, :, j].reshape(shape)) for j, n in enumerate(names)}
    else:
        dims = ["sample", "seed"]
        coords = {"sample": np.arange(n_points), "seed": seed_coord,
                  **{k: ("sample", design.values[:, j]) for j, k in enumerate(design.names)}}
        data = {n: (dims, results[:, :, j]) for j, n in enumerate(names)}
    attrs = {"circuit": circuit.name, "duration_ms": duration, "warmup_ms": warmup, "dt_ms": dt,
             "runs_from_cache": cached, "tasks_run": stats["tasks"], "task_seconds": stats["task_seconds"],
             "task_cpu_seconds": stats["task_cpu_seconds"],
             "wall_seconds": time.perf_counter() - start, "errors": "; ".join(stats["errors"])}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _run(client, circuit, circuit_json, groups, points, live, metric_list, seeds, settings, rows_per_task,
         task_seconds, worker_memory, results, store, keys, stats, on_result, bar):
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    steps = int(round((settings["duration"] + settings["warmup"]) / settings["dt"]))
    (seed, fixed), rows = next(iter(groups.items()))
    seconds, nbytes = _estimate(circuit, dict(fixed), settings["dt"], steps, settings["record"])
    tasks = _plan(groups, n_workers, seconds, nbytes, rows_per_task, task_seconds, worker_memory)
    _warm_hosts(client)
    futures = {}
    for task in tasks:
        variants = {k: [points[i][k] for i in task.rows] for k in live}
        future = client.submit(run_task, circuit_json, task.seed, task.fixed, variants, metric_list,
                               settings["dt"], settings["duration"], settings["warmup"], settings["record"],
                               pure=False)
        futures[future] = task
    try:
        with bar:
            for future in as_completed(futures):
                task, out = futures.pop(future), future.result()
                s = seeds.index(task.seed)
                stats["tasks"] += 1
                stats["task_seconds"] += out["seconds"]
                stats["task_cpu_seconds"] += out["cpu_seconds"]
                values = np.array([out["values"][m.name] for m in metric_list]).T  # (rows, metrics)
                results[task.rows, s] = values
                if out["error"]:
                    stats["errors"].append(out["error"])
                else:
                    for i, row in zip(task.rows, values):
                        store.put(keys[i, s], {m.key: float(v) for m, v in zip(metric_list, row)})
                bar.update(len(task.rows))
                if on_result is not None:
                    on_result(task.rows, task.seed, dict(zip([m.name for m in metric_list], values.T)))
    finally:
        client.cancel(list(futures))
