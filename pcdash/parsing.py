"""Parsing of comma-separated lists typed by users (CLI options, text boxes, links)."""

from __future__ import annotations

import math

from pcdash.errors import ConfigError

ECHO_CHARS = 60  # how much of a bad input a message repeats


def echo(text: object, limit: int = ECHO_CHARS) -> str:
    """``repr(text)``, shortened to about ``limit`` characters: bad input is quoted back to the
    user in messages, and a link can carry megabytes."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text)} characters)"


def parse_float_list(text: str, what: str) -> tuple[float, ...]:
    """``"0, 0.5,1"`` -> ``(0.0, 0.5, 1.0)``; a clear ConfigError for anything else. ``nan``
    and ``inf`` parse (the configuration refuses them where they make no sense)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ConfigError(f"{what} is empty; give a comma-separated list")
    try:
        return tuple(float(p) for p in parts if p)
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers; got {echo(text)}") from None


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    """``"2, 3,8"`` -> ``(2, 3, 8)``; ``"2.0"`` is 2. Fractions, ``nan`` and ``inf`` are refused
    with a ConfigError."""
    values = parse_float_list(text, what)
    if any(not math.isfinite(v) or v != int(v) for v in values):
        raise ConfigError(f"{what} must be whole numbers; got {echo(text)}")
    return tuple(int(v) for v in values)
