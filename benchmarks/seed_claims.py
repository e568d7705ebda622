"""Seed-science claims over seeds against their fair controls: one command per claim (or all),
printing mean +- sd over seeds 0-4. Reuses the tests' helpers, so a figure here is what the
tests assert with a margin. Usage: python benchmarks/seed_claims.py [bdh elm hlop gain ssd titans nalsm]
(all by default; ATEN_CPU_CAPABILITY=default for torch's generic CPU path). Slow on purpose:
about 2 min each, nalsm about an hour on a loaded machine (three liquid sizes, six conditions)."""
import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
SEEDS = range(5)


def show(claim, **columns):
    parts = [f"{name} {np.mean(v):.3f} +- {np.std(v, ddof=1):.3f}" for name, v in columns.items()]
    print(f"{claim}: " + "; ".join(parts), flush=True)


def bdh():
    from test_seed_bdh import consistency, held_out_sparsity
    from components.hebbian_state_layer import init_weights, train_bdh

    show("BDH fraction of neurons active (held-out)", l1_penalty=[held_out_sparsity(train_bdh(seed=s)) for s in SEEDS],
         no_l1=[held_out_sparsity(train_bdh(seed=s, l1=0.0)) for s in SEEDS])
    show("BDH concept-synapse consistency (7 words)", trained=[consistency(train_bdh(seed=s)) for s in SEEDS],
         untrained=[consistency(init_weights(256, 256, 32, s)) for s in SEEDS],
         shuffled_text=[consistency(train_bdh(seed=s, shuffle=True)) for s in SEEDS])


def elm():
    from test_seed_neurons import best_single_trace, recall_task
    from components.elm_neuron import ELMNeuron

    delay, acc = 20, {"ELM": [], "best single trace": [], "ELM, one timescale (200 ms)": []}
    for seed in SEEDS:
        xs, ys, mask, _ = recall_task(256, delay, seed=10 * seed)
        xv, _, _, cv = recall_task(256, delay, seed=10 * seed + 1)
        xt, _, _, ct = recall_task(1024, delay, seed=10 * seed + 2)
        for name, lo, hi in (("ELM", 2.0, 1000.0), ("ELM, one timescale (200 ms)", 200.0, 200.0)):
            model = ELMNeuron(n=1, n_memory=8, n_hidden=16, tau_s=2.0, tau_min=lo, tau_max=hi, seed=seed)
            model.fit(xs, ys, mask, iterations=150, lr=0.02, learn_timescales=lo != hi)
            acc[name].append((model.predict(xt)[:, delay, 0].sign() == ct).float().mean().item())
        predict, tau = best_single_trace(xs, ys, xv, cv, delay)
        acc["best single trace"].append((predict(xt).sign() == ct).float().mean().item())
    show("ELM delayed recall accuracy", **acc)


def hlop():
    from test_seed_plasticity import hlop_run, largest_principal_angle, planted_subspace_angles

    learned, rand, _ = planted_subspace_angles()
    show("HLOP largest principal angle (deg), planted 6-dim subspace in 30 channels, vs SVD",
         lateral_hebbian=learned, random_6d_subspace=rand)

    runs = [hlop_run(seed) for seed in SEEDS]
    rng = np.random.default_rng(0)
    show("HLOP largest principal angle (deg) of the 6 lateral neurons' subspace vs task A's top-6 SVD subspace",
         lateral_hebbian=[largest_principal_angle(r[2], r[3]) for r in runs],
         random_6d_subspace=[largest_principal_angle(rng.normal(size=r[2].shape), r[3]) for r in runs])
    sv = [np.linalg.svd(r[3], compute_uv=False) for r in runs]
    show("HLOP task A singular-value ratio s7 / s6 (eigengap)", ratio=[v[6] / v[5] for v in sv])
    show("HLOP forgetting of task A (points), 6 subspace neurons, rank-30 inputs",
         with_projection=[r[0][0] for r in runs], without=[r[0][1] for r in runs])
    show("HLOP task B accuracy (%)", with_projection=[r[1][0] for r in runs], without=[r[1][1] for r in runs])


def gain():
    from test_seed_plasticity import adaptation_effects

    eff_ratio, eff_rep = adaptation_effects()
    hom_ratio, hom_rep = adaptation_effects("homeostatic", eta_g=5.0, g_max=1.0)
    show("GainControl response to the adapter after / before adaptation",
         efficient_recurrent=eff_ratio[:5], efficient_no_recurrence=eff_ratio[5:], homeostatic_recurrent=hom_ratio[:5])
    show("GainControl tuning repulsion from the adapter (deg)",
         efficient_recurrent=eff_rep[:5], efficient_no_recurrence=eff_rep[5:], homeostatic_recurrent=hom_rep[:5])


def ssd():
    from test_seed_plasticity import ssd_run

    drop, ctrl, moved = [], [], []
    for seed in SEEDS:
        before, after, control, forget, _ = ssd_run(seed)
        others = np.arange(len(before)) != forget
        drop.append(before[forget] - after[forget])
        ctrl.append(before[forget] - control[forget])
        moved.append(np.abs(after[others] - before[others]).mean())
    show("SSD (alpha 10, 20 classes) forget-class accuracy drop (points)", ssd=drop, random_dampening=ctrl)
    show("SSD other classes' mean change (points)", ssd=moved)


def titans():
    from test_seed_memory import gated_recall, over_seeds, titans_recall

    gated = np.array([gated_recall(seed) for seed in SEEDS])
    show("Titans held-out recall with 12 flagged distractors among 24 items (trained projections)",
         no_gates=gated[:, 0], data_dependent_gates=gated[:, 1])

    runs = np.array([titans_recall(seed) for seed in SEEDS])
    show("Titans held-out recall accuracy (12 items, chance 0.083)", trained_projections=runs[:, 0],
         learning_off=runs[:, 1], random_tied_WQ_WK_tuned=runs[:, 2], random_separate_WQ=runs[:, 3])

    for params in ({}, {"eta": 0.0}, {"depth": 2, "theta": 0.25, "hidden": 256}):
        treated, control = over_seeds(**params), over_seeds(theta=0.0)
        show(f"Titans {params or 'defaults'} recall ratio seen/unseen", memory=treated[:, 0], no_learning=control[:, 0])
        show(f"Titans {params or 'defaults'} surprise ratio", memory=treated[:, 1], no_learning=control[:, 1])


def nalsm(sizes=(250, 500, 1000), seconds=8.0):
    """Final branching factor (last 30% of the run), liquid rate and mean recurrent weight of
    liquids of several sizes with one set of block defaults: astrocyte vs the same STDP without
    it, from super- (w = 12) and sub-critical (w = 0.5) starts, and frozen liquids (no
    plasticity) from both starts; one batch per size and seed. The accuracy curve over sizes is
    benchmarks/nalsm_curve.py."""
    from test_seed_astrocytes import BRANCHING_ROWS, branching_run

    for n in sizes:
        runs = [branching_run(n, seed, seconds) for seed in SEEDS]
        for k, what in enumerate(("branching factor", "liquid rate (Hz; input 20 Hz)", "mean recurrent weight")):
            values = np.array([r[k] for r in runs])
            show(f"NALSM {n} neurons, {what}", **{row: values[:, i] for i, row in enumerate(BRANCHING_ROWS)})


if __name__ == "__main__":
    claims = {"bdh": bdh, "elm": elm, "hlop": hlop, "gain": gain, "ssd": ssd, "titans": titans, "nalsm": nalsm}
    for name in sys.argv[1:] or list(claims):
        claims[name]()
