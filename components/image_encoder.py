"""ImageEncoder: scikit-learn's bundled 8x8 digits as Poisson spike trains, with labels."""
from functools import lru_cache

import param
import torch

from .base import Block, Port, Probe


@lru_cache(maxsize=1)
def digits():
    """(images (1797, 64) float64 in [0, 1], labels (1797,) int64) from sklearn's bundled copy of
    the UCI optical digits test set (no download)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return torch.tensor(data.data / 16.0, dtype=torch.float64), torch.tensor(data.target, dtype=torch.long)


class ImageEncoder(Block):
    """Poisson rate coding of images: pixel intensity (0..1) times ``max_rate`` is each input
    neuron's rate; a spike each step with probability ``rate * dt``. Data: scikit-learn's
    bundled 8x8 handwritten digits (``sklearn.datasets.load_digits``, 1797 samples, 10 classes).

    Each sample is shown for ``t_present`` ms, then silence for ``t_rest`` ms; samples run over
    ``count`` samples from ``start``, in order or shuffled (seeded), and wrap around. ``label``
    carries the one-hot class of the sample being shown (zero during rest), so a Readout or a
    Selectivity block can learn or score. Random draws are one row broadcast over the batch.
    """

    category = "inputs"
    n = param.Integer(64, bounds=(64, 64), doc="input neurons (one per pixel of an 8x8 image)")
    n_classes = param.Integer(10, bounds=(10, 10), doc="width of the one-hot label")
    max_rate = param.Number(100.0, bounds=(0.0, None), doc="rate of a full-intensity pixel (Hz)")
    t_present = param.Number(50.0, bounds=(0.0, None), doc="how long each image is shown (ms)")
    t_rest = param.Number(0.0, bounds=(0.0, None), doc="silence after each image (ms)")
    start = param.Integer(0, bounds=(0, 1796), doc="first sample used")
    count = param.Integer(1797, bounds=(1, 1797), doc="number of samples used (wraps around)")
    order = param.Selector(default="sequential", objects=["sequential", "shuffled"], doc="sample order")
    seed = param.Integer(0, doc="seed of the shuffled order")
    structural = ("t_present", "t_rest")

    outputs = {
        "spikes": Port("spikes", doc="Poisson spikes, one neuron per pixel"),
        "label": Port("value", size="n_classes", doc="one-hot label of the image shown"),
        "image": Port("value", doc="intensities (0..1) of the image shown"),
    }
    probes = {
        "spikes": Probe("spikes", "raster", "input spikes"),
        "image": Probe("image", "heatmap", "the image shown"),
        "label": Probe("label_index", "scalar", "class of the image shown (-1 at rest)"),
    }

    def check(self, ctx):
        if self.start + self.count > 1797:
            raise ValueError(f"start={self.start} + count={self.count} runs past the 1797 digits")

    def init_state(self, ctx, p):
        images, labels = digits()
        idx = torch.arange(self.start, self.start + self.count)
        if self.order == "shuffled":
            idx = idx[torch.randperm(self.count, generator=torch.Generator().manual_seed(self.seed))]
        return {"images": images[idx].to(ctx.device, ctx.dtype), "labels": labels[idx].to(ctx.device),
                "image": ctx.zeros(ctx.batch, self.n), "onehot": ctx.zeros(ctx.batch, self.n_classes),
                "label_index": ctx.zeros(ctx.batch, 1) - 1, "sample": -1}

    def step(self, ctx, p, state, inputs):
        show = max(1, int(round(self.t_present / ctx.dt)))
        period = show + int(round(self.t_rest / ctx.dt))
        phase = ctx.t % period
        if phase == 0:
            i = (ctx.t // period) % self.count
            state["sample"] = i
            state["image"] = state["images"][i].expand(ctx.batch, self.n).clone()
            state["onehot"] = ctx.zeros(ctx.batch, self.n_classes)
            state["onehot"][:, int(state["labels"][i])] = 1.0
            state["label_index"] = ctx.zeros(ctx.batch, 1) + float(state["labels"][i])
        elif phase == show:
            state["image"] = ctx.zeros(ctx.batch, self.n)
            state["onehot"] = ctx.zeros(ctx.batch, self.n_classes)
            state["label_index"] = ctx.zeros(ctx.batch, 1) - 1
        prob = state["image"] * p.max_rate * (ctx.dt * 1e-3)
        spikes = (ctx.rand(1, self.n) < prob).to(ctx.dtype)
        return {"spikes": spikes, "label": state["onehot"], "image": state["image"]}
