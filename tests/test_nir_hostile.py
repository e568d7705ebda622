"""Hostile and malformed NIR files: refused with NIRError naming node and field, never a crash,
a hang or a huge allocation. The fuzz test mutates real NIR files (ours, and the layout
snnTorch writes) at the HDF5 level and byte level; NIR_FUZZ_CASES sets its length."""
from __future__ import annotations

import os
import resource
import time

import numpy as np
import pytest

from simulations import compile
from simulations.errors import CircuitError
from simulations.nir_io import NIRError, from_nir, read_nir, write_nir

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")


def small_graph(n_in=3, n=2, bias=True):
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n_in])}),
               "0": nir.Affine(weight=np.full((n, n_in), 0.5), bias=np.full(n, 0.01)) if bias
               else nir.Linear(weight=np.full((n, n_in), 0.5)),
               "1": nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.01), r=np.full(n, 100.0),
                                v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 50.0)),
               "output": nir.Output(output_type={"output": np.array([n])})},
        edges=[("input", "0"), ("0", "1"), ("1", "output")],
    )


def test_a_compressed_size_bomb_is_refused_from_its_metadata(tmp_path):
    """A ~45 KB file whose gzip'd weight dataset would decompress to 7.45 GiB."""
    path = tmp_path / "bomb.nir"
    nir.write(str(path), small_graph())
    with h5py.File(path, "a") as f:
        del f["node/nodes/0/weight"]
        f.create_dataset("node/nodes/0/weight", shape=(2, 500_000_000), dtype="f8", compression="gzip", fillvalue=0.5)
    assert path.stat().st_size < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(NIRError, match=r"bomb.nir: reading it would need about 14\.9 GiB .*7\.45 GiB of arrays"):
        read_nir(path, max_bytes=8 << 30)
    assert time.perf_counter() - t0 < 2.0
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 < 200e6  # nothing read


def test_a_large_linear_is_refused_quickly_with_the_estimate():
    n = 3000
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}),
                                "fc": nir.Linear(weight=np.ones((n, n))),
                                "lif": nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n),
                                               v_threshold=np.ones(n), v_reset=np.zeros(n))},
                         edges=[("input", "fc"), ("fc", "lif")])
    t0 = time.perf_counter()
    with pytest.raises(NIRError, match=r"'fc': the graph's 9,000,000\+ synapses would need about 3\.35 GiB"):
        from_nir(graph)
    assert time.perf_counter() - t0 < 2.0
    small = from_nir(graph, max_synapses=10**7, max_bytes=10**12) if os.environ.get("NIR_BIG") else None
    assert small is None or len(small.block("fc").edges) == n * n


@pytest.mark.parametrize("field, value, message", [
    ("tau_mem", np.full(2, np.nan), r"'1' \(CubaLIF\): tau_mem holds NaN or infinite values"),
    ("tau_syn", np.full(2, -0.005), r"'1' \(CubaLIF\): tau_syn must be positive"),
    ("v_threshold", np.ones(5), r"'0': weight has 2 rows but '1' has 5 neurons"),
    ("r", np.ones(3), r"'1' \(CubaLIF\): r has 3 values for 2 neurons"),
    ("tau_mem", np.array([0.01, 0.02]), r"'1': tau_mem differs between neurons"),
    ("tau_mem", np.full(2, 1e-5), r"'1': tau_mem = 1e-05 s is not longer than the step dt = 0.1 ms"),
])
def test_malformed_neuron_fields_name_node_and_field(field, value, message):
    graph = small_graph()
    setattr(graph.nodes["1"], field, value)
    with pytest.raises(NIRError, match=message):
        from_nir(graph)


def test_malformed_structure_names_what_is_wrong(tmp_path):
    graph = small_graph()
    graph.nodes["0"].weight = np.ones((3, 3))
    with pytest.raises(NIRError, match=r"'0': weight has 3 rows but '1' has 2 neurons"):
        from_nir(graph)
    graph = small_graph()
    graph.edges.append(("1", "ghost"))
    with pytest.raises(NIRError, match=r"names a node that does not exist: 'ghost'"):
        from_nir(graph)
    (tmp_path / "junk.nir").write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(NIRError, match=r"junk.nir is not a readable NIR \(HDF5\) file"):
        read_nir(tmp_path / "junk.nir")
    path = tmp_path / "typo.nir"
    nir.write(str(path), small_graph())
    with h5py.File(path, "a") as f:
        del f["node/nodes/1/type"]
        f["node/nodes/1/type"] = "NotANode"
    with pytest.raises(NIRError, match=r"typo.nir is not a valid NIR graph"):
        read_nir(path)


def test_a_reader_crash_or_hang_is_contained_in_a_child_process(tmp_path, monkeypatch):
    """Fuzzing found a byte-mutated file that segfaults the HDF5 library inside nir.read."""
    import signal

    import simulations.nir_io as nir_io

    path = tmp_path / "g.nir"
    nir.write(str(path), small_graph())
    monkeypatch.setattr(nir, "read", lambda *a: os.kill(os.getpid(), signal.SIGSEGV))
    with pytest.raises(NIRError, match=r"g.nir is not a valid NIR graph: the HDF5 reader crashed on it"):
        read_nir(path)
    monkeypatch.setattr(nir, "read", lambda *a: time.sleep(60))
    monkeypatch.setattr(nir_io, "READ_TIMEOUT_S", 1.0)
    with pytest.raises(NIRError, match=r"g.nir: reading it did not finish within 1 s"):
        read_nir(path)


def test_any_node_name_becomes_a_block_name():
    circuit = from_nir(small_graph())
    assert {"input", "n_0", "n_0_bias", "n_0_bias_source", "n_1"} == set(circuit.blocks)
    sim = compile(circuit)
    sim.run(0.01)


# -- fuzz ------------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ_CASES = int(os.environ.get("NIR_FUZZ_CASES", "600"))
HANG_S = 10.0
VALUES = [np.nan, np.inf, -np.inf, -1.0, 0.0, 1e-300, 1e300, 1e12, 2**40, "x", b"\xff", [], [[1.0]], np.ones((2, 2, 2)),
          np.zeros(0), np.arange(7.0), -0.0, 1]


def seed_files(tmp):
    """Real NIR files to start from: ours (mixed synapses, bias) and snnTorch's layout."""
    from simulations import Circuit

    c = Circuit("fuzz")
    c.add("inp", "SpikeTimes", n=4, spikes=[[0, 1.0], [3, 2.0]])
    c.add("fc", "Projection", p=0.5, weight=3.0, tau_syn=2.0)
    c.add("hid", "LIFPopulation", n=3, t_ref=0.0)
    c.add("rec", "Projection", p=0.5, weight=1.0, tau_syn=5.0)
    c.add("tonic", "TonicInput")
    c.add("b", "Projection", weight=0.5, tau_syn=2.0)
    for a, b in [("inp.spikes", "fc.spikes"), ("fc.current", "hid.current"), ("hid.spikes", "rec.spikes"),
                 ("rec.current", "hid.current"), ("tonic.spikes", "b.spikes"), ("b.current", "hid.current")]:
        c.connect(a, b)
    paths = [tmp / "ours.nir", tmp / "snn.nir"]
    write_nir(c, paths[0])
    nir.write(str(paths[1]), small_graph())
    return [p.read_bytes() for p in paths]


def _datasets(f):
    out = []
    f.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(out)


def mutate(data: bytes, path, draw) -> None:
    """Write a mutant of the NIR file ``data`` to ``path``."""
    path.write_bytes(data)
    kind = draw(st.sampled_from(["value", "value", "delete", "rename", "edges", "bytes", "truncate"]))
    if kind == "bytes":
        raw = bytearray(data)
        for _ in range(draw(st.integers(1, 20))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        path.write_bytes(bytes(raw))
        return
    if kind == "truncate":
        path.write_bytes(data[: draw(st.integers(0, len(data) - 1))])
        return
    with h5py.File(path, "a") as f:
        names = _datasets(f)
        target = draw(st.sampled_from(names))
        if kind == "value":
            value = draw(st.sampled_from(VALUES))
            old = f[target]
            if isinstance(value, float) and old.shape and old.dtype.kind == "f" and draw(st.booleans()):
                arr = old[()].copy()
                arr.flat[draw(st.integers(0, arr.size - 1))] = value if arr.size else 0
                value = arr
            del f[target]
            try:
                f[target] = value
            except (TypeError, ValueError):
                f[target] = "garbage"
        elif kind == "delete":
            del f[draw(st.sampled_from([target, target.rsplit("/", 1)[0]]))]
        elif kind == "rename":
            group = target.rsplit("/", 1)[0]
            new = "node/nodes/" + draw(st.text(min_size=1, max_size=8).filter(lambda s: not set(s) & {"/", "\0", "."}))
            if group.startswith("node/nodes/") and group.count("/") == 2 and new not in f:
                f.move(group, new)
        else:
            edges = f["node/edges"][()]
            del f["node/edges"]
            nodes = list(f["node/nodes"])
            extra = draw(st.lists(st.tuples(st.sampled_from(nodes + ["ghost"]), st.sampled_from(nodes + ["ghost"])), max_size=4))
            rows = [list(map(bytes.decode, e)) if isinstance(e[0], bytes) else list(e) for e in edges.tolist()]
            rows = rows[: draw(st.integers(0, len(rows)))] + [list(e) for e in extra]
            f["node/edges"] = np.array(rows, dtype=object).astype("S") if rows else np.zeros((0, 2), "S1")


def check(path) -> str:
    """'accepted' (imports, compiles and runs 20 steps) or 'refused' (the project's error)."""
    try:
        circuit = read_nir(path)
        sim = compile(circuit, record="none")
        sim.step(20)
        return "accepted"
    except CircuitError:
        return "refused"


def test_fuzzed_nir_files_are_accepted_or_refused_never_crash(tmp_path, record_property):
    seeds = seed_files(tmp_path)
    counts = {"accepted": 0, "refused": 0}
    slowest = [0.0]

    @seed(20261125)
    @settings(max_examples=FUZZ_CASES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        path = tmp_path / "case.nir"
        mutate(seeds[data.draw(st.integers(0, len(seeds) - 1))], path, data.draw)
        t0 = time.process_time()  # CPU time: a loaded machine's waits are not a hang
        outcome = check(path)  # anything but CircuitError propagates: a crash
        took = time.process_time() - t0
        slowest[0] = max(slowest[0], took)
        assert took < HANG_S, f"took {took:.1f} s of CPU"
        counts[outcome] += 1
        if sum(counts.values()) % 500 == 0:
            print(f"NIR fuzz progress: {counts}, slowest {slowest[0]:.2f} s", flush=True)

    case()
    record_property("nir_fuzz", {**counts, "slowest_s": round(slowest[0], 3)})
    print(f"NIR fuzz: {counts}, slowest {slowest[0]:.3f} s of CPU")
    assert counts["accepted"] > 0 and counts["refused"] > 0
