"""The local backend: every group trains in this process, one after another, its members
sharded over every local device (see :mod:`pcdash.engine`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import numpy as np

from pcdash.sweep import Group, SweepProgress, SweepRun, run_groups


class LocalBackend:
    name = "local"

    def describe(self) -> str:
        devices = jax.local_devices()
        return (
            f"this process ({len(devices)} {devices[0].platform.upper()} "
            f"device{'s' if len(devices) > 1 else ''})"
        )

    def run(
        self,
        groups: list[Group],
        x_train: np.ndarray,
        y_train: np.ndarray,
        *,
        eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
        epochs: int,
        batch_size: int,
        on_progress: Callable[[SweepProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> SweepRun:
        return run_groups(
            groups,
            x_train,
            y_train,
            eval_sets=eval_sets,
            epochs=epochs,
            batch_size=batch_size,
            on_progress=on_progress,
            should_stop=should_stop,
        )
