"""The backend: circuit documents, files, compilation to a torch simulator, probes."""
from .checkpoint import CheckpointError, load_checkpoint
from .circuit import Circuit, Wire
from .errors import (
    CircuitError,
    CircuitFileError,
    DivergenceError,
    MissingInputError,
    PortKindError,
    SizeMismatchError,
    UnknownBlockError,
    UnknownPortError,
)
from .files import SCHEMA_VERSION
from .modules import Module
from .probes import SampleRecorder, SpikeRecorder
from .simulator import Simulator, compile

__all__ = [
    "Circuit", "Module", "Wire", "Simulator", "compile", "SCHEMA_VERSION", "SampleRecorder", "SpikeRecorder",
    "CircuitError", "CircuitFileError", "DivergenceError", "MissingInputError", "PortKindError",
    "SizeMismatchError", "UnknownBlockError", "UnknownPortError", "load_checkpoint", "CheckpointError",
]
