"""The one base of every experiment's configuration: a frozen dataclass that checks itself in
one style (:meth:`Config.check` with the validators below, then the caps and budget of
:mod:`pcdash.limits`), names itself by a stable key, and saves and loads its result under that
key (:mod:`pcdash.runs`).

A key is ``KEY_PREFIX`` and the first hex digits of a hash of the configuration as sorted JSON
(with its ``KIND`` unless ``KEY_WITH_KIND`` is off). Saved runs, the user's and the shipped
ones, are found by key, so keys stay as they were when runs were saved: fields added later are
left out at their default (``KEY_DEFAULTS``), renamed fields hash under their old name
(``KEY_RENAMED``), and the generative parts keep their older format (a prefix and 12 digits of
SHA-1: ``KEY_PREFIX``, ``KEY_HASH``, ``KEY_LENGTH``).
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


def stable_hash(payload: Any, *, length: int = 16, algorithm: str = "sha256") -> str:
    """The first ``length`` hex digits of the hash of ``payload``: a string as it is, anything
    else as sorted JSON (tuples as lists). Equal payloads give equal keys in every process."""
    blob = (
        payload if isinstance(payload, str) else json.dumps(payload, sort_keys=True, default=list)
    )
    return hashlib.new(algorithm, blob.encode()).hexdigest()[:length]


class Config:
    """Mixin of a frozen dataclass describing one experiment (a sweep, a comparison, a
    generative part). Subclasses set ``KIND`` (the saved run's kind) and implement
    :meth:`check`."""

    KIND: ClassVar[str] = ""
    KEY_DEFAULTS: ClassVar[Mapping[str, Any]] = {}  # field -> default left out of the key
    KEY_RENAMED: ClassVar[Mapping[str, str]] = {}  # field -> the name it had when runs were saved
    KEY_PREFIX: ClassVar[str] = ""
    KEY_WITH_KIND: ClassVar[bool] = True
    KEY_HASH: ClassVar[str] = "sha256"
    KEY_LENGTH: ClassVar[int] = 16

    def check(self) -> None:
        """Raise :class:`~pcdash.errors.ConfigError` with one line if this cannot run."""

    def validate(self) -> Self:
        """``self`` if it can run and stays within the limits, else a ConfigError."""
        from pcdash import limits

        self.check()
        return limits.check(self)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def key_payload(self) -> Any:
        """What the key hashes: the fields (under their ``KEY_RENAMED`` names), without those at
        their ``KEY_DEFAULTS`` value, and the ``KIND``."""
        d = self.to_dict()
        for name, default in self.KEY_DEFAULTS.items():
            if name in d and d[name] == default:
                del d[name]
        d = {self.KEY_RENAMED.get(name, name): value for name, value in d.items()}
        return {"kind": self.KIND, **d} if self.KEY_WITH_KIND else d

    def key(self) -> str:
        """A short stable hash naming this configuration (its result is saved under it)."""
        return self.KEY_PREFIX + stable_hash(
            self.key_payload(), length=self.KEY_LENGTH, algorithm=self.KEY_HASH
        )

    def save(
        self,
        frame: pd.DataFrame,
        arrays: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
    ) -> Path:
        """Keep a finished result under :meth:`key`, replacing an earlier one atomically."""
        from pcdash.runs import save_run

        return save_run(
            self.key(),
            self.KIND,
            self.to_dict(),
            frame,
            dict(arrays or {}),
            dict(meta or {}),
            tables=dict(tables or {}),
        )

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
    require(
        not isinstance(value, bool) and isinstance(value, numbers.Real),
        f"{what} must be a number, got {value!r}",
    )
    require(math.isfinite(value), f"{what} must be finite, got {value}")  # type: ignore[arg-type]
    return float(value)  # type: ignore[arg-type]


def positive(what: str, value: object) -> None:
    require(number(what, value) > 0, f"{what} must be > 0, got {value}")


def in_range(what: str, value: object, lo: float, hi: float) -> None:
    """``lo ≤ value < hi``."""
    require(lo <= number(what, value) < hi, f"{what} must be in [{lo}, {hi}), got {value}")


def int_at_least(what: str, value: object, lo: int) -> None:
    """A whole number ``≥ lo``. Upper caps are :mod:`pcdash.limits`' (checked by ``validate``
    after ``check``), so that ``--limits`` / ``$PCDASH_LIMITS`` can raise them."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Integral) and int(value) >= lo
    require(ok, f"{what} must be a whole number ≥ {lo}; got {value!r}")


def int_in(what: str, value: object, lo: int, hi: int) -> None:
    """An integer with ``lo ≤ value ≤ hi``."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Integral)
        and lo <= int(value) <= hi
    )
    require(ok, f"{what} must be an integer in [{lo}, {hi}], got {value!r}")
