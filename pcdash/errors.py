"""User-facing errors: anything a user can cause with a bad input. The CLI prints their message
as one line and exits non-zero; pages show it with ``st.error``. Never a traceback."""


class PcdashError(ValueError):
    """Base class of errors whose message is meant for the user."""


class ConfigError(PcdashError):
    """A sweep configuration that cannot run (λ outside [0, 1], empty grid, unknown name ...)."""
