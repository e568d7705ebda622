"""A real wheel in a fresh virtual environment: ``pip install`` it, then run a circuit and serve
the app from another directory, with the C source and the demo data as package data.

The venv sees the already-installed dependencies (``--system-site-packages``) so the test
stays fast and offline; the project itself comes only from the wheel (checked by path)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from workbench.serve import free_port

ROOT = Path(__file__).resolve().parent.parent

RUN_A_CIRCUIT = """
import sys, components, simulations, workbench
from pathlib import Path
for m in (components, simulations, workbench):
    assert Path(m.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), m.__file__
from components import native
from components.assets import ASSETS
from simulations import Circuit, compile
from workbench.app import create_app  # workbench.demos is packaged
from workbench.demos import demos
c = Circuit.load(ASSETS / "demos" / "stdp_demo.json")
sim = compile(c, seed=1)
sim.run(0.2)
name = next(n for n, b in c.blocks.items() if type(b).__name__ == "LIFPopulation")
print("SPIKES", len(sim.spikes(name)[0]), "NATIVE", native._library() is not None, "DEMOS", len([d.circuit() for d in demos().values()]))
"""


def clean_env(cache: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(WORKBENCH_CACHE=str(cache), OMP_NUM_THREADS="1", PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_any_directory(tmp_path, record_property):
    env = clean_env(tmp_path / "cache")
    source = tmp_path / "source"  # a clean copy: no stale build/ folder of the checkout leaks in
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "components", "simulations", "workbench", "assets"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / part, source / part)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, env=env, cwd=tmp_path, capture_output=True)
    built = time.perf_counter() - t0
    wheel = next((tmp_path / "dist").glob("workbench-*.whl"))
    venv = tmp_path / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, env=env)
    py, bindir = venv / "bin" / "python", venv / "bin"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
                   check=True, env=env, capture_output=True)
    installed = time.perf_counter() - t0
    record_property("wheel", {"size_kb": round(wheel.stat().st_size / 1024), "build_s": round(built, 1),
                              "venv_and_install_s": round(installed, 1)})
    print(f"wheel {wheel.stat().st_size / 1024:.0f} KB, built in {built:.1f} s, venv + install {installed:.1f} s")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([str(py), "-c", RUN_A_CIRCUIT], env=env, cwd=elsewhere, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    spikes, native_ok, demos = out.stdout.split()[1::2]
    assert int(spikes) > 0 and int(demos) >= 5
    if shutil.which("cc") or shutil.which("gcc"):
        assert native_ok == "True"  # native.c shipped and compiled

    # the compiled path falls back cleanly when its source is missing
    site = Path(subprocess.run([str(py), "-c", "import components, os; print(os.path.dirname(components.__file__))"],
                               env=env, cwd=elsewhere, capture_output=True, text=True, check=True).stdout.strip())
    assert site.resolve().is_relative_to(venv.resolve())  # never the checkout's own file
    (site / "native.c").unlink()
    env_bare = clean_env(tmp_path / "cache2")
    out = subprocess.run([str(py), "-c", RUN_A_CIRCUIT], env=env_bare, cwd=elsewhere, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[3] == "False" and "using the plain torch path" in out.stderr
    assert out.stdout.split()[1] == spikes  # the same spikes on the torch path

    # the console script and python -m workbench serve the app from here
    assert "--port" in subprocess.run([str(py), "-m", "workbench", "--help"], env=env, cwd=elsewhere,
                                      capture_output=True, text=True, check=True).stdout
    port = free_port()
    server = subprocess.Popen([str(bindir / "workbench"), "--port", str(port)], env=env, cwd=elsewhere,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        page, deadline = None, time.monotonic() + 90
        while page is None and time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read()
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
            except OSError:
                time.sleep(0.5)
        assert page is not None and "<title>Workbench</title>" in page and "bokeh" in page.lower()
    finally:
        server.terminate()
        server.wait(timeout=20)
