"""Interpretability analysis shared by the readout/selectivity blocks and the views (no block
here): selectivity (neurons x classes), monosemanticity, activation sparsity, and module
communities of the functional correlation graph ("Unraveling the cognitive patterns of LLMs
through module communities": community detection on a graph of co-active units).
"""
from __future__ import annotations

import math

import networkx as nx
import numpy as np
import torch


def selectivity_matrix(responses, labels, n_classes: int) -> np.ndarray:
    """Mean response of each unit to each class: responses (samples, units), labels (samples,)
    -> (units, classes); a class never seen gives NaN."""
    r = np.asarray(responses, dtype=np.float64)
    y = np.asarray(labels).astype(int)
    sums = np.zeros((r.shape[1], n_classes))
    np.add.at(sums.T, y, r)
    counts = np.bincount(y, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _unit_monosemanticity(sel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per unit ``1 - H(p) / log C`` over the classes (last dimension), and whether it responds."""
    s = sel.clamp_min(0)
    total = s.sum(-1, keepdim=True)
    p = s / total.clamp_min(1e-30)
    h = -(torch.where(p > 0, p * p.clamp_min(1e-30).log(), torch.zeros_like(p))).sum(-1)
    return 1.0 - h / math.log(s.shape[-1]), total[..., 0] > 0


def monosemanticity(selectivity) -> np.ndarray:
    """Per unit, ``1 - H(p) / log C`` where p is the unit's (non-negative) mean response across
    the C classes normalised to sum 1: 1 for a unit that responds to one class only, 0 for one
    that responds equally to all. Units that never respond (or unseen classes) give NaN."""
    s = torch.from_numpy(np.nan_to_num(np.asarray(selectivity, dtype=np.float64), nan=0.0))
    score, alive = _unit_monosemanticity(s)
    return torch.where(alive, score, torch.full_like(score, float("nan"))).numpy()


def monosemanticity_torch(sel: torch.Tensor) -> torch.Tensor:
    """Population monosemanticity per batch row: mean of the unit scores over responding units;
    sel is (batch, units, classes)."""
    score, alive = _unit_monosemanticity(sel)
    alive = alive.to(sel.dtype)
    return ((score * alive).sum(-1) / alive.sum(-1).clamp_min(1)).unsqueeze(-1)


def activation_sparsity(activations) -> float:
    """Fraction of non-zero entries (BDH reports about 5% for its neuron activations)."""
    a = torch.as_tensor(activations)
    return float((a != 0).double().mean())


def functional_graph(activity, threshold: float = 0.2) -> nx.Graph:
    """Units as nodes, an edge of weight r where the Pearson correlation of two units' activity
    over time (activity: (time, units)) exceeds ``threshold``. Silent units stay isolated."""
    a = np.asarray(activity, dtype=np.float64)
    a = a - a.mean(axis=0)
    norm = np.sqrt((a * a).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a.T @ a) / np.outer(norm, norm)
    r = np.nan_to_num(r, nan=0.0)
    np.fill_diagonal(r, 0.0)
    g = nx.Graph()
    g.add_nodes_from(range(a.shape[1]))
    i, j = np.nonzero(np.triu(r > threshold, 1))
    g.add_weighted_edges_from(zip(i.tolist(), j.tolist(), r[i, j].tolist()))
    return g


def module_communities(activity, threshold: float = 0.2, seed: int = 0) -> tuple[list[set], float]:
    """Louvain communities of the functional correlation graph and their modularity."""
    g = functional_graph(activity, threshold)
    if g.number_of_edges() == 0:
        return [{n} for n in g.nodes], 0.0
    parts = nx.community.louvain_communities(g, weight="weight", seed=seed)
    return [set(c) for c in parts], float(nx.community.modularity(g, parts, weight="weight"))


def ridge_fit(features: torch.Tensor, targets: torch.Tensor, lam: float) -> torch.Tensor:
    """Closed-form ridge regression with a bias: ``W = (F^T F + lam I)^-1 F^T Y`` over
    features (..., samples, n) with a ones column appended (the bias is not penalised).
    Returns (..., n + 1, outputs)."""
    f = torch.cat([features, torch.ones_like(features[..., :1])], -1).double()
    eye = torch.eye(f.shape[-1], dtype=f.dtype, device=f.device)
    eye[-1, -1] = 0.0
    gram = f.transpose(-1, -2) @ f + lam * eye
    return torch.linalg.solve(gram, f.transpose(-1, -2) @ targets.double())


def logistic_fit(features: torch.Tensor, labels: torch.Tensor, n_classes: int, lam: float,
                 iterations: int = 100) -> torch.Tensor:
    """Multinomial logistic regression (L2 penalty ``lam``) with a bias, fitted by L-BFGS on
    features (samples, n) -> weights (n + 1, classes), to be applied to raw features with a ones
    column appended (the features are standardised inside and the scaling folded back)."""
    x = features.double()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    f = torch.cat([(x - mean) / std, torch.ones_like(x[:, :1])], -1)
    w = torch.zeros(f.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=iterations, history_size=20)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(f @ w, labels) + lam * (w[:-1] ** 2).sum() / len(f)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w = w.detach()
    scaled = w[:-1] / std[:, None]
    return torch.cat([scaled, (w[-1] - mean @ scaled)[None]], 0)
