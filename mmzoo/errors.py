"""Error types that the CLI turns into one clear line and exit status 2.

Each is a `ValueError`, so Python callers can catch them the usual way.
"""


class MmzooError(ValueError):
    """Base class of the errors a user can fix by changing their input."""


class ConfigError(MmzooError):
    """A zoo config, an override or a model name is not valid."""


class DataError(MmzooError):
    """A data directory, file or split cannot be used."""


class ModelFileError(MmzooError):
    """A model file or SavedModel cannot be loaded or written."""
