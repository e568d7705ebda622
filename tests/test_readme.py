"""The README's Python quick start runs as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README quick start", "exec"), namespace)
    sim = namespace["sim"]
    assert sim.rates("exc")[0] > 0
    assert (tmp_path / "my_circuit.json").exists()
    assert namespace["sweep"].batch == 3
