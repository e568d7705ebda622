"""The compiled-kernel cache loads only what it built itself: a private folder, libraries named
by the hash of source and flags and checked against the hash recorded at build; anything else
is rebuilt or refused, and a refusal falls back to the torch path with a one-line notice."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import torch

from components import native
from simulations import compile
from simulations.examples import cuba

CC = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a C compiler")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache folder and a fresh load, restored afterwards."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_CACHE", str(folder))
    native._library.cache_clear()
    native._kernel.cache_clear()
    yield folder
    native._library.cache_clear()
    native._kernel.cache_clear()


def foreign_library(path, marker, symbols=()):
    """A shared library whose constructor writes ``marker`` when it is loaded."""
    source = path.with_suffix(".c")
    body = "".join(f"void {s}(void) {{}}\n" for s in symbols)
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {\n'
                      f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("ran", f); fclose(f); }}\n}}\n{body}')
    subprocess.run([CC, "-shared", "-fPIC", "-o", str(path), str(source)], check=True)
    source.unlink()


def spikes(circuit):
    sim = compile(circuit, seed=3)
    sim.run(0.05)
    return sim.spikes("exc")


def test_the_cache_is_private_and_named_by_a_hash(cache):
    assert native.kernel("lif_step", torch.device("cpu"), torch.float32) is not None
    assert (os.stat(cache).st_mode & 0o777) == 0o700
    lib = native.library_path()
    assert lib.parent == cache and native.build_key() in lib.name
    assert lib.with_suffix(".sha256").read_text() == native._digest(lib)


def test_a_planted_library_is_never_loaded(cache, tmp_path, capfd):
    marker = tmp_path / "planted_ran"
    cache.mkdir(mode=0o700)
    target = native.library_path()
    foreign_library(target, marker)  # at the exact path the cache would load, with no hash
    fast = native.kernel("lif_step", torch.device("cpu"), torch.float32)
    assert fast is not None  # rebuilt from our source instead
    assert not marker.exists()
    # a planted library with a matching hash file, but not ours by content of the source:
    # the hash of a foreign file recorded by an attacker still needs a folder they can write
    native._library.cache_clear()
    native._kernel.cache_clear()
    os.chmod(cache, 0o777)
    foreign_library(target, marker)
    target.with_suffix(".sha256").write_text(native._digest(target))
    assert native.kernel("lif_step", torch.device("cpu"), torch.float32) is None
    assert not marker.exists()
    notice = capfd.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "writable by other users" in notice[0] and "torch path" in notice[0]


def test_a_library_missing_a_symbol_falls_back_to_torch(cache, tmp_path, capfd, monkeypatch):
    cache.mkdir(mode=0o700)
    target = native.library_path()
    foreign_library(target, tmp_path / "loaded", symbols=["lif_step_f32"])
    target.with_suffix(".sha256").write_text(native._digest(target))  # as if we had built it
    assert native.kernel("lif_step", torch.device("cpu"), torch.float32) is None
    notice = capfd.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "undefined symbol" in notice[0] and "torch path" in notice[0]
    circuit = cuba(n=60)
    fallback = spikes(circuit)  # runs on the torch path
    monkeypatch.setattr(native, "ENABLED", False)
    plain = spikes(circuit)
    assert all(torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(fallback, plain))
    assert len(fallback[0]) > 0


def test_a_cache_owned_by_someone_else_or_a_link_is_refused(cache, tmp_path, capfd):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache.symlink_to(elsewhere)
    assert native.kernel("lif_step", torch.device("cpu"), torch.float32) is None
    assert "not a plain folder" in capfd.readouterr().err
