"""NALSM accuracy over liquid sizes: astrocyte-modulated STDP vs the same STDP without the
astrocyte vs no plasticity, on scikit-learn's 8x8 digits, seeds 0-4 (mean +- sd per point).

One command: ``python benchmarks/nalsm_curve.py [sizes...]`` (default 250 500 1000 2000). It
writes every finished (size, seed) to ``benchmarks/nalsm_curve.json`` as it goes (a rerun skips
what is there, so sizes can run in parallel processes; ``--fresh`` starts over) and draws
``benchmarks/nalsm_curve.png`` from everything saved.

Protocol (one batch of three rows per size and seed: the same liquid, the same start, the same
digits): a LIF liquid (in-degree 10, all recurrent weights at the super-critical start w = 12,
as the reference starts from maximal weights) is organised by its STDP for ``N_ORGANISE``
digits; then the same liquid without plasticity (weights copied) shows ``N_TRAIN`` training
and ``N_TEST`` test digits, and its spike counts per digit are the features. The readout is ridge regression
on the counts, its penalty chosen per row by 5-fold cross-validation on the training digits
from the same grid, so every condition gets the same care. Row 2 ("no plasticity") keeps the
start weights; it is the plain LSM. Short presentations (``T_PRESENT`` ms, not the paper's 250)
keep a 2,000-neuron liquid inside this machine's budget.
"""
import json
import os
import sys
import time

import _common  # noqa: F401  (one thread, import path)
import numpy as np
import torch

from simulations import Circuit, compile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS, FIGURE = os.path.join(HERE, "nalsm_curve.json"), os.path.join(HERE, "nalsm_curve.png")
SIZES, SEEDS = (250, 500, 1000, 2000), range(5)
T_PRESENT, N_ORGANISE, N_TRAIN, N_TEST = 40.0, 150, 600, 300
W_START, RATE = 12.0, 0.6  # STDP steps of 5% of w_max per pair, as the reference (0.15 of 3)
ROWS = ["astrocyte STDP", "plain STDP", "no plasticity"]
LAMS = (1.0, 10.0, 100.0, 1e3, 1e4)


def circuit(n: int, seed: int, plastic: bool = True) -> Circuit:
    """The liquid with its STDP and astrocyte (organising), or without them (reading out: the
    same connectivity, drawn from the same seed, with the organised weights copied in)."""
    c = Circuit("nalsm_curve")
    c.add("digits", "ImageEncoder", count=N_TRAIN + N_TEST, t_present=T_PRESENT, order="shuffled",
          max_rate=50.0, seed=seed)
    c.add("in_liq", "Projection", p=0.2, weight=20.0, tau_syn=2.0)
    c.add("liquid", "LIFPopulation", n=n, v_init="uniform")
    c.add("rec", "Projection", p=10 / n, weight=W_START, tau_syn=2.0, autapses=False)
    wires = [("digits.spikes", "in_liq.spikes"), ("in_liq.current", "liquid.current"),
             ("liquid.spikes", "rec.spikes"), ("rec.current", "liquid.current")]
    if plastic:
        c.add("stdp", "STDP", A_plus=RATE, A_minus=RATE, w_min=0.0, w_max=W_START, modulated="depression")
        c.add("astro", "Astrocyte")  # block defaults for every size
        wires += [("stdp.rule", "rec.plasticity"), ("liquid.spikes", "stdp.post"),
                  ("liquid.spikes", "astro.liquid_activity"), ("digits.spikes", "astro.input_activity"),
                  ("astro.modulation", "stdp.modulation")]
    else:
        c.add("readout", "Readout", t_present=T_PRESENT, n_train=N_TRAIN + N_TEST + 1)  # collects, never fits
        wires += [("liquid.spikes", "readout.spikes"), ("digits.label", "readout.label")]
    for a, b in wires:
        c.connect(a, b)
    return c


def ridge_accuracy(F_train, y_train, F_test, y_test) -> float:
    """Ridge on standardised counts, penalty by 5-fold cross-validation on the training set."""
    mu, sd = F_train.mean(0), F_train.std(0) + 1e-6
    A, B = (F_train - mu) / sd, (F_test - mu) / sd

    def fit(X, y, lam):
        X1 = np.hstack([X, np.ones((len(X), 1))])
        Y = np.eye(10)[y]
        return np.linalg.solve(X1.T @ X1 + lam * np.eye(X1.shape[1]), X1.T @ Y)

    def score(W, X, y):
        return float(((np.hstack([X, np.ones((len(X), 1))]) @ W).argmax(1) == y).mean())

    folds = np.array_split(np.arange(len(A)), 5)
    cv = [np.mean([score(fit(np.delete(A, f, 0), np.delete(y_train, f), lam), A[f], y_train[f]) for f in folds])
          for lam in LAMS]
    return score(fit(A, y_train, LAMS[int(np.argmax(cv))]), B, y_test)


def run(n: int, seed: int) -> dict:
    start = time.perf_counter()
    variants = {"astro.w_in": [100.0, 0.0, 0.0], "astro.w_liq": [100.0, 0.0, 0.0],
                "stdp.A_plus": [RATE, RATE, 0.0], "stdp.A_minus": [RATE, RATE, 0.0]}
    sim = compile(circuit(n, seed), dt=1.0, seed=seed, variants=variants, record="none", dtype=torch.float32)
    sim.run(N_ORGANISE * T_PRESENT / 1000)  # organise on the first training digits (no labels used)
    features = []
    for row in range(3):  # the organised weights of each row, read out without plasticity
        frozen = compile(circuit(n, seed, plastic=False), dt=1.0, seed=seed, record="none", dtype=torch.float32)
        for name in ("in_liq", "rec"):
            a, b = sim.get_state(name, "synapses"), frozen.get_state(name, "synapses")
            if not (torch.equal(a.pre, b.pre) and torch.equal(a.post, b.post)):
                raise RuntimeError(f"{name}: the read-out liquid drew other synapses than the organised one")
            b.w.copy_(a.w[min(row, len(a.w) - 1)])
        frozen.run((N_TRAIN + N_TEST) * T_PRESENT / 1000)
        features.append(torch.stack(frozen.node("readout").state["features"], 1).double().numpy()[0])
        y = torch.stack(frozen.node("readout").state["labels"], 1).numpy()[0]
    w = sim.get_state("rec", "synapses").w.mean(1).tolist()
    F = np.stack(features)  # (rows, digits, n)
    rate = F.sum(2).mean(1) / n / (T_PRESENT / 1000)  # Hz per liquid neuron
    acc = [ridge_accuracy(F[r, :N_TRAIN], y[:N_TRAIN], F[r, N_TRAIN:], y[N_TRAIN:]) for r in range(3)]
    return {"n": n, "seed": seed, "accuracy": acc, "mean_w_after_organising": w, "rate_hz": rate.tolist(),
            "seconds": time.perf_counter() - start}


def figure(results: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({r["n"] for r in results})
    counts = sorted({sum(r["n"] == n for r in results) for n in sizes})
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, name in enumerate(ROWS):
        acc = [[100 * r["accuracy"][k] for r in results if r["n"] == n] for n in sizes]
        x = [n * 1.03 ** (k - 1) for n in sizes]  # side by side, so the error bars do not hide each other
        ax.errorbar(x, [np.mean(a) for a in acc], yerr=[np.std(a, ddof=1) if len(a) > 1 else 0 for a in acc],
                    marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("liquid neurons")
    ax.set_ylabel("test accuracy (%), mean +- sd over seeds")
    seeds = f"{counts[0]} seeds" if len(counts) == 1 else f"{counts[0]}-{counts[-1]} seeds"
    ax.set_title(f"NALSM on 8x8 digits ({N_TRAIN} train / {N_TEST} test, {seeds} per point)", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=100)


def table(results: list[dict]) -> None:
    for n in sorted({r["n"] for r in results}):
        rs = [r for r in results if r["n"] == n]
        cells = []
        for k, name in enumerate(ROWS):
            a = 100 * np.array([r["accuracy"][k] for r in rs])
            hz = np.array([r["rate_hz"][k] for r in rs])
            cells.append(f"{name} {a.mean():.1f} +- {a.std(ddof=1) if len(a) > 1 else 0:.1f}% ({hz.mean():.0f} Hz)")
        print(f"{n} neurons, seeds {sorted(r['seed'] for r in rs)}: " + "; ".join(cells), flush=True)


def saved() -> dict:
    return {(r["n"], r["seed"]): r for r in json.load(open(RESULTS))} if os.path.exists(RESULTS) else {}


def main(argv):
    fresh = "--fresh" in argv
    sizes = [int(a) for a in argv if a.isdigit()] or SIZES
    results = {} if fresh else saved()
    for n in sizes:
        for seed in SEEDS:
            if (n, seed) in results:
                continue
            results[n, seed] = run(n, seed)
            print(json.dumps(results[n, seed]), flush=True)
            results = {**saved(), **results}  # keep what another run (e.g. other sizes) wrote meanwhile
            with open(RESULTS, "w") as f:
                json.dump(sorted(results.values(), key=lambda r: (r["n"], r["seed"])), f, indent=1)
    results = list({**saved(), **results}.values())
    table(results)
    figure(results)


if __name__ == "__main__":
    main(sys.argv[1:])
