"""CueStimulusParadigm: trials of a cue followed by stimuli at set delays with set probabilities
(the "what and when" task), switchable to new delays and probabilities mid-run."""
import param

from .base import Block, Port, Probe, Table


class CueStimulusParadigm(Block):
    """Trials of ``trial_ms``: a cue at the trial's start, then stimuli, each at its delay with
    its probability, drawn independently per trial.

    ``stimuli`` rows ``[cue, stimulus, delay_ms, probability]``: after cue ``cue`` (0-based),
    stimulus ``stimulus`` is shown at ``delay_ms`` after the cue's onset with probability
    ``probability``, for ``stim_ms``. Each trial picks one cue uniformly among those listed.
    From trial ``switch_trial`` on (0: never) the rows of ``stimuli_after`` apply instead:
    timings and probabilities change mid-run.
    Outputs: ``cue`` (``n_per_cue`` input neurons per cue, each spiking with probability
    ``cue_rate * dt`` per step while its cue is on, for ``cue_ms``); ``stimuli`` (one value per
    stimulus, 1 while shown: what the readouts learn to predict); ``attention`` (1 from ``attend_from_ms``
    to ``attend_ms`` after the cue, 0 in the rest of the trial: the anticipation window in which
    learning is gated on, after the cue's own burst of activity); ``expected`` (the probability-weighted stimulus each step would show on average,
    for plotting the ideal prediction). Draws are one row for the whole batch.
    """

    category = "inputs"
    n_cues = param.Integer(1, bounds=(1, None), doc="number of distinct cues")
    n_stimuli = param.Integer(3, bounds=(1, None), doc="number of distinct stimuli (readouts)")
    n_per_cue = param.Integer(20, bounds=(1, None), doc="input neurons per cue")
    stimuli = Table(default=[], widths=(4,), index_columns=2, doc="rows [cue, stimulus, delay_ms, probability]")
    stimuli_after = Table(default=[], widths=(4,), index_columns=2,
                          doc="rows used from switch_trial on (same layout as stimuli)")
    switch_trial = param.Integer(0, bounds=(0, None), doc="trial from which stimuli_after applies (0: never)")
    trial_ms = param.Number(500.0, bounds=(1.0, None), doc="trial length (ms), cue at its start")
    cue_ms = param.Number(20.0, bounds=(0.0, None), doc="how long the cue is on (ms)")
    cue_rate = param.Number(200.0, bounds=(0.0, 1000.0), doc="firing rate of the cue neurons while on (Hz)")
    stim_ms = param.Number(30.0, bounds=(0.0, None), doc="how long a stimulus is shown (ms)")
    attend_from_ms = param.Number(30.0, bounds=(0.0, None), doc="attention window opens this long after the cue (ms)")
    attend_ms = param.Number(400.0, bounds=(0.0, None), doc="attention window closes this long after the cue (ms)")
    structural = ("trial_ms", "cue_ms", "stim_ms", "attend_from_ms", "attend_ms")
    ordered = (("attend_from_ms", "attend_ms"),)

    outputs = {
        "cue": Port("spikes", size="n_cue_neurons", doc="cue input neurons (n_per_cue per cue)"),
        "stimuli": Port("value", size="n_stimuli", doc="1 while a stimulus is shown (the readouts' teacher)"),
        "attention": Port("modulation", size=1, doc="1 inside the attention window, else 0"),
        "expected": Port("value", size="n_stimuli", doc="probability of each stimulus being shown now"),
    }
    probes = {
        "cue": Probe("cue", "raster", "cue spikes"),
        "stimuli": Probe("shown", "trace", "stimuli shown"),
        "expected": Probe("expected", "trace", "probability of each stimulus now"),
        "attention": Probe("attention", "trace", "attention (learning) gate"),
        "trial": Probe("trial", "scalar", "trial number"),
    }

    @property
    def n_cue_neurons(self) -> int:
        return self.n_cues * self.n_per_cue

    def check(self, ctx):
        for name in ("stimuli", "stimuli_after"):
            for k, (cue, stim, delay, prob) in enumerate(getattr(self, name)):
                if cue >= self.n_cues or stim >= self.n_stimuli:
                    raise ValueError(f"{name}[{k}] names cue {cue} / stimulus {stim}; there are {self.n_cues} "
                                     f"cues and {self.n_stimuli} stimuli")
                if not 0.0 <= prob <= 1.0:
                    raise ValueError(f"{name}[{k}] probability {prob} is outside [0, 1]")
                if delay < 0 or delay + self.stim_ms > self.trial_ms:
                    raise ValueError(f"{name}[{k}] delay {delay} ms puts the stimulus outside the "
                                     f"{self.trial_ms} ms trial")
        if not self.stimuli:
            raise ValueError("no stimuli rows given")
        if self.switch_trial > 0 and not self.stimuli_after:
            raise ValueError("switch_trial is set but stimuli_after is empty")

    def rows_for(self, trial: int) -> list:
        return self.stimuli_after if self.switch_trial > 0 and trial >= self.switch_trial else self.stimuli

    def init_state(self, ctx, p):
        return {"trial": ctx.zeros(1, 1) - 1, "cue_now": 0, "onsets": [], "shown": ctx.zeros(1, self.n_stimuli),
                "cue": ctx.zeros(1, self.n_cue_neurons), "expected": ctx.zeros(1, self.n_stimuli),
                "attention": ctx.zeros(1, 1)}

    def _steps(self, ms: float, dt: float) -> int:
        return int(round(ms / dt))

    def step(self, ctx, p, state, inputs):
        period = max(1, self._steps(self.trial_ms, ctx.dt))
        k = ctx.t % period
        if k == 0:  # a new trial: pick the cue, draw which stimuli will come
            trial = ctx.t // period
            state["trial"] = ctx.zeros(1, 1) + trial
            rows = self.rows_for(trial)
            cues = sorted({int(r[0]) for r in rows})
            cue = cues[int(ctx.rand(1) * len(cues)) % len(cues)]
            draws = ctx.rand(len(rows))
            state["cue_now"] = cue
            state["onsets"] = [(int(r[1]), self._steps(r[2], ctx.dt), bool(draws[i] < r[3]))
                               for i, r in enumerate(rows) if int(r[0]) == cue]
            state["probs"] = [(int(r[1]), self._steps(r[2], ctx.dt), float(r[3])) for r in rows if int(r[0]) == cue]
        width = max(1, self._steps(self.stim_ms, ctx.dt))
        shown, expected = ctx.zeros(1, self.n_stimuli), ctx.zeros(1, self.n_stimuli)
        for stim, onset, happens in state["onsets"]:
            if happens and onset <= k < onset + width:
                shown[0, stim] = 1.0
        for stim, onset, prob in state["probs"]:
            if onset <= k < onset + width:
                expected[0, stim] += prob
        b = ctx.batch
        cue = ctx.zeros(b, self.n_cue_neurons)
        u = ctx.rand(1, self.n_per_cue)  # drawn every step, so the stream does not depend on the cue window
        if k < self._steps(self.cue_ms, ctx.dt):
            lo = state["cue_now"] * self.n_per_cue
            cue[:, lo:lo + self.n_per_cue] = (u < p.cue_rate * (ctx.dt * 1e-3)).to(ctx.dtype)
        attending = self._steps(self.attend_from_ms, ctx.dt) <= k < self._steps(self.attend_ms, ctx.dt)
        attention = ctx.zeros(b, 1) + float(attending)
        state["shown"], state["cue"], state["expected"], state["attention"] = shown, cue, expected, attention
        return {"cue": cue, "stimuli": shown.expand(b, -1), "attention": attention, "expected": expected.expand(b, -1)}


# (a Table checks its default before it knows its row widths: the default rows are set here)
CueStimulusParadigm.param.stimuli.default = [[0, 0, 100.0, 0.2], [0, 1, 200.0, 0.5], [0, 2, 300.0, 0.8]]
