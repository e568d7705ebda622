"""The training panel: train the circuit on the canvas by gradient (simulations/training.py)
on a shipped task, watch the loss and accuracy live, pause and resume, then write the trained
values into the circuit (undoable from the panel).

Training runs in its own thread on a frozen copy of the circuit (the Trainer compiles one), so
editing goes on meanwhile; the panel's periodic callback moves progress into the plots. Only
the "Write into circuit" button touches the document.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import panel as pn
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure

from simulations import Circuit, CircuitError
from simulations import training_tasks as tasks
from simulations.training import SURROGATES, OPTIMISERS, SpikeCountCrossEntropy, Trainer, restore, trainable_names

TICK_MS = 250


def _digits(samples: int):
    train, test = tasks.digits(steps=25)
    return (train[0][:samples], train[1][:samples]), test, None


def _recall(samples: int):
    train, test = tasks.delayed_recall(samples=max(samples, 64))
    return train, test, tasks.recall_window()


TASKS = {  # name -> (data(samples) -> (train, test, answer window), ready-made circuit, dt)
    "digits (8x8 spike trains)": (_digits, lambda: tasks.feedforward_circuit(64, 100, 10, weight_std=(3.0, 3.0),
                                                                            name="digits classifier"), 1.0),
    "delayed recall (4 cues)": (_recall, lambda: tasks.feedforward_circuit(40, 64, 4, weight_std=(3.0, 3.0),
                                                                          recurrent=True, tau_m=20.0,
                                                                          name="delayed recall"), 1.0),
}


class TrainingPanel:
    """Widgets and the training thread of one session."""

    def __init__(self, get_circuit: Callable[[], Circuit], load_circuit: Callable[[Circuit], None],
                 written: Callable[[], None], notify: Callable[[str, str], None]):
        self.get_circuit, self.load_circuit, self.written, self.notify = get_circuit, load_circuit, written, notify
        self.trainer: Trainer | None = None
        self.thread: threading.Thread | None = None
        self.resume = threading.Event()
        self.stop = threading.Event()
        self.pending: list[dict] = []  # progress from the thread, drained by tick
        self.lock = threading.Lock()
        self.previous: dict | None = None  # values before the last write-back (undo)
        self.error: str | None = None
        self._callback = None

        w = dict(sizing_mode="stretch_width", margin=(3, 5))
        self.task = pn.widgets.Select(name="Task (data)", options=list(TASKS), css_classes=["wb-train-task"], **w)
        self.load_task = pn.widgets.Button(label="Open its circuit", css_classes=["wb-train-load"], margin=(22, 5))
        self.samples = pn.widgets.IntInput(name="Training samples", value=512, start=16, step=16,
                                           css_classes=["wb-train-samples"], **w)
        self.input = pn.widgets.Select(name="Input block (fed the data)", options=[], css_classes=["wb-train-input"], **w)
        self.probe = pn.widgets.Select(name="Loss: spike-count cross-entropy on", options=[],
                                       css_classes=["wb-train-probe"], **w)
        self.trainable = pn.widgets.MultiChoice(name="Trainable", options=[], css_classes=["wb-train-trainable"], **w)
        self.surrogate = pn.widgets.Select(name="Surrogate", options=sorted(SURROGATES), value="fast_sigmoid", **w)
        self.slope = pn.widgets.FloatInput(name="Slope (1/mV)", value=0.5, start=0.01, step=0.1, **w)
        self.optimiser = pn.widgets.Select(name="Optimiser", options=sorted(OPTIMISERS), value="adam", **w)
        self.lr = pn.widgets.FloatInput(name="Learning rate", value=0.05, start=1e-6, step=0.01,
                                        css_classes=["wb-train-lr"], **w)
        self.epochs = pn.widgets.IntInput(name="Epochs", value=5, start=1, css_classes=["wb-train-epochs"], **w)
        self.batch = pn.widgets.IntInput(name="Batch size", value=32, start=1, **w)
        self.tbptt = pn.widgets.IntInput(name="Truncated BPTT (steps, 0 = whole sample)", value=0, start=0, **w)
        b = dict(margin=(5, 3), width=130)
        self.train_button = pn.widgets.Button(label="Train", button_type="success", css_classes=["wb-train-start"], **b)
        self.pause_button = pn.widgets.Button(label="Pause training", button_type="warning", disabled=True,
                                              css_classes=["wb-train-pause"], **b)
        self.write_button = pn.widgets.Button(label="Write into circuit", button_type="primary", disabled=True,
                                              css_classes=["wb-train-write"], width=150, margin=(5, 3))
        self.undo_button = pn.widgets.Button(label="Undo write", disabled=True, css_classes=["wb-train-undo"], **b)
        self.status = pn.pane.HTML("idle", css_classes=["wb-train-status"], margin=(10, 8))
        self.load_task.on_click(lambda _e: self._open_task())
        self.train_button.on_click(lambda _e: self.start())
        self.pause_button.on_click(lambda _e: self.toggle_pause())
        self.write_button.on_click(lambda _e: self.write())
        self.undo_button.on_click(lambda _e: self.undo())

        self.loss_source = ColumnDataSource(dict(x=[], loss=[]), name="wb-train-loss")
        self.acc_source = ColumnDataSource(dict(epoch=[], train=[], test=[]), name="wb-train-accuracy")
        loss_fig = figure(height=220, sizing_mode="stretch_width", title="loss per minibatch", x_axis_label="epoch",
                          tools="pan,wheel_zoom,reset")
        loss_fig.line("x", "loss", source=self.loss_source, line_width=2)
        acc_fig = figure(height=220, sizing_mode="stretch_width", title="accuracy per epoch", x_axis_label="epoch",
                         y_range=Range1d(0, 1), tools="pan,wheel_zoom,reset")
        acc_fig.line("epoch", "train", source=self.acc_source, legend_label="train", line_width=2)
        acc_fig.line("epoch", "test", source=self.acc_source, legend_label="test", color="orange", line_width=2)
        acc_fig.scatter("epoch", "test", source=self.acc_source, color="orange", size=6)
        acc_fig.legend.location = "bottom_right"
        settings = pn.Column(pn.Row(self.task, self.load_task, sizing_mode="stretch_width"), self.samples, self.input,
                             self.probe, self.trainable,
                             pn.Row(self.surrogate, self.slope, self.optimiser, sizing_mode="stretch_width"),
                             pn.Row(self.lr, self.epochs, self.batch, self.tbptt, sizing_mode="stretch_width"),
                             sizing_mode="stretch_width")
        self.panel = pn.Card(
            settings,
            pn.Row(self.train_button, self.pause_button, self.write_button, self.undo_button, self.status),
            pn.Row(pn.pane.Bokeh(loss_fig, sizing_mode="stretch_width"),
                   pn.pane.Bokeh(acc_fig, sizing_mode="stretch_width"), sizing_mode="stretch_width"),
            title="Train by gradient", collapsed=True, sizing_mode="stretch_width", css_classes=["wb-train"])
        self.panel.param.watch(lambda e: self.refresh() if not e.new else None, "collapsed")
        self.refresh()

    # -- choices follow the circuit ----------------------------------------------------------------
    def refresh(self) -> None:
        """Offer the current circuit's blocks, spiking probes and trainable values."""
        c = self.get_circuit()
        inputs = [n for n, b in c.blocks.items() if not b.inputs and len(b.outputs) == 1]
        probes = [f"{n}.{k}" for n, b in c.blocks.items() for k, p in b.probes.items() if p.view == "raster"]
        names = trainable_names(c)
        self.input.param.update(options=inputs, value=self.input.value if self.input.value in inputs else
                                ("inp" if "inp" in inputs else (inputs[0] if inputs else None)))
        self.probe.param.update(options=probes, value=self.probe.value if self.probe.value in probes else
                                ("out.spikes" if "out.spikes" in probes else (probes[-1] if probes else None)))
        chosen = [v for v in self.trainable.value if v in names] or [v for v in names if v.endswith(".weights")]
        self.trainable.param.update(options=names, value=chosen)

    def _open_task(self) -> None:
        self.load_circuit(TASKS[self.task.value][1]())
        self.refresh()
        self.notify(f"Opened the circuit for '{self.task.value}'; press Train in the training panel.", "success")

    # -- training ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            return
        data, _, dt = TASKS[self.task.value]
        try:
            train, test, window = data(int(self.samples.value))
            width = train[0].shape[-1]
            circuit = self.get_circuit()
            block = circuit.block(self.input.value or "")
            given = block.port_size(next(iter(block.outputs.values())))
            if given != width:
                raise CircuitError(f"the task gives {width} inputs per step but {self.input.value} has {given} "
                                   f"outputs; open the task's circuit or resize {self.input.value}")
            self.trainer = Trainer(circuit, self.input.value, SpikeCountCrossEntropy(self.probe.value or "", window),
                                   trainable=list(self.trainable.value), surrogate=self.surrogate.value,
                                   slope=self.slope.value, optimiser=self.optimiser.value, lr=self.lr.value,
                                   batch_size=int(self.batch.value), tbptt=int(self.tbptt.value) or None, dt=dt)
        except (CircuitError, ValueError) as e:
            self.notify(f"Cannot train: {e}", "danger")
            return
        self.loss_source.data = dict(x=[], loss=[])
        self.acc_source.data = dict(epoch=[], train=[], test=[])
        self.stop.clear()
        self.resume.set()
        self.error = None
        epochs = int(self.epochs.value)
        self.thread = threading.Thread(target=self._work, args=(train, test, epochs), daemon=True)
        self.thread.start()
        self.train_button.disabled, self.pause_button.disabled = True, False
        self.pause_button.label = "Pause training"
        self.write_button.disabled = True
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.tick, period=TICK_MS)
        self.notify("", "info")

    def _work(self, train, test, epochs: int) -> None:
        trainer = self.trainer

        def on_batch(done, total, loss):
            with self.lock:
                self.pending.append(dict(x=len(trainer.history.loss) + done / total, loss=loss))
            self.resume.wait()  # paused: hold here, between minibatches
            return not self.stop.is_set()

        try:
            for epoch in range(epochs):
                trainer.epoch(train, test, on_batch=on_batch)
                h = trainer.history
                with self.lock:
                    self.pending.append(dict(epoch=epoch + 1, train=h.accuracy[-1], test=h.test_accuracy[-1]))
                if self.stop.is_set():
                    break
        except Exception as e:  # shown in the panel; the session goes on
            self.error = f"{type(e).__name__}: {e}"

    def toggle_pause(self) -> None:
        if self.resume.is_set():
            self.resume.clear()
            self.pause_button.label = "Resume training"
            self.write_button.disabled = self.trainer is None
        else:
            self.resume.set()
            self.pause_button.label = "Pause training"
            self.write_button.disabled = True

    def tick(self) -> None:
        """Move progress from the training thread into the plots and status line."""
        with self.lock:
            items, self.pending = self.pending, []
        batches = [i for i in items if "loss" in i]
        epochs = [i for i in items if "epoch" in i]
        if batches:
            self.loss_source.stream(dict(x=[i["x"] for i in batches], loss=[i["loss"] for i in batches]))
        if epochs:
            self.acc_source.stream(dict(epoch=[i["epoch"] for i in epochs],
                                        train=[i["train"] if i["train"] is not None else float("nan") for i in epochs],
                                        test=[i["test"] if i["test"] is not None else float("nan") for i in epochs]))
        h = self.trainer.history if self.trainer else None
        running = self.thread is not None and self.thread.is_alive()
        if self.error:
            text = f"failed: {self.error}"
        else:
            text = ("paused" if not self.resume.is_set() else "training") if running else ("done" if h else "idle")
            if h is not None and h.test_accuracy:
                k = len(h.test_accuracy) - 1  # complete epochs (the thread appends test_accuracy last)
                acc = "" if h.test_accuracy[k] is None else f" · test accuracy {h.test_accuracy[k]:.3f}"
                text += f" · epoch {k + 1} · loss {h.loss[k]:.3f}{acc} · {h.seconds[k]:.1f} s/epoch"
            elif running:
                text += " · first epoch"
        if self.status.object != text:
            self.status.object = text
        if not running and self._callback is not None:
            self._callback.stop()
            self._callback = None
            self.train_button.disabled, self.pause_button.disabled = False, True
            self.write_button.disabled = self.trainer is None

    # -- results into the document -----------------------------------------------------------------
    def write(self) -> None:
        """Write the trained values into the circuit on the canvas (Undo write restores them)."""
        if self.trainer is None:
            return
        circuit = self.get_circuit()
        try:
            self.previous = (circuit, self.trainer.write_back(circuit))
        except CircuitError as e:
            self.notify(f"Cannot write the trained values: {e}", "danger")
            return
        self.undo_button.disabled = False
        self.written()
        self.notify(f"Wrote {', '.join(t.key for t in self.trainer.params)} into the circuit "
                    "(saved with it; 'Undo write' restores the old values).", "success")

    def undo(self) -> None:
        if self.previous is None:
            return
        circuit, values = self.previous
        if circuit is not self.get_circuit():
            self.notify("The circuit was replaced since the write; nothing to undo.", "warning")
            return
        restore(circuit, values)
        self.previous = None
        self.undo_button.disabled = True
        self.written()
        self.notify("Restored the values from before training.", "info")

    def close(self) -> None:
        self.stop.set()
        self.resume.set()
        if self._callback is not None:
            self._callback.stop()
