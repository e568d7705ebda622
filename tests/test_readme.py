"""The README's Python examples run as written (in order, sharing one namespace)."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for k, code in enumerate(re.findall(r"```python\n(.*?)```", README.read_text(), re.S)):
        exec(compile(code, f"README example {k}", "exec"), namespace)
    sim = namespace["sim"]
    assert sim.rates("exc").mean() > 2 and sim.rates("inh").mean() > 2  # visibly firing (about 7 and 9 Hz)
    assert (tmp_path / "my_circuit.json").exists()
    assert namespace["sweep"].batch == 3
    assert {"exc", "inh", "ee"} <= set(namespace["again"].blocks)
    assert (tmp_path / "c.ipynb").exists()
