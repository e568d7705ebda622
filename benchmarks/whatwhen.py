"""Seed study of the "what and when" circuit (workbench/demos/whatwhen.py): the three-factor
readout against its controls over seeds 0-4, mean +- sd. Usage:
python benchmarks/whatwhen.py [--seeds 0 1 2 3 4] (ATEN_CPU_CAPABILITY=default for torch's
generic CPU path). About 2 minutes a seed on one idle core.

Rows of one simulation per seed (the same reservoir and the same trials for every row):
  0: the three-factor rule as designed (eta 0.03), and FORCE with lam = 1 (as published, no reset);
  1: the rule without its attention gate, and FORCE with the forgetting factor FORCE_LAM;
  2: the rule with a 3x slower rate (eta 0.01), FORCE with lam = 0.998;
(eta and FORCE_LAM were chosen on seed 100 among {0.01, 0.03, 0.1} and {1, 0.999, 0.998}: 0.1
diverges, lam = 0.99 diverges (P winds up), 0.999 gave FORCE its best stimulus-window values.)
The rule without error modulation (teacher x eligibility) is tested on a toy clock
(tests/test_seed_whatwhen.py): its readout grows without bound.
plus a second simulation per seed: the rule reading the cue neurons with no reservoir.
"""
import argparse
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from workbench.demos import whatwhen as ww  # noqa: E402

torch.set_num_threads(1)
FORCE_LAM = 0.999
VARIANTS = {"three_factor.gated": [1.0, 0.0, 1.0], "three_factor.eta": [ww.ETA, ww.ETA, ww.ETA / 3],
            "force.lam": [1.0, FORCE_LAM, 0.998]}


def measures(y: np.ndarray, expected: np.ndarray, switch: int) -> dict[str, np.ndarray]:
    """Per row: timing error (ms) and stimulus-window values before the switch (last 10 trials),
    slope and calibration error of the values against the probabilities over both phases
    (6 points: each stimulus before and after), the error per trial around the switch."""
    before, after = y[switch - 10:switch].mean(0), y[-10:].mean(0)
    values = np.concatenate([ww.window_values(before), ww.window_values(after, ww.DELAYS_AFTER)], 1)
    probs = np.array(ww.PROBS + ww.PROBS_AFTER)
    pc = probs - probs.mean()
    slope = ((values - values.mean(1, keepdims=True)) * pc).sum(1) / (pc * pc).sum()
    err = ww.trial_errors(y, expected)
    return {"timing": ww.timing_error(before), "slope": slope, "calibration": np.abs(values - probs).mean(1),
            "corr": np.array([np.corrcoef(v, probs)[0, 1] for v in values]),
            "error_before": err[switch - 10:switch].mean(0), "error_after": err[switch:switch + 10].mean(0),
            "excess_after": err[switch:switch + 10].mean(0) - err[switch - 10:switch].mean(0)}


def study(seeds, trials=ww.TRIALS, switch=ww.SWITCH_TRIAL) -> dict[str, dict[str, list]]:
    rows = {"three-factor": ("three_factor", 0), "no attention gate": ("three_factor", 1),
            "three-factor, eta / 3": ("three_factor", 2), "FORCE, no reset": ("force", 0),
            f"FORCE, forgetting {FORCE_LAM}": ("force", 1), "FORCE, forgetting 0.998": ("force", 2)}
    table = {name: {} for name in list(rows) + ["no reservoir"]}
    for seed in seeds:
        out = ww.run(seed, trials, switch, variants=VARIANTS)
        for name, (readout, row) in rows.items():
            for k, v in measures(out[readout], out["expected"], switch).items():
                table[name].setdefault(k, []).append(float(v[row]))
        bare = ww.reservoirless(seed, trials, switch)
        for k, v in measures(bare["three_factor"], bare["expected"], switch).items():
            table["no reservoir"].setdefault(k, []).append(float(v[0]))
        print(f"seed {seed} done", flush=True)
    return table


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--json", default=None, help="also write the per-seed figures to this file")
    args = ap.parse_args(argv)
    table = study(args.seeds)
    keys = ["timing", "slope", "corr", "calibration", "error_before", "error_after", "excess_after"]
    print(f"{'readout':<26}" + "".join(f"{k:>22}" for k in keys))
    for name, cols in table.items():
        print(f"{name:<26}" + "".join(f"{np.mean(cols[k]):>12.4f} +- {np.std(cols[k], ddof=1) if len(cols[k]) > 1 else 0:<6.4f}"
                                      for k in keys))
    for name, cols in table.items():
        print(name, {k: [round(v, 4) for v in cols[k]] for k in keys})
    if args.json:
        import json
        with open(args.json, "w") as f:
            json.dump(table, f)


if __name__ == "__main__":
    main()
