"""Bounds on what one job may ask for: caps on every grid and size, and an estimate of memory and
compute time checked against a budget before anything trains.

Every configuration's ``validate()`` ends with :func:`check`, so the dashboard (a crafted link
included) and the command line refuse the same things with one clear line. The estimate is
a model of the work, not a measurement:

    memory ≈ 4 B · (4 · Σ_members params  +  k · members · batch · Σ layer widths)  +  data
    time   ≈ FLOPs / throughput,   FLOPs ≈ Σ_members Σ_epochs (c_train · n_train + c_eval ·
    n_eval) · 2 · weights

where ``4 · params`` counts the parameters, their gradients and the optimiser's two moments, and
``c_train`` is 3 for a forward and backward pass and about ``2 T + 3`` for a predictive coding
step with ``T`` inference steps. The throughput is that of a 2-core CPU on dense matmuls
(``gflops``; small convolutions and attention reach less), so on faster machines the time is
an upper-end guess.

Caps and budget default to :class:`Limits`; ``$PCDASH_LIMITS`` (for the server) or the CLI's
``--limits`` override them, e.g. ``memory_gb=32,hours=12,members=4096``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from pcdash.errors import ConfigError

C = TypeVar("C")
ENV = "PCDASH_LIMITS"


@dataclass(frozen=True)
class Limits:
    """Caps on one job's sizes and its budget. Every field can be overridden by name."""

    members: int = 1024  # models trained in one job
    list_len: int = 64  # values in one comma-separated list (λ, dims, widths, γ ...)
    latent_dim: int = 4096
    width: int = 8192
    depth: int = 16
    steps: int = 1000  # inference steps T per training example
    long_steps: int = 20_000  # sampling, recall and memorising steps of the generative parts
    epochs: int = 1000
    seeds: int = 100
    batch: int = 65_536
    samples: int = 100_000  # samples drawn or test examples scored
    memory_gb: float = 8.0
    hours: float = 3.0
    gflops: float = (
        40.0  # dense-matmul throughput assumed by the time estimate (GFLOP/s, 2 CPU cores)
    )


DEFAULT = Limits()
ROUND_S = 0.05  # fixed seconds per epoch of one compiled program (evaluation, progress, dispatch)
_override: Limits | None = None
_hint = "set PCDASH_LIMITS={} before starting the server"


def parse_limits(text: str, base: Limits = DEFAULT) -> Limits:
    """``"memory_gb=32,hours=12"`` → ``base`` with those fields replaced (ConfigError if bad)."""
    kinds = {f.name: f.type for f in fields(Limits)}
    changes: dict[str, Any] = {}
    for item in (p.strip() for p in str(text).split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in kinds:
            raise ConfigError(
                f"limits: {item[:40]!r} is not NAME=VALUE with NAME one of {', '.join(kinds)}"
            )
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise ConfigError(f"limits: {name} must be a positive number; got {value[:40]!r}")
        changes[name] = number if kinds[name] == "float" else int(number)
    return replace(base, **changes)


def current() -> Limits:
    """The limits in force: those of :func:`using`, else ``$PCDASH_LIMITS`` over the defaults."""
    if _override is not None:
        return _override
    return parse_limits(os.environ.get(ENV, ""))


@contextmanager
def using(limits: Limits, *, hint: str) -> Iterator[Limits]:
    """Put ``limits`` in force inside the ``with`` block (the CLI's ``--limits``); ``hint``
    tells users how to raise a limit, with ``{}`` standing for ``name=value``."""
    global _override, _hint
    saved = _override, _hint
    _override, _hint = limits, hint
    try:
        yield limits
    finally:
        _override, _hint = saved


def _raise(what: str, setting: str, needed: float) -> None:
    value = f"{math.ceil(needed * 10) / 10:g}" if isinstance(needed, float) else str(needed)
    raise ConfigError(f"{what} (to allow it, {_hint.format(f'{setting}={value}')})")


# ------------------------------------------------------------------------------ estimates


@dataclass(frozen=True)
class Cost:
    """What a job needs: models, bytes of memory at its peak, floating-point operations (as
    dense-matmul equivalents: an op of a network that runs below that speed counts more)."""

    members: int
    memory_bytes: float
    flops: float
    rounds: int = (
        0  # epochs × programs: each costs a fixed overhead (evaluation, progress, dispatch)
    )

    def seconds(self, limits: Limits | None = None) -> float:
        return self.flops / ((limits or current()).gflops * 1e9) + ROUND_S * self.rounds

    def summary(self, limits: Limits | None = None) -> str:
        """``"≈ 40 MB memory, ≈ 2 min"``: shown before a job is submitted."""
        return f"≈ {_bytes(self.memory_bytes)} memory, ≈ {_duration(self.seconds(limits))}"


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{max(n / 1e3, 1):.0f} kB"


def _duration(s: float) -> str:
    if s < 60:
        return f"{max(s, 1):.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400 * 2:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


@dataclass(frozen=True)
class _Data:
    dim: int  # input size (pixels × channels)
    classes: int
    n_train: int
    n_eval: int  # validation + test examples evaluated every epoch
    shape: tuple[int, ...]


def _data(name: str, val_fraction: float = 0.1) -> _Data:
    """Sizes of a dataset, without loading it."""
    from pcdash.data.sources import SOURCES

    source = SOURCES.get(name, SOURCES["digits"])
    pool, test = {
        "digits": (1438, 359),
        "mnist": (60000, 10000),
        "fashion_mnist": (60000, 10000),
        "cifar10": (50000, 10000),
    }.get(name, (1600, 400))
    val = int(pool * min(max(float(val_fraction), 0.0), 0.5))
    return _Data(
        math.prod(source.input_shape),
        source.num_classes,
        pool - val,
        val + test,
        source.input_shape,
    )


def _weights(sizes: Sequence[int]) -> int:
    """Weights and biases of dense layers ``sizes[0] → sizes[1] → …``."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


@dataclass(frozen=True)
class _Net:
    params: int  # per member
    flops: int  # multiply-adds × 2 of one forward pass on one example
    units: int  # activations of one example (Σ layer widths)
    efficiency: float = (
        1.0  # share of the dense-matmul throughput it reaches (small convs, attention: less)
    )


def _mlp(*parts: Sequence[int]) -> _Net:
    params = sum(_weights(p) for p in parts)
    return _Net(params, 2 * params, sum(sum(p) for p in parts))


def _cre_net(arch: str, data: _Data, z: int) -> _Net:
    d, k = data.dim, data.classes
    if arch.startswith("cnn"):  # 3 × conv3×3(16) + pools; mirrored transposed convs (kernel 4)
        h, w, c = (data.shape + (1, 1, 1))[:3]
        hw, ch = h * w, 16
        conv = 2 * 9 * ch * hw * (c + ch / 4 + ch / 16) + 2 * 16 * ch * hw * (ch / 16 + ch / 4 + c)
        flat = ch * max(hw // 64, 1)
        dense = _mlp((flat, z), (z, flat), (z, 64, k))
        return _Net(
            dense.params + 2 * 16 * ch * ch + 9 * ch * (c + 2 * ch),
            int(conv) + dense.flops,
            int(ch * hw * 2.6) + dense.units,
            efficiency=0.1,
        )
    if arch.startswith("vit"):  # 16 patch tokens of width 8, one block each way
        tokens, e = 16, 8
        block = _weights((e, e)) * 4 + _weights((e, 2 * e, e))
        dense = _mlp((d, e), (e, z), (z, tokens * e), (e, d), (z, k))
        flops = 2 * (d * e * 2 + tokens * 2 * (block + tokens * e)) + dense.flops
        return _Net(
            dense.params + 2 * block + tokens * e, flops, tokens * e * 12 + d * 2, efficiency=0.05
        )
    from pcdash.cre.models import FC_VARIANTS

    hidden = list(FC_VARIANTS.get(arch, FC_VARIANTS["fc-large"])["hidden"])
    cls = list(FC_VARIANTS.get(arch, FC_VARIANTS["fc-large"])["classifier_hidden"])
    return _mlp([d, *hidden, z], [z, *reversed(hidden), d], [z, *cls, k])


def _cost(
    groups: Iterable[tuple[int, _Net, float, float]],
    *,
    batch: int,
    eval_batch: int,
    data_bytes: float,
    extra_bytes: float = 0.0,
    act_factor: float = 3.0,
    epochs: int = 1,
) -> Cost:
    """Cost of groups ``(members, net, forward passes per member (training), forward passes per
    member (evaluation))`` run one after another; parameters of every group are kept. A training
    step keeps ``act_factor`` copies of every activation (forward values, gradients, states); an
    evaluation batch about two layers' worth."""
    members = flops = params = 0.0
    peak_act = 0.0
    groups = list(groups)
    for m, net, train_passes, eval_passes in groups:
        members += m
        params += m * net.params
        flops += m * net.flops * (train_passes + eval_passes) / net.efficiency
        peak_act = max(peak_act, m * net.units * max(batch * act_factor, eval_batch * 1.5))
    memory = 4.0 * (4 * params + peak_act) + data_bytes + extra_bytes
    return Cost(int(members), memory, flops, rounds=len(groups) * int(epochs))


def cre_cost(config: Any) -> Cost:
    data = _data(config.dataset, config.val_fraction)
    per_dim = len(config.lambdas) * config.seeds
    groups = [
        (
            per_dim,
            _cre_net(config.arch, data, int(z)),
            3.0 * data.n_train * config.epochs,
            1.0 * data.n_eval * config.epochs,
        )
        for z in config.latent_dims
    ]
    shown = int(getattr(config, "points_per_class", 50)) * data.classes
    snapshot = 4.0 * config.n_members * shown * (data.dim + max(config.latent_dims) + 2)
    rows = 8.0 * 20 * config.n_members * config.epochs * 3
    return _cost(
        groups,
        batch=config.batch_size,
        eval_batch=min(1024, data.n_eval),
        data_bytes=8.0 * data.dim * (data.n_train + data.n_eval),
        extra_bytes=snapshot + rows,
        epochs=config.epochs,
    )


def _pc_passes(algorithm: str, steps: int) -> float:
    """Forward-pass equivalents of one training example: backprop 3, PC ``2 T + 3`` (each
    inference step the predictions and the errors sent back, then the weight gradient); iPC
    also updates the weights at every step."""
    if algorithm.startswith("bp"):
        return 3.0
    return (4.0 if algorithm == "ipc" else 2.0) * steps + 3.0


def pcn_cost(config: Any) -> Cost:
    data = _data(config.dataset, config.val_fraction)
    per_width = len(config.optimizers) * len(config.swept_state_lrs) * config.seeds
    passes = _pc_passes(config.algorithm, config.inference_steps)
    nets = [_mlp([data.dim, *([int(w)] * config.depth), data.classes]) for w in config.widths]
    groups = [
        (per_width, net, passes * data.n_train * config.epochs, data.n_eval * config.epochs)
        for net in nets
    ]
    members = per_width * len(nets)
    traces = 4.0 * members * config.epochs * (config.inference_steps + 1) * (config.depth + 1) * 4
    return _cost(
        groups,
        batch=config.batch_size,
        eval_batch=min(1024, data.n_eval),
        data_bytes=8.0 * data.dim * (data.n_train + data.n_eval),
        extra_bytes=traces,
        act_factor=5.0,
        epochs=config.epochs,
    )


def _decoder(config: Any, d: int, width: int | None = None) -> _Net:
    return _mlp([config.latent, *([int(width or config.hidden)] * max(int(config.depth), 0)), d])


def ae_cost(config: Any) -> Cost:
    data = _data(config.dataset)
    pc_members = len(config.state_lrs) * config.seeds
    dec = _decoder(config, data.dim)
    enc = _mlp([data.dim, *([config.hidden] * config.depth), config.latent])
    t = config.inference_steps
    groups = [
        (
            pc_members,
            dec,
            (2.0 * t + 3) * data.n_train * config.epochs,
            2.0 * t * data.n_eval * config.epochs,
        ),
        (
            config.seeds,
            _Net(enc.params + dec.params, enc.flops + dec.flops, enc.units + dec.units),
            3.0 * data.n_train * config.epochs,
            data.n_eval * config.epochs,
        ),
    ]
    return _cost(
        groups,
        batch=config.batch_size,
        eval_batch=min(1024, data.n_eval),
        data_bytes=8.0 * data.dim * (data.n_train + data.n_eval),
        act_factor=5.0,
        epochs=config.epochs,
    )


def mcpc_cost(config: Any) -> Cost:
    data = _data(config.dataset)
    net = _decoder(config, data.dim)
    train = (2.0 * config.train_steps + 3) * data.n_train * config.epochs
    sampling = 2 * 2.0 * config.sample_steps * config.n_samples  # before and after training
    cost = _cost(
        [(1, net, train, sampling)],
        batch=config.batch_size,
        eval_batch=config.n_samples * 3,
        data_bytes=8.0 * data.dim * data.n_train,
        act_factor=5.0,
        epochs=config.epochs,
    )
    return replace(cost, memory_bytes=cost.memory_bytes + 4.0 * 3 * config.n_samples * data.dim)


def memory_cost(config: Any) -> Cost:
    data = _data(config.dataset)
    per_width = len(config.ns) * config.seeds
    n = max(config.ns)
    groups = [
        (
            per_width,
            _mlp([config.latent, int(w), data.dim]),
            (2.0 * config.inference_steps + 3) * n * config.train_steps,
            2 * 2.0 * config.recall_steps * n,
        )
        for w in config.widths
    ]
    return _cost(
        groups,
        batch=n,
        eval_batch=n * 3,
        data_bytes=4.0 * 3 * n * data.dim,
        act_factor=5.0,
        epochs=config.train_steps // 10,
    )  # memorising runs one full batch per step


def ood_cost(config: Any) -> Cost:
    data = _data(config.dataset)
    net = _mlp([data.dim, *([config.hidden] * config.depth), data.classes])
    train = (2.0 * config.train_steps + 3) * data.n_train * config.epochs
    scoring = 2 * 2.0 * config.test_steps * config.n_test + data.n_eval * config.epochs
    return _cost(
        [(1, net, train, scoring)],
        batch=config.batch_size,
        eval_batch=max(config.n_test * 3, 1024),
        data_bytes=8.0 * data.dim * (data.n_train + data.n_eval),
        act_factor=5.0,
        epochs=config.epochs,
    )


# ------------------------------------------------------------------------------ the caps


def _sizes(config: Any) -> list[tuple[str, str, Any]]:
    """``(what, limit name, value)`` of every capped size of a configuration; lists appear
    twice: their length (``list_len``) and each value."""
    name = type(config).__name__
    g = getattr
    if name == "CREConfig":
        return [
            ("the λ grid", "list_len", g(config, "lambdas")),
            ("latent dims", "list_len", g(config, "latent_dims")),
            ("latent dimension", "latent_dim", g(config, "latent_dims")),
            ("seeds", "seeds", config.seeds),
            ("epochs", "epochs", config.epochs),
            ("batch size", "batch", config.batch_size),
        ]
    if name == "PCNConfig":
        return [
            ("widths", "list_len", config.widths),
            ("width", "width", config.widths),
            ("state learning rates γ", "list_len", config.state_lrs),
            ("weight optimisers", "list_len", config.optimizers),
            ("depth", "depth", config.depth),
            ("inference steps T", "steps", config.inference_steps),
            ("seeds", "seeds", config.seeds),
            ("epochs", "epochs", config.epochs),
            ("batch size", "batch", config.batch_size),
        ]
    common = [
        ("latent size", "latent_dim", g(config, "latent", 1)),
        ("width", "width", g(config, "hidden", 1)),
        ("depth", "depth", g(config, "depth", 1)),
        ("epochs", "epochs", g(config, "epochs", 1)),
        ("batch size", "batch", g(config, "batch_size", 1)),
        ("seeds", "seeds", g(config, "seeds", 1)),
    ]
    if name == "AEConfig":
        return [
            *common,
            ("γ values", "list_len", config.state_lrs),
            ("inference steps T", "steps", config.inference_steps),
        ]
    if name == "MCPCConfig":
        return [
            *common,
            ("training inference steps", "steps", config.train_steps),
            ("sampling steps", "long_steps", config.sample_steps),
            ("samples", "samples", config.n_samples),
        ]
    if name == "MemoryConfig":
        return [
            *common,
            ("n images", "list_len", config.ns),
            ("widths", "list_len", config.widths),
            ("width", "width", config.widths),
            ("inference steps T", "steps", config.inference_steps),
            ("memorising steps", "long_steps", config.train_steps),
            ("recall steps", "long_steps", config.recall_steps),
        ]
    if name == "OODConfig":
        return [
            *common,
            ("training inference steps", "steps", config.train_steps),
            ("test inference steps", "steps", config.test_steps),
            ("test examples", "samples", config.n_test),
        ]
    return []


_COSTS = {
    "CREConfig": cre_cost,
    "PCNConfig": pcn_cost,
    "AEConfig": ae_cost,
    "MCPCConfig": mcpc_cost,
    "MemoryConfig": memory_cost,
    "OODConfig": ood_cost,
}


def estimate(config: Any) -> Cost | None:
    """The memory and compute a (valid) configuration needs, or None for an unknown kind."""
    fn = _COSTS.get(type(config).__name__)
    return None if fn is None else fn(config)


def check(config: C, limits: Limits | None = None) -> C:
    """``config`` if it stays within every cap and the budget, else a :class:`ConfigError`
    saying what is too large and how to allow it. Called at the end of each ``validate()``."""
    limits = limits or current()
    for what, setting, value in _sizes(config):
        cap = getattr(limits, setting)
        if setting == "list_len":
            if isinstance(value, Sequence) and len(value) > cap:
                _raise(
                    f"{what} has {len(value)} values; at most {cap} are allowed",
                    setting,
                    len(value),
                )
            continue
        for v in value if isinstance(value, Sequence) else (value,):
            if isinstance(v, numbers.Real) and v > cap:
                _raise(
                    f"{what} {v if isinstance(v, numbers.Integral) else f'{v:g}'} is above the cap "
                    f"of {cap}",
                    setting,
                    int(math.ceil(v)),
                )
    cost = estimate(config)
    if cost is None:
        return config
    if cost.members > limits.members:
        _raise(
            f"this job trains {cost.members} models; at most {limits.members} are allowed",
            "members",
            cost.members,
        )
    if cost.memory_bytes > limits.memory_gb * 1e9:
        _raise(
            f"this job needs ≈ {_bytes(cost.memory_bytes)} of memory by estimate; the budget is "
            f"{limits.memory_gb:g} GB",
            "memory_gb",
            cost.memory_bytes / 1e9,
        )
    hours = cost.seconds(limits) / 3600
    if hours > limits.hours:
        _raise(
            f"this job would compute for ≈ {_duration(hours * 3600)} by estimate; the budget is "
            f"{limits.hours:g} h",
            "hours",
            hours,
        )
    return config
