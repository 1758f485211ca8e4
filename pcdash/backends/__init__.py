"""Where a sweep's shape groups train.

- ``local`` (default): in this process, one group after another, each group's members sharded
  over every local device.
- ``ray``: on a Ray cluster (``pip install -e ".[cluster]"``): the groups are cut into parts
  (:mod:`pcdash.backends.parts`), each part one Ray task, merged back into the same result
  frame. ``address`` names a running cluster (``ray start --head`` prints it); without one a
  local Ray instance is started on this machine.

Both produce the same results for the same seeds. Ray is imported only when the ``ray``
backend is made. The command line takes ``--backend ray [--address ADDR]`` on every training
command (:func:`add_backend_arguments`); the dashboard trains on the cluster named by
``$PCDASH_RAY_ADDRESS`` when it is set (:func:`backend_from_env`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from pcdash.errors import ConfigError

if TYPE_CHECKING:  # this module stays light: the CLI imports it before it needs JAX
    import numpy as np

    from pcdash.sweep import Group, SweepProgress, SweepRun

BACKENDS = ("local", "ray")
RAY_ADDRESS_ENV = "PCDASH_RAY_ADDRESS"


class Backend(Protocol):
    name: str

    def describe(self) -> str:
        """Where the training runs, in a few words (shown on pages and by the CLI)."""

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
        """Train every group; the same contract as :func:`pcdash.sweep.run_groups`."""


def make_backend(name: str = "local", address: str | None = None) -> Backend:
    """The backend called ``name``. ConfigError for an unknown name, an address without the
    ray backend, or the ray backend without Ray installed."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    if name == "local":
        if address:
            raise ConfigError("--address names a Ray cluster; use it with --backend ray")
        from pcdash.backends.local import LocalBackend

        return LocalBackend()
    try:
        from pcdash.backends.ray_cluster import RayBackend
    except ImportError as err:
        raise ConfigError(
            f'the ray backend needs Ray ({err}); install it with: pip install -e ".[cluster]"'
        ) from err
    return RayBackend(address or None)


def backend_from_env() -> Backend:
    """The Ray backend on ``$PCDASH_RAY_ADDRESS`` when it is set, else the local one."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    return make_backend("ray", address) if address else make_backend("local")


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """``--backend`` and ``--address``, for every command that trains."""
    parser.add_argument(
        "--backend", default="local", help="local (default: this machine, every device) or ray"
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster address (e.g. 10.0.0.5:6379) for --backend ray; default "
        f"${RAY_ADDRESS_ENV}, "
        "else a local Ray instance",
    )


def backend_from_args(args: argparse.Namespace) -> Backend:
    address = args.address
    if address is None and args.backend == "ray":
        address = os.environ.get(RAY_ADDRESS_ENV, "").strip() or None
    return make_backend(args.backend, address)


__all__ = [
    "BACKENDS",
    "Backend",
    "RAY_ADDRESS_ENV",
    "add_backend_arguments",
    "backend_from_args",
    "backend_from_env",
    "make_backend",
]
