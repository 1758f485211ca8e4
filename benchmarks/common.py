"""What the benchmarks share: the float32 matmul every figure is divided by, a count of the
multiply-add FLOPs of a JAX function, and interleaved timing.

The reference is a 2048² float32 matmul, numpy's and a jitted JAX one, the faster of the two
(each the fastest of a few calls), timed in the same process as what it is compared with: other
processes on a shared machine slow both alike, so ratios hold where absolute times do not.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

MATMUL_N = 2048


def load() -> float:
    """The 1-minute load average (how busy the machine was)."""
    return os.getloadavg()[0]


def matmul_flops_per_s(n: int = MATMUL_N, tries: int = 5) -> float:
    """FLOP/s of an ``n × n`` float32 matmul: numpy's or a jitted JAX one, whichever is faster,
    each the fastest of ``tries`` calls (``2 n³`` FLOPs a call)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    ja, jb = jax.device_put(a), jax.device_put(b)
    mm = jax.jit(jnp.matmul)
    mm(ja, jb).block_until_ready()
    a @ b
    best = math.inf
    for _ in range(tries):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
        t = time.perf_counter()
        mm(ja, jb).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def fastest(fn: Callable[[], Any], tries: int) -> float:
    """The fastest of ``tries`` calls of ``fn`` (its result blocked on), in seconds."""
    best = math.inf
    for _ in range(tries):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Each of ``fns`` called once per round, in turn, for ``rounds`` rounds; the fastest call of
    each, in seconds. Interleaving spreads other processes' load over every candidate."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(fn())
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def dot_flops(fn: Callable, *args, while_trips: float | None = None, **kwargs) -> float:
    """The FLOPs of the matrix products (``dot_general``, convolutions) of ``fn(*args)``: ``2 ×``
    the multiply-adds, read from its jaxpr. A ``scan`` counts its body once per iteration, a
    ``cond`` its costliest branch, a ``while`` loop its body ``while_trips`` times (its trip count
    is not in the program; without ``while_trips`` a while loop is an error). Elementwise work
    is not counted: the figure is the "model FLOPs" that a matmul-bound program would need."""
    jaxpr = jax.make_jaxpr(fn)(*args, **kwargs)
    return _jaxpr_flops(jaxpr.jaxpr, while_trips)


def _jaxpr_flops(jaxpr, while_trips: float | None) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (lc, _), (lb, _) = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            out = eqn.outvars[0].aval.shape
            total += 2.0 * math.prod(out) * math.prod(lhs[d] for d in lc)
        elif name == "conv_general_dilated":
            rhs = eqn.invars[1].aval.shape
            out = eqn.outvars[0].aval.shape
            dn = eqn.params["dimension_numbers"]
            in_per_group = rhs[dn.rhs_spec[1]]
            window = math.prod(rhs[d] for d in dn.rhs_spec[2:])
            total += 2.0 * math.prod(out) * in_per_group * window
        elif name == "scan":
            total += eqn.params["length"] * _jaxpr_flops(eqn.params["jaxpr"].jaxpr, while_trips)
        elif name == "while":
            if while_trips is None:
                raise ValueError("a while loop's trip count is unknown: pass while_trips")
            body = _jaxpr_flops(eqn.params["body_jaxpr"].jaxpr, while_trips)
            cond = _jaxpr_flops(eqn.params["cond_jaxpr"].jaxpr, while_trips)
            total += while_trips * (body + cond)
        elif name == "cond":
            total += max(_jaxpr_flops(b.jaxpr, while_trips) for b in eqn.params["branches"])
        else:  # jit, remat, custom derivative rules: the function they call
            sub = next(
                (eqn.params[k] for k in ("jaxpr", "call_jaxpr", "fun_jaxpr") if k in eqn.params),
                None,
            )
            if sub is not None:
                total += _jaxpr_flops(getattr(sub, "jaxpr", sub), while_trips)
    return total
