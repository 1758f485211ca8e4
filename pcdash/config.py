"""The one base of every experiment's configuration: a frozen dataclass that checks itself in
one style (:meth:`Config.check` with the validators below, then the caps and budget of
:mod:`pcdash.limits`), names itself by a stable key, and saves and loads its result under that
key (:mod:`pcdash.runs`).

A key is the first 16 hex digits of the SHA-256 of the configuration as sorted JSON with its
``KIND``; fields added after runs were saved are left out at their default
(``KEY_DEFAULTS``), so those runs keep their keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar, Self

import pandas as pd

from pcdash.errors import ConfigError


def stable_hash(payload: Any, length: int = 16) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``payload`` as sorted JSON (tuples as
    lists): equal payloads give equal keys in every process."""
    blob = json.dumps(payload, sort_keys=True, default=list)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


class Config:
    """Mixin of a frozen dataclass describing one experiment (a sweep, a comparison, a
    generative part). Subclasses set ``KIND`` (the saved run's kind) and implement
    :meth:`check`."""

    KIND: ClassVar[str] = ""
    KEY_DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    def check(self) -> None:
        """Raise :class:`~pcdash.errors.ConfigError` with one line if this cannot run."""

    def validate(self) -> Self:
        """``self`` if it can run and stays within the limits, else a ConfigError."""
        from pcdash import limits

        self.check()
        return limits.check(self)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def key_payload(self) -> dict[str, Any]:
        """What the key hashes: the fields, without those at their ``KEY_DEFAULTS`` value."""
        d = self.to_dict()
        for name, default in self.KEY_DEFAULTS.items():
            if name in d and d[name] == default:
                del d[name]
        return d

    def key(self) -> str:
        """A short stable hash naming this configuration (its result is saved under it)."""
        return stable_hash({"kind": self.KIND, **self.key_payload()})

    def save(
        self,
        frame: pd.DataFrame,
        arrays: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
    ) -> Path:
        """Keep a finished result under :meth:`key`, replacing an earlier one atomically."""
        from pcdash.runs import save_run

        return save_run(self.key(), self.KIND, self.to_dict(), frame, dict(arrays or {}), dict(meta or {}),
                        tables=dict(tables or {}))  # fmt: skip

    def load_saved(self):
        """The saved run of this configuration (a :class:`~pcdash.runs.SavedRun`), or None."""
        from pcdash.runs import load_run

        run = load_run(self.key())
        return run if run is not None and run.kind == self.KIND else None


# ------------------------------------------------------------------------------ validators


def require(condition: bool, message: str) -> None:
    """A ConfigError with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ConfigError(message)


def choice(what: str, value: object, allowed: Sequence[str]) -> None:
    require(value in allowed, f"unknown {what} {value!r}; choose from {', '.join(allowed)}")


def non_empty(what: str, values: Sequence) -> Sequence:
    require(len(values) > 0, f"{what}: give at least one value")
    return values


def number(what: str, value: object) -> float:
    require(not isinstance(value, bool) and isinstance(value, numbers.Real), f"{what} must be a number, got {value!r}")
    require(math.isfinite(value), f"{what} must be finite, got {value}")  # type: ignore[arg-type]
    return float(value)  # type: ignore[arg-type]


def positive(what: str, value: object) -> None:
    require(number(what, value) > 0, f"{what} must be > 0, got {value}")


def in_range(what: str, value: object, lo: float, hi: float) -> None:
    """``lo ≤ value < hi``."""
    require(lo <= number(what, value) < hi, f"{what} must be in [{lo}, {hi}), got {value}")


def int_in(what: str, value: object, lo: int, hi: int) -> None:
    """An integer with ``lo ≤ value ≤ hi``."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral) and lo <= value <= hi
    require(ok, f"{what} must be an integer in [{lo}, {hi}], got {value!r}")
