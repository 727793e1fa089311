"""Errors raised before anything is compiled, each naming the offending field or line."""


class MechjaxError(Exception):
    """Base class of the library's own errors."""


class ConfigError(MechjaxError, ValueError):
    """A configuration value is invalid; the message names the field (e.g. ``problem.num_items``)."""


class DataError(MechjaxError, ValueError):
    """An input file or array is malformed; the message names the file and line or the field."""


class NonFiniteError(MechjaxError, FloatingPointError):
    """Training produced a non-finite value; the message names the step and the metric."""


class Interrupted(MechjaxError):
    """The user interrupted training (Ctrl-C); the message names the step saved and how to resume."""
