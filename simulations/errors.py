"""Errors that name what is wrong, so the GUI and the Python user can act on them."""


class CircuitError(ValueError):
    """A problem with a circuit document; the message names the block, port or wire."""


class UnknownBlockError(CircuitError):
    """A wire or file names a block (or block type) that does not exist."""


class UnknownPortError(CircuitError):
    """A wire names a port its block does not have."""


class PortKindError(CircuitError):
    """A wire joins ports of different kinds (e.g. spikes into a current input)."""


class SizeMismatchError(CircuitError):
    """A wire joins ports of different widths, or a block cannot be built with its sizes."""


class MissingInputError(CircuitError):
    """A required input has no wire, or an output that sets a size is left unconnected."""


class CircuitFileError(CircuitError):
    """A circuit file is malformed, of the wrong type, or written by a newer schema."""


class ParameterError(CircuitError):
    """A parameter value is of the wrong type, out of range, non-finite or contradicts another."""


class ResourceLimitError(CircuitError):
    """Building or running the circuit would take more memory or work than the limits allow."""


class BlockFailure(CircuitError):
    """A block failed in a way its checks did not foresee; the message names the block."""


class DivergenceError(RuntimeError):
    """A state variable became NaN or infinite; the run stops and names it."""

    def __init__(self, block: str, variable: str, step: int, dt: float):
        self.block, self.variable, self.step = block, variable, step
        super().__init__(
            f"simulation diverged: {block}.{variable} became NaN or infinite by step {step} "
            f"(t = {step * dt:g} ms); the run is paused. Check this block's parameters and inputs."
        )
