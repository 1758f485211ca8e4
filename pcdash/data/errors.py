"""The one exception type for user-facing data problems."""

from __future__ import annotations

from pcdash.errors import PcdashError


class DataError(PcdashError):
    """A dataset cannot be loaded: bad argument, missing, corrupt or truncated file.

    A ValueError (through PcdashError); the message is one line meant for the user as is.
    """
