"""E/I self-adaptation seed study: a reservoir whose units adapt their own inhibition to their own
target rates (heterogeneous or one shared target) against the same reservoir with one global
inhibition scale beta, on memory capacity and on Mackey-Glass prediction (10 steps ahead).

Fair tuning: each of the three reservoirs gets one hyperparameter searched over a grid of the
same size (9 values), chosen per seed on the validation steps and reported on the test steps:
beta for the global reservoir, the mean target rate for the self-adapting ones; ``--gains``
searches the sigmoid gain too, for all three (a 2-D grid each). Everything else
(wiring, input, learning rate, readout) is shared. Seeds 0-4; one compile per seed and task runs
all 27 settings as batch rows.
Usage: python benchmarks/eibalance.py [--units 100] [--seeds 5] [--gains 5 10 20] [--json out.json]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import _common  # noqa: E402,F401  (one thread)

import numpy as np  # noqa: E402

from simulations import compile  # noqa: E402
from workbench.demos.eibalance import STEPS, build, scores  # noqa: E402

BETAS = [0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0]
RHOS = [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7]
SPREAD = 0.8  # heterogeneous targets: rho_mean * (1 +- 0.8), uniform
ETA = 0.001


def grid(gains=(10.0,)) -> list[tuple[str, tuple, dict]]:
    """(method, the tuned values, the row's parameters) for every batch row: beta (x gain) for the
    global reservoir, the mean target (x gain) for the self-adapting ones."""
    rows = []
    for gain in gains:
        rows += [("global", (b, gain), {"res.beta": b, "homeo.eta": 0.0}) for b in BETAS]
        rows += [("heterogeneous", (r, gain), {"homeo.rho_mean": r, "homeo.rho_spread": SPREAD}) for r in RHOS]
        rows += [("homogeneous", (r, gain), {"homeo.rho_mean": r, "homeo.rho_spread": 0.0}) for r in RHOS]
    base = {"res.beta": 1.0, "homeo.eta": ETA, "homeo.rho_mean": 0.3, "homeo.rho_spread": SPREAD}
    return [(m, v, {**base, "res.gain": v[1], **over}) for m, v, over in rows]


def run(task: str, seed: int, n: int, gains=(10.0,)) -> dict:
    """Validation and test score of every grid row, and per method the row picked on validation."""
    rows = grid(gains)
    variants = {key: [r[2][key] for r in rows] for key in rows[0][2]}
    sim = compile(build(task, n=n), dt=1.0, seed=seed, variants=variants, record="none")
    sim.step(STEPS)
    s = scores(sim)
    key, better = ("capacity", np.argmax) if task == "memory" else ("nrmse", np.argmin)
    out = {"rows": [[m, list(v)] for m, v, _ in rows], "val": s[f"{key}_val"].tolist(), "test": s[f"{key}_test"].tolist()}
    for method in ("global", "heterogeneous", "homogeneous"):
        idx = [i for i, r in enumerate(rows) if r[0] == method]
        pick = idx[int(better(s[f"{key}_val"][idx]))]
        out[method] = {"value": list(rows[pick][1]), "test": float(s[f"{key}_test"][pick])}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--gains", type=float, nargs="+", default=[10.0], help="sigmoid gains also searched")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    results = {}
    for task in ("memory", "mackey_glass"):
        results[task] = []
        for seed in range(args.seeds):
            start = time.time()
            results[task].append(run(task, seed, args.units, tuple(args.gains)))
            r = results[task][-1]
            print(f"{task} seed {seed} ({time.time() - start:.0f} s): " + ", ".join(
                f"{m} {r[m]['test']:.3f} (at {r[m]['value']})" for m in ("global", "heterogeneous", "homogeneous")), flush=True)
        for method in ("global", "heterogeneous", "homogeneous"):
            v = [r[method]["test"] for r in results[task]]
            print(f"{task} {method}: {np.mean(v):.3f} +- {np.std(v, ddof=1):.3f}  picked {[r[method]['value'] for r in results[task]]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
