"""Optional compiled fast path for the hot blocks (CPU only).

``native.c`` is built once with the system C compiler into a cache folder and loaded with
ctypes; no torch headers, so the build takes about a second. The cache folder must be private
(0700, ours); a library is named by the hash of its source and flags and loaded only if it
matches the hash recorded when it was built, so no planted file is ever loaded. Where it cannot be built (no
compiler) or is switched off (``WORKBENCH_NATIVE=0``), blocks run their plain torch code after a
one-line notice. Both paths give identical spikes (tests/test_native_path.py).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("native.c")
_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}
# -march=native: the library is built on, and cached for, the machine that runs it.
# -ffp-contract=off: no fused multiply-add, so results equal the torch path bit for bit.
# -fopenmp: fused programs run on torch.get_num_threads() threads (the build without it is the
# fallback; it runs them on one).
FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-ffp-contract=off", "-fopenmp"]
SERIAL_FLAGS = FLAGS[:-1]
I64, PTR = ctypes.c_int64, ctypes.c_void_p


class LifArgs(ctypes.Structure):
    _fields_ = [("B", I64), ("n", I64)] + [
        (name, PTR) for name in ("v", "countdown", "R", "E_L", "decay", "v_th", "v_reset", "ref_steps", "spikes")]


class PropagateArgs(ctypes.Structure):
    _fields_ = [(name, I64) for name in ("B", "n_pre", "n_post", "w_rows", "n_syn", "slots")] + [
        (name, PTR) for name in ("ptr", "post", "w", "decay", "buf0", "buf1", "delay", "ring")] + [("jump", I64)] + [
        (name, PTR) for name in ("stp_x", "stp_u", "stp_last", "U", "tau_rec", "tau_fac", "scale")] + [
        ("dt", ctypes.c_double)]


class StdpArgs(ctypes.Structure):
    _fields_ = [(name, I64) for name in ("B", "n_pre", "n_post", "n_syn")] + [
        (name, PTR) for name in ("x", "y", "decay_plus", "decay_minus", "A_plus", "A_minus", "w_min", "w_max",
                                 "ptr", "post", "pre", "by_post", "post_ptr", "w")]


MAX_SOURCES, MAX_THREADS = 8, 64
OP_LIF, OP_PROPAGATE, OP_MODEL = 1, 2, 3


class ProgramOp(ctypes.Structure):
    """One op of a fused program (see native.c); ``fired`` holds 3 B n indices of a spiking op."""


ProgramOp._fields_ = [("kind", I64), ("n_sources", I64), ("record", I64), ("args", PTR),
                      ("sources", PTR * MAX_SOURCES), ("scratch", PTR), ("fn", PTR), ("inputs", PTR * 3),
                      ("fired", PTR), ("n_fired", I64 * (3 * MAX_THREADS)), ("slot", I64),
                      ("source", ctypes.POINTER(ProgramOp)), ("delivered", I64 * (2 * MAX_THREADS))]


_SIGNATURES = {
    "lif_step": (None, [ctypes.POINTER(LifArgs), PTR]),
    "propagate": (None, [ctypes.POINTER(PropagateArgs), PTR, I64]),
    "stdp_step": (None, [ctypes.POINTER(StdpArgs), PTR, PTR, PTR, I64]),
    "run_program": (I64, [ctypes.POINTER(ProgramOp), I64, I64, I64, PTR, I64, I64, ctypes.POINTER(I64), I64]),
}


ENABLED = os.environ.get("WORKBENCH_NATIVE", "1") != "0"  # tests flip this to compare paths


def _cache_dir() -> Path:
    root = os.environ.get("WORKBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "workbench")
    return Path(root)


class CacheRefused(OSError):
    """The kernel cache cannot be trusted (not ours, not private, or a file in it is foreign)."""


def private_cache_dir() -> Path:
    """The cache folder, created 0700; refused unless it is a real folder owned by this user
    that no one else can write to (anyone who can write there could plant code we load)."""
    folder = _cache_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise CacheRefused(f"cache {folder} is not a plain folder")
    if info.st_uid != os.getuid():
        raise CacheRefused(f"cache {folder} belongs to another user")
    if info.st_mode & 0o022:
        raise CacheRefused(f"cache {folder} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
                           "remove it or chmod 700 it")
    if info.st_mode & 0o077:  # readable by others but never writable: nothing foreign got in; close it
        os.chmod(folder, 0o700)
    return folder


@lru_cache(maxsize=None)
def cpu_fingerprint() -> str:
    """What ``-march=native`` compiles for: the CPU's model and feature flags (not the host's
    name), so hosts with the same CPU share a cached kernel and a different CPU builds its own."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        wanted = [line for line in lines if line.split(":")[0].strip() in ("model name", "flags", "Features")]
        return hashlib.sha256("\n".join(sorted(set(wanted))).encode()).hexdigest()[:16]
    except OSError:
        return platform.node()  # no cpuinfo: one build per host


def build_key(flags: list[str] = FLAGS) -> str:
    """Hash of the C source, the flags and the machine: the library's name in the cache."""
    text = SOURCE.read_bytes() + " ".join(flags + [platform.machine(), cpu_fingerprint()]).encode()
    return hashlib.sha256(text).hexdigest()[:32]


def library_path(flags: list[str] = FLAGS) -> Path:
    return _cache_dir() / f"native_{build_key(flags)}.so"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(target: Path, source: bytes, flags: list[str]) -> None:
    """Compile ``source`` into a temporary name, record the library's hash beside it, then move
    both into place atomically (concurrent processes never load a half-written file)."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise OSError("no C compiler found (set CC or install gcc)")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src, built = Path(tmp) / "source.c", Path(tmp) / target.name
        src.write_bytes(source)
        subprocess.run([compiler, *flags, "-o", str(built), str(src), "-lm"], check=True, capture_output=True, text=True)
        sidecar = Path(tmp) / "hash"
        sidecar.write_text(_digest(built))
        sidecar.replace(target.with_suffix(".sha256"))
        built.replace(target)


def _load(name: str, source: bytes, flags: list[str]) -> ctypes.CDLL:
    """The library built from ``source`` with ``flags``, from the private cache: loaded only if it
    is ours and matches the hash recorded at build time, (re)built otherwise."""
    target = private_cache_dir() / name
    if not _verified(target):  # missing, or not what we built: (re)build it
        target.unlink(missing_ok=True)
        _build(target, source, flags)
        if not _verified(target):
            raise CacheRefused(f"{target} changed while it was being built")
    return ctypes.CDLL(str(target))


def _verified(target: Path) -> bool:
    """True when ``target`` is this user's file, private, and matches the hash recorded at build."""
    sidecar = target.with_suffix(".sha256")
    try:
        infos = [os.lstat(target), os.lstat(sidecar)]
        recorded = sidecar.read_text().strip()
    except OSError:
        return False
    return (all(stat.S_ISREG(i.st_mode) and i.st_uid == os.getuid() and not i.st_mode & 0o022 for i in infos)
            and _digest(target) == recorded)


@lru_cache(maxsize=None)
def _library():
    """The compiled library, or None after a one-line notice (the torch path runs instead)."""
    try:
        try:
            lib = _load(library_path().name, SOURCE.read_bytes(), FLAGS)
        except subprocess.CalledProcessError:  # no OpenMP here: one thread
            lib = _load(library_path(SERIAL_FLAGS).name, SOURCE.read_bytes(), SERIAL_FLAGS)
        for name, (restype, argtypes) in _SIGNATURES.items():
            for suffix in _SUFFIX.values():
                fn = getattr(lib, f"{name}_{suffix}")
                fn.restype, fn.argtypes = restype, argtypes
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        detail = (getattr(e, "stderr", None) or str(e)).strip().splitlines() or [type(e).__name__]
        print(f"workbench: compiled fast path unavailable ({detail[-1]}); using the plain torch path",
              file=sys.stderr)
        return None
    return lib


_TORCH_ONLY = ContextVar("torch_only", default=False)


@contextmanager
def torch_path():
    """Run blocks on their torch code within this context (this thread only): training needs
    autograd, which the compiled kernels do not record."""
    token = _TORCH_ONLY.set(True)
    try:
        yield
    finally:
        _TORCH_ONLY.reset(token)


def kernel(name: str, device: torch.device, dtype: torch.dtype):
    """The compiled ``name`` kernel for this device and dtype, or None (use the torch path)."""
    return _kernel(name, device.type, dtype) if ENABLED and not _TORCH_ONLY.get() else None


@lru_cache(maxsize=None)
def _kernel(name: str, device_type: str, dtype: torch.dtype):
    if device_type != "cpu" or dtype not in _SUFFIX:
        return None
    lib = _library()
    return None if lib is None else getattr(lib, f"{name}_{_SUFFIX[dtype]}")


def ptr(tensor: torch.Tensor | None) -> int | None:
    """Address of a (contiguous) tensor's data; None stays None, a NULL pointer."""
    return None if tensor is None else tensor.data_ptr()


def pack(struct: type[ctypes.Structure], **fields) -> ctypes.Structure:
    """Fill an argument struct; tensors become their data addresses. The caller keeps the
    tensors alive (they are the block's state and parameters) and repacks when they change."""
    return struct(**{k: ptr(v) if isinstance(v, torch.Tensor) or v is None else v for k, v in fields.items()})


@lru_cache(maxsize=None)
def generated(source: str, symbol: str):
    """Build C ``source`` generated from a model declaration (components/equation_codegen.py)
    like native.c, and return its function ``symbol``; None (after a one-line notice) where it
    cannot be built. The source holds only validated names and re-printed numbers."""
    flags = FLAGS + ["-fno-thread-jumps"]  # jump threading leaves the refractory selects as branches: no SIMD
    key = hashlib.sha256(source.encode() + " ".join(flags + [platform.machine(), cpu_fingerprint()]).encode())
    try:
        lib = _load(f"model_{key.hexdigest()[:32]}.so", source.encode(), flags)
        fn = getattr(lib, symbol)
    except (OSError, subprocess.CalledProcessError, AttributeError) as e:
        detail = (getattr(e, "stderr", None) or str(e)).strip().splitlines() or [type(e).__name__]
        print(f"workbench: compiled model unavailable ({detail[-1]}); using the plain torch path", file=sys.stderr)
        return None
    fn.restype = None
    fn.argtypes = [ctypes.POINTER(ModelArgs)] + ([I64, I64] if symbol == "model_span" else [])
    return fn


class ModelArgs(ctypes.Structure):
    """Arguments of a generated model step (see components/equation_codegen.py)."""
    _fields_ = [(name, I64) for name in ("B", "n", "rows", "t")] + [
        (name, PTR) for name in ("state", "params", "P", "P_held", "ref_steps", "countdown", "spikes",
                                 "current", "exc", "inh")]
