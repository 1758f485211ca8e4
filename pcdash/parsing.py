"""Parsing of comma-separated lists typed by users (CLI options, text boxes)."""

from __future__ import annotations

from pcdash.errors import ConfigError


def parse_float_list(text: str, what: str) -> tuple[float, ...]:
    """``"0, 0.5,1"`` -> ``(0.0, 0.5, 1.0)``; a clear ConfigError for anything else."""
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):
        raise ConfigError(f"{what} is empty; give a comma-separated list")
    try:
        return tuple(float(p) for p in parts if p)
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers; got {text!r}") from None


def parse_int_list(text: str, what: str) -> tuple[int, ...]:
    values = parse_float_list(text, what)
    if any(v != int(v) for v in values):
        raise ConfigError(f"{what} must be whole numbers; got {text!r}")
    return tuple(int(v) for v in values)
