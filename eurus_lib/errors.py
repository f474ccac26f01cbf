"""User-facing errors: one clear sentence saying what is wrong and what to do.

Library code raises `KitError` for anything a user can fix (bad preset, missing package,
malformed data row). The CLI prints its message alone, without a traceback.
"""


class KitError(Exception):
    """An error whose message is meant for the person running the kit."""


class ConfigError(KitError):
    """A preset, key or value that the kit cannot accept."""


class DataError(KitError):
    """A data row that does not match the schema it claims to follow."""
