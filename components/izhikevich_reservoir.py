"""HeterogeneousIzhikevich: the library's Izhikevich neuron with per-neuron parameters drawn as
in Izhikevich (2003), so one population holds the whole reservoir's mix of cell types."""
import param
import torch

from .base import Port
from .equation_neuron import Izhikevich


class HeterogeneousIzhikevich(Izhikevich):
    """Izhikevich (2003) simple model, the library declaration (``izhikevich``), with each neuron's
    ``a, b, c, d`` drawn once, as in the paper's network: the first ``n - n_inh`` neurons are
    excitatory, ``a = 0.02, b = 0.2, c = -65 + 15 r^2, d = 8 - 6 r^2`` (r uniform in [0, 1]:
    from regular spiking at r = 0 to chattering at r = 1), the last ``n_inh`` inhibitory,
    ``a = 0.02 + 0.08 r, b = 0.25 - 0.05 r, c = -65, d = 2`` (fast spiking to low-threshold
    spiking). ``heterogeneity`` scales r (0: every excitatory neuron regular spiking and every
    inhibitory one ``a = 0.02, b = 0.25``). ``spikes_exc`` and ``spikes_inh`` carry the two
    groups' spikes, so recurrent projections can keep Dale's law (excitatory weights >= 0 from
    one, inhibitory <= 0 from the other). The a, b, c, d knobs of the plain block are replaced
    by these draws; ``V_th`` and ``I_e`` stay live. The maths runs on the torch path of the
    declaration (the generated C kernel takes one value per parameter and batch row).
    """

    n = param.Integer(200, bounds=(2, None), doc="number of neurons (excitatory first, then inhibitory)")
    n_inh = param.Integer(40, bounds=(1, None), doc="inhibitory neurons (the last n_inh)")
    heterogeneity = param.Number(1.0, bounds=(0.0, 1.0), doc="scales the random spread r of a, b, c, d (0: none)")
    seed = param.Integer(0, doc="seed of the per-neuron parameter draws")
    structural = ("heterogeneity",)

    outputs = {
        "spikes": Port("spikes", doc="1.0 where a neuron spiked this step (all neurons)"),
        "v": Port("value", doc="membrane potential (mV)"),
        "spikes_exc": Port("spikes", size="n_exc", doc="spikes of the excitatory neurons (the first n - n_inh)"),
        "spikes_inh": Port("spikes", size="n_inh", doc="spikes of the inhibitory neurons (the last n_inh)"),
    }

    @property
    def n_exc(self) -> int:
        return self.n - self.n_inh

    def check(self, ctx):
        super().check(ctx)
        if self.n_inh >= self.n:
            raise ValueError(f"n_inh = {self.n_inh} leaves no excitatory neuron (n = {self.n})")

    def cell_parameters(self) -> dict[str, torch.Tensor]:
        """(1, n) float64 tensors a, b, c, d: the seeded draws described above."""
        r = self.heterogeneity * torch.rand(self.n, generator=torch.Generator().manual_seed(self.seed),
                                            dtype=torch.float64)
        exc = torch.arange(self.n) < self.n_exc
        return {"a": torch.where(exc, 0.02, 0.02 + 0.08 * r)[None], "b": torch.where(exc, 0.2, 0.25 - 0.05 * r)[None],
                "c": torch.where(exc, -65.0 + 15.0 * r * r, -65.0)[None], "d": torch.where(exc, 8.0 - 6.0 * r * r, 2.0)[None]}

    def _cells(self, like: torch.Tensor) -> dict[str, torch.Tensor]:
        """The draws, cached per (sizes, spread, seed) and cast like ``like``."""
        key = (self.n, self.n_inh, self.heterogeneity, self.seed, like.dtype, like.device)
        cached = self.__dict__.get("_cells_cache")
        if cached is None or cached[0] != key:
            cached = (key, {k: v.to(like.device, like.dtype) for k, v in self.cell_parameters().items()})
            self.__dict__["_cells_cache"] = cached
        return cached[1]

    def init_state(self, ctx, p):
        state = super().init_state(ctx, p)
        state["u"] = (self._cells(state["v"])["b"] * state["v"]).contiguous()  # u = b v, as the paper's code
        return state

    def parameter_values(self, p):
        values = super().parameter_values(p)
        values.update(self._cells(p.V_th))
        return values

    def native_kernel(self, ctx):
        return None  # per-neuron parameters: the torch path

    def step(self, ctx, p, state, inputs):
        out = super().step(ctx, p, state, inputs)
        spikes = out["spikes"]
        # fresh contiguous copies: a compiled projection reads the spikes through a raw pointer
        out["spikes_exc"], out["spikes_inh"] = spikes[:, :self.n_exc].contiguous(), spikes[:, self.n_exc:].contiguous()
        return out
