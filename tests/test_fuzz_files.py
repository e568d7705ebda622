"""Fuzzing circuit files: thousands of hostile mutations of the shipped demos (hypothesis,
seeded), each either accepted and run for a few steps or refused with the project's error,
never another exception and never a hang. ``WORKBENCH_FUZZ_CASES`` sets the number of cases
(2,000 by default); the tally is printed (``pytest -s``) for the record."""
from __future__ import annotations

import pytest
import torch
from fuzzing import Tally, classify, fuzz_cases, mutated_json
from hypothesis import HealthCheck, Phase, given, settings

from simulations import Circuit, compile
from simulations.limits import limits

CASE_SECONDS = 10.0  # generous for a loaded CI machine; a typical case takes milliseconds
TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def warm_up():
    """One-time costs of a process (the optimizer's first step imports torch's compiler stack,
    the digits data set loads scikit-learn, the C kernels build) are paid before the timed cases."""
    from components import native
    from components.hebbian_state_layer import train_bdh
    from components.image_encoder import digits

    train_bdh(steps=1)
    digits()
    native.kernel("lif_step", torch.device("cpu"), torch.float32)


def load_and_run(text: str) -> None:
    circuit = Circuit.from_json(text)
    sim = compile(circuit)
    sim.step(1)
    sim.step(3)  # several steps at once: the compiled path where it applies


@settings(max_examples=fuzz_cases(), derandomize=True, database=None, deadline=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
@given(mutated_json())
def test_mutated_demo_files_run_or_are_refused(text):
    with limits(memory=256 * 2 ** 20, work=2e9):  # small limits keep each case quick
        outcome, detail = classify(lambda: load_and_run(text), seconds=CASE_SECONDS)
    TALLY.add(outcome, detail, text)
    assert outcome in ("accepted", "refused", "backstop"), f"{outcome}: {detail}\ncase: {text[:2000]}"


def teardown_module():
    print(f"\nfuzzed circuit files: {TALLY}")
