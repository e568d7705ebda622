"""Delayed recall by gradient training: which of 4 cues fired, answered after a silent delay.

Treatment: inputs -> recurrent hidden LIF (weights and the hidden membrane time constant
trained) -> output LIF. Control: the same circuit without the recurrent projection, trained
the same way (its only memory is the membrane and synaptic time constants). Chance is 0.25.
Prints test accuracy per seed and mean +- sd over seeds. One thread.

    python benchmarks/train_recall.py [--seeds 5] [--epochs 8] [--delay 40]
"""
import argparse

import _common  # noqa: F401  (one thread, import path)
import numpy as np

from simulations import training_tasks as tasks
from simulations.training import SpikeCountCrossEntropy, Trainer


def run(seed: int, epochs: int, delay: int, recurrent: bool) -> float:
    train, test = tasks.delayed_recall(samples=320, delay_ms=delay, seed=seed)
    circuit = tasks.feedforward_circuit(40, 48, 4, weight_std=(3.0, 3.0), recurrent=recurrent, tau_m=20.0, seed=seed)
    trainable = [f"{p}.weights" for p in ("w_in", "w_rec", "w_out") if p in circuit.graph] + ["hidden.tau_m"]
    trainer = Trainer(circuit, "inp", SpikeCountCrossEntropy("out.spikes", window=tasks.recall_window(delay_ms=delay)),
                      trainable=trainable, lr={"default": 0.05, "hidden.tau_m": 0.5}, batch_size=32, dt=1.0,
                      slope=0.5, seed=seed)
    for _ in range(epochs):
        trainer.epoch(train)
    return trainer.evaluate(test)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--delay", type=int, default=40)
    args = parser.parse_args()
    results = {"recurrent": [], "feedforward (control)": []}
    for seed in range(args.seeds):
        results["recurrent"].append(run(seed, args.epochs, args.delay, True))
        results["feedforward (control)"].append(run(seed, args.epochs, args.delay, False))
        print(f"seed {seed}: " + "  ".join(f"{k} {v[-1]:.3f}" for k, v in results.items()), flush=True)
    print(f"\n| circuit | test accuracy, delay {args.delay} ms (mean +- sd, {args.seeds} seeds; chance 0.25) |")
    print("|---|---|")
    for name, values in results.items():
        print(f"| {name} | {np.mean(values):.3f} +- {np.std(values, ddof=1) if len(values) > 1 else 0:.3f} |")


if __name__ == "__main__":
    main()
