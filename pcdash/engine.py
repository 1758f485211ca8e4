"""The one sweep engine: many members of the same shape trained as one compiled program.

An :class:`Algorithm` says how to initialise, train and evaluate *one* member. The engine
vmaps it over members, scans it over a chunk of batches, puts the data on the device once,
and hands control back to Python only between chunks (for progress, live plots and Stop).

A member whose loss turns NaN/inf is flagged ``diverged`` (sticky); members are independent
under vmap, so every other member trains on unaffected.

With more than one local device (several GPUs, or CPU devices made with
``XLA_FLAGS=--xla_force_host_platform_device_count=N``) the member axis is sharded over a 1-D
mesh named ``members``: each device trains its share of the members, the data is replicated.
When the members do not divide evenly, the last member is repeated as padding; padded members
train like the others (same seed, same hyperparameters) and are cut off before anything is
returned.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

Carry = Any
Metrics = dict[str, Array]
# per-member hyperparameters: a pytree (a dict, a NamedTuple...) of arrays with a member axis
HP = Any


class Algorithm(Protocol):
    """How to train one member. Implementations are frozen, hashable dataclasses whose fields
    are static configuration (architecture, loss type, inference steps...): two equal
    algorithms share one compiled program. ``hp`` is one member's hyperparameters: a pytree
    (a dict or a NamedTuple of typed scalars) that varies inside the program."""

    def init(self, key: PRNGKeyArray, hp: HP) -> Carry:
        """One member's training state (parameters, optimiser state, ...)."""

    def train_step(
        self,
        carry: Carry,
        hp: HP,
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ) -> tuple[Carry, Metrics]:
        """One optimisation step on one batch. Metrics must hold a scalar ``loss``."""

    def evaluate(
        self, carry: Carry, hp: HP, x: Float[Array, "batch ..."], y: Int[Array, " batch"]
    ) -> Metrics:
        """Per-example metrics, each of shape ``(batch,)``; the engine averages them."""


@dataclass
class EpochRecord:
    epoch: int  # 1-based
    train: dict[str, np.ndarray]  # step metrics averaged over the epoch, leading axis = member
    last_step: dict[str, np.ndarray]  # step metrics of the epoch's last batch
    evals: dict[str, dict[str, np.ndarray]]  # split -> metric -> (member,)
    diverged: np.ndarray  # (member,) bool, as of the end of this epoch
    seconds: float  # wall time of the epoch's training (excluding evaluation)


@dataclass
class Progress:
    steps_done: int
    steps_total: int
    epoch: int
    elapsed_s: float
    history: list[EpochRecord]

    @property
    def fraction(self) -> float:
        return self.steps_done / max(self.steps_total, 1)

    @property
    def eta_s(self) -> float | None:
        if self.steps_done == 0:
            return None
        return self.elapsed_s / self.steps_done * (self.steps_total - self.steps_done)


@dataclass
class TrainResult:
    history: list[EpochRecord]
    diverged: np.ndarray
    carry: Carry  # final state, stacked over members
    stopped: bool
    steps_per_epoch: int
    compile_s: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    devices: int = 1  # devices the member axis was sharded over
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, see PHASES


# Where a run's wall time goes (TrainResult.timings): the data, keys and initial parameters put
# on the device, tracing and lowering the programs to XLA,
# compiling them (or loading them from the persistent cache), training chunks, evaluating, the
# epoch hook (e.g. snapshots of latents), the progress callback (live frames) and the rest.
PHASES = ("init", "trace", "compile", "train", "evaluate", "hook", "progress", "other")


MEMBER_AXIS = "members"
# What train_members does in this context (compile only, record runs). Context variables, not
# thread-locals: a sweep that trains groups side by side copies its context into its threads.
_COMPILE_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("compile_only", default=False)
_RECORDS: contextvars.ContextVar[list | None] = contextvars.ContextVar("records", default=None)


@contextlib.contextmanager
def compile_only():
    """While this block runs (in this context), :func:`train_members` gets every program of its
    run ready (traced, lowered, compiled or loaded from the persistent cache) and trains nothing:
    it returns one epoch whose metrics are those of the initial state, evaluated and passed to
    the epoch hook as after a real epoch (so their programs are ready too). A runner called
    inside it runs its own later steps (sampling, scoring, ...) on the untrained state, which
    gets their programs ready as well: the dashboard warms up every page's default run this way
    before anyone presses Train."""
    token = _COMPILE_ONLY.set(True)
    try:
        yield
    finally:
        _COMPILE_ONLY.reset(token)


@dataclass
class RunRecord:
    """One :func:`train_members` call, as :func:`recording` keeps it: what it trained and its
    :class:`TrainResult` (``timings`` says where the time went)."""

    algo: Algorithm
    hp: HP  # every member's, as given
    seeds: np.ndarray
    x_shape: tuple[int, ...]
    batch_size: int
    result: TrainResult


@contextlib.contextmanager
def recording() -> Iterator[list[RunRecord]]:
    """Yields a list that gets a :class:`RunRecord` for every :func:`train_members` call made in
    this context while the block runs (benchmarks read where the time of a whole sweep went)."""
    records: list[RunRecord] = []
    token = _RECORDS.set(records)
    try:
        yield records
    finally:
        _RECORDS.reset(token)


def member_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh | None:
    """A 1-D mesh named ``members`` over ``devices`` (default: every local device), or None
    when there is only one device: then nothing is sharded and nothing padded."""
    devices = list(devices) if devices is not None else jax.local_devices()
    if len(devices) < 2:
        return None
    return Mesh(np.asarray(devices), (MEMBER_AXIS,))


def padded_count(n_members: int, mesh: Mesh | None) -> int:
    """Members the compiled programs see: ``n_members`` rounded up to a multiple of the mesh."""
    return n_members if mesh is None else -(-n_members // mesh.size) * mesh.size


def _place(tree, mesh: Mesh | None, spec: PartitionSpec):
    """``device_put`` every array leaf: split along the member axis (``spec`` = P("members")) or
    replicated (``spec`` = P()) over ``mesh``; plain ``device_put`` without a mesh."""
    target = None if mesh is None else NamedSharding(mesh, spec)
    return jax.tree_util.tree_map(
        lambda v: jax.device_put(v, target) if eqx.is_array_like(v) else v, tree
    )


def _take_members(tree, idx: np.ndarray):
    """The members ``idx`` of every array leaf of a stacked tree (static leaves kept)."""
    return jax.tree_util.tree_map(lambda v: v[idx] if eqx.is_array(v) else v, tree)


@eqx.filter_jit
def _init_members(algo: Algorithm, keys: PRNGKeyArray, hp: HP) -> Carry:
    return eqx.filter_vmap(algo.init)(keys, hp)


@eqx.filter_jit
def _train_chunk(
    state: tuple[Carry, Array, dict[str, Array]],
    static: Carry,
    algo: Algorithm,
    hp: HP,
    x: Array,
    y: Array,
    perms: Int[Array, "member n"],
    step_keys: PRNGKeyArray,
    first_step: Int[Array, ""],
    batch_size: int,
    chunk_steps: int,
    steps_in_epoch: Int[Array, ""],
    ragged: bool,
    blocks: int = 1,
):
    """Runs ``chunk_steps`` batches for every member. When the chunk length does not divide
    the epoch (``ragged``), steps past the end of the epoch are skipped with a non-batched
    ``lax.cond``; otherwise there is no branch in the loop at all.

    ``blocks > 1``: the members are cut into that many equal blocks, and each block runs all
    ``chunk_steps`` before the next starts (members are independent, so the order of the loops
    does not matter). A block's parameters and optimiser state then stay in the CPU's caches
    from one step to the next instead of streaming every member's through memory at every step
    (see :func:`member_blocks`; the results equal those of one block up to float rounding)."""

    def member_step(dynamic, hp_m, perm_m, key_m, diverged_m, step):
        # Members are independent under vmap, so a diverged member's NaNs cannot reach the
        # others; its flag is sticky and its metrics are reported as NaN.
        idx = jax.lax.dynamic_slice_in_dim(perm_m, step * batch_size, batch_size)
        new_carry, metrics = algo.train_step(
            eqx.combine(dynamic, static), hp_m, x[idx], y[idx], key_m
        )
        now_diverged = diverged_m | ~jnp.isfinite(metrics["loss"])
        return eqx.filter(new_carry, eqx.is_array), metrics, now_diverged

    def run_block(members):
        hp_b, perms_b, keys_b, *loop = members

        def run(loop, step):
            carry, diverged, total, _ = loop
            keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(keys_b)
            carry, metrics, diverged = jax.vmap(member_step, in_axes=(0, 0, 0, 0, 0, None))(
                carry, hp_b, perms_b, keys, diverged, step
            )
            return carry, diverged, jax.tree_util.tree_map(jnp.add, total, metrics), metrics

        def body(loop, i):
            step = first_step + i
            if not ragged:
                return run(loop, step), None
            return jax.lax.cond(
                step < steps_in_epoch, lambda c: run(c, step), lambda c: c, loop
            ), None

        return jax.lax.scan(body, tuple(loop), jnp.arange(chunk_steps))[0]

    carry, diverged, sums = state
    members = (hp, perms, step_keys, carry, diverged, sums["sum"], sums["last"])
    if blocks == 1:
        carry, diverged, total, last = run_block(members)
    else:
        cut = jax.tree_util.tree_map(
            lambda v: v.reshape(blocks, v.shape[0] // blocks, *v.shape[1:]), members
        )
        out = jax.lax.map(run_block, cut)
        carry, diverged, total, last = jax.tree_util.tree_map(
            lambda v: v.reshape(-1, *v.shape[2:]), out
        )
    steps = first_step + jnp.arange(chunk_steps)
    count = sums["count"] + (jnp.sum(steps < steps_in_epoch) if ragged else chunk_steps)
    return carry, diverged, {"count": count.astype(sums["count"].dtype), "sum": total, "last": last}


@eqx.filter_jit
def _evaluate(
    algo: Algorithm,
    dynamic: Carry,
    static: Carry,
    hp: HP,
    xb: Array,
    yb: Array,
    segb: Array,
    n_segments: int,
    block: int,
):
    """Per-split sums of the per-example metrics for every member: ``(member, split)`` each.

    Every split is evaluated by this one program (one compile, one call per epoch, whatever the
    split sizes): the splits are concatenated, padded and cut into fixed-size batches on the host
    (see :class:`_EvalPlan`); ``segb`` names each example's split, padding has id ``n_segments``
    and counts nowhere. Batches keep memory bounded on large sets; members are evaluated
    ``block`` at a time (:func:`eval_block`, :func:`map_members`)."""

    def one_batch(args):
        xi, yi, si = args
        metrics = map_members(
            lambda dh: algo.evaluate(eqx.combine(dh[0], static), dh[1], xi, yi),
            (dynamic, hp),
            block,
        )
        return jax.tree_util.tree_map(
            lambda v: jnp.stack(
                [jnp.sum(jnp.where(si == s, v, 0.0), axis=-1) for s in range(n_segments)], axis=-1
            ),
            metrics,
        )

    sums = jax.lax.map(one_batch, (xb, yb, segb))
    return jax.tree_util.tree_map(lambda s: jnp.sum(s, axis=0), sums)


@dataclass(frozen=True)
class _EvalPlan:
    """The evaluation splits as one padded, batched set on the device."""

    names: tuple[str, ...]
    counts: tuple[int, ...]
    xb: Array  # (batches, batch, ...)
    yb: Array  # (batches, batch)
    segb: Array  # (batches, batch): index into ``names``; ``len(names)`` marks padding

    @staticmethod
    def build(
        eval_sets: Mapping[str, tuple[Any, Any]] | None, eval_batch: int, mesh: Mesh | None = None
    ) -> _EvalPlan | None:
        sets = [
            (k, np.asarray(v[0]), np.asarray(v[1], dtype=np.int32))
            for k, v in (eval_sets or {}).items()
        ]
        sets = [s for s in sets if s[1].shape[0] > 0]
        if not sets:
            return None
        counts = tuple(s[1].shape[0] for s in sets)
        total = sum(counts)
        batch = max(1, min(eval_batch, total))
        n_batches = -(-total // batch)
        pad = n_batches * batch - total
        x0 = sets[0][1]
        x = np.concatenate([s[1] for s in sets] + [np.zeros((pad, *x0.shape[1:]), x0.dtype)])
        y = np.concatenate([s[2] for s in sets] + [np.zeros(pad, np.int32)])
        seg = np.concatenate(
            [np.full(c, i, np.int32) for i, c in enumerate(counts)]
            + [np.full(pad, len(sets), np.int32)]
        )
        batched = (
            x.reshape(n_batches, batch, *x.shape[1:]),
            y.reshape(n_batches, batch),
            seg.reshape(n_batches, batch),
        )
        return _EvalPlan(tuple(s[0] for s in sets), counts, *_place(batched, mesh, PartitionSpec()))

    def args(self) -> tuple[Array, Array, Array, int]:
        return self.xb, self.yb, self.segb, len(self.names)

    def split(self, sums: Mapping[str, Array], n_members: int) -> dict[str, dict[str, np.ndarray]]:
        """Means per split from :func:`_evaluate`'s sums, for the first ``n_members`` (the rest
        is padding)."""
        host = {k: np.asarray(v)[:n_members] for k, v in sums.items()}
        return {
            name: {k: v[:, i] / count for k, v in host.items()}
            for i, (name, count) in enumerate(zip(self.names, self.counts, strict=True))
        }


@functools.partial(jax.jit, static_argnums=2)
def _permutations(keys: PRNGKeyArray, epoch: Int[Array, ""], n: int) -> Int[Array, "member n"]:
    """Each member's order of the training set for ``epoch``."""
    return jax.vmap(lambda k: jax.random.permutation(jax.random.fold_in(k, epoch), n))(keys)


@eqx.filter_jit
def _zeros_like_metrics(algo, dynamic, static, hp, x, y, keys, batch_size):
    """Zeros shaped like one step's metrics, for the running sums. Jitted so that the shape
    inference is cached like any other program (no extra trace per run)."""

    def one(d, h, k):
        return algo.train_step(eqx.combine(d, static), h, x[:batch_size], y[:batch_size], k)[1]

    shapes = jax.eval_shape(lambda d, h, k: jax.vmap(one)(d, h, k), dynamic, hp, keys)
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def default_chunk_steps(steps_per_epoch: int, target: int = 64) -> int:
    """Steps per compiled chunk: a divisor of the epoch near ``target`` when there is one (no
    branch in the loop), else ``target`` with the tail of the epoch skipped by a branch.
    Small enough that the UI hears back often, large enough that dispatch is negligible."""
    if steps_per_epoch <= target:
        return steps_per_epoch
    best = max(d for d in range(1, target + 1) if steps_per_epoch % d == 0)
    return best if best * 4 >= target else target


@eqx.filter_jit
def _member_keys(seeds: Int[Array, " member"]) -> tuple[PRNGKeyArray, PRNGKeyArray, PRNGKeyArray]:
    """Each member's initialisation, data-order and step keys, from its seed (one program)."""
    root = jax.vmap(jax.random.PRNGKey)(seeds)
    init, order, step = (jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(root) for i in range(3))
    return init, order, step


def member_init_keys(seeds: np.ndarray) -> PRNGKeyArray:
    """The initialisation keys that :func:`train_members` gives members of these seeds (for a
    caller that builds their initial state itself, as ``init_carry``)."""
    return _member_keys(jax.device_put(np.asarray(seeds, dtype=np.uint32)))[0]


def _scalar(value: int) -> Array:
    # Host values go to the device with device_put: jnp.asarray/jnp.zeros would each compile a
    # small program (one more persistent-cache lookup per process), and every call site must pass
    # the same kind of value or the jit caches would not be shared with precompile().
    return jax.device_put(np.int32(value))


# Bytes of training state (parameters and optimiser state, the carry) that one block of members
# may hold so that it stays in the CPU's caches from one step to the next (here 1 MiB of L2 per
# core, 32 MiB of L3 shared by both lanes of pcdash.sweep); members are cut into blocks only when
# their state exceeds twice this. Measured with benchmarks/bench_blocks.py (digits, FC-Medium,
# batch 16, the Latent dimension page's 120 members as two parts of 60 trained side by side):
# member-steps/s relative to no blocking, 1 member a block 1.66x, 2: 2.09x, 3: 2.15x, 4: 2.06x
# (this budget's pick), 6: 1.99x, 10: 1.58x, 12: 1.42x. The earlier 12 MiB budget (10 members a
# block) was best for one lane alone; two lanes' blocks of that size evict each other from L3.
BLOCK_BYTES = 5 * 2**20


def _member_bytes(carry: Carry, n_members: int) -> float:
    """Bytes of one member's share of a stacked state."""
    total = sum(v.nbytes for v in jax.tree_util.tree_leaves(carry) if eqx.is_array(v))
    return total / max(n_members, 1)


# Bytes of state per block of members in a forward pass over whole splits (evaluation, the CRE
# sweep's snapshots): vmapping every member at once streams every member's activations through
# memory (the Latent dimension page's 60-member parts: 503 examples × 616 units × 60 members =
# 74 MB per layer). Measured (digits, FC-Medium, 60 members, 503 examples): all at once 99 ms;
# 1 member a block 44 ms, 2: 29 ms, 4: 31 ms, 8: 45 ms. A CRE member's state is 1.4 MB: 2 a block.
EVAL_BLOCK_BYTES = 3 * 2**20


def eval_block(carry: Carry, n_members: int, budget: int | None = None) -> int:
    """Members a forward pass over a whole split takes at a time (:func:`map_members`): as many
    as keep their state within ``budget`` (default :data:`EVAL_BLOCK_BYTES`), at least one."""
    budget = EVAL_BLOCK_BYTES if budget is None else budget
    return int(max(1, min(n_members, budget // max(_member_bytes(carry, n_members), 1))))


def map_members(f: Callable[[Any], Any], members: Any, block: int) -> Any:
    """``jax.vmap(f)(members)`` (leading axis: members), ``block`` members at a time."""
    n = jax.tree_util.tree_leaves(members)[0].shape[0]
    if block >= n:
        return jax.vmap(f)(members)
    return jax.lax.map(f, members, batch_size=block)


def member_blocks(carry: Carry, n_members: int, budget: int | None = None) -> int:
    """How many equal blocks :func:`_train_chunk` cuts ``n_members`` stacked members into: the
    fewest whose block's state, ``s × bytes(carry) / n_members`` for ``s`` members a block, is
    at most ``budget`` (default :data:`BLOCK_BYTES`), with ``s`` dividing ``n_members``. One
    block (no blocking) when the whole state is at most ``2 × budget``, or when a block would
    hold fewer than 2 members (a member too large for the cache gains
    nothing, and single members lose the batching across members)."""
    budget = BLOCK_BYTES if budget is None else budget
    per_member = _member_bytes(carry, n_members)
    if n_members * per_member <= 2 * budget:
        return 1
    size = max(
        (s for s in range(1, n_members + 1) if n_members % s == 0 and s * per_member <= budget),
        default=1,
    )
    return 1 if size < 2 else n_members // size


@dataclass
class _Plan:
    """Everything :func:`train_members` passes to the compiled programs, built once, so that
    :func:`precompile` lowers exactly the programs a later training run calls."""

    algo: Algorithm
    hp: HP
    n_members: int  # real members; the programs see ``n_padded`` (see :func:`padded_count`)
    n_padded: int
    mesh: Mesh | None
    x: Array
    y: Array
    batch_size: int
    steps_per_epoch: int
    chunk: int
    evals: _EvalPlan | None
    init_keys: PRNGKeyArray
    data_keys: PRNGKeyArray
    step_keys: PRNGKeyArray
    blocks: int = 1  # member blocks of the training chunk (see _train_chunk, member_blocks)
    eval_block: int = 1  # members evaluated at a time (see _evaluate, eval_block)

    @property
    def chunks_per_epoch(self) -> int:
        return -(-self.steps_per_epoch // self.chunk)

    @property
    def ragged(self) -> bool:
        return self.steps_per_epoch % self.chunk != 0

    def initial_state(self, init_carry: Carry | None):
        if init_carry is None:
            carry = _init_members(self.algo, self.init_keys, self.hp)
        else:
            carry = self.pad(init_carry)
        carry, static = eqx.partition(carry, eqx.is_array)
        if self.mesh is None:  # a member-sharded state is not cut further
            self.blocks = member_blocks(carry, self.n_padded)
            self.eval_block = eval_block(carry, self.n_padded)
        else:
            self.eval_block = self.n_padded
        zero_metrics = _zeros_like_metrics(
            self.algo, carry, static, self.hp, self.x, self.y, self.step_keys, self.batch_size
        )
        diverged = np.zeros(self.n_padded, bool)
        if self.mesh is None:
            return carry, static, jax.device_put(diverged), zero_metrics
        carry, diverged, zero_metrics = _place(
            (carry, diverged, zero_metrics), self.mesh, PartitionSpec(MEMBER_AXIS)
        )
        return carry, static, diverged, zero_metrics

    def pad(self, stacked: Carry) -> Carry:
        """A stacked tree of ``n_members`` extended to ``n_padded`` by repeating the last member."""
        if self.n_padded == self.n_members:
            return stacked
        return _take_members(stacked, np.minimum(np.arange(self.n_padded), self.n_members - 1))

    def unpad(self, stacked: Carry) -> Carry:
        """The real members of a stacked tree (the padding cut off)."""
        if self.n_padded == self.n_members:
            return stacked
        return _take_members(stacked, np.arange(self.n_members))

    def host(self, values: Array) -> np.ndarray:
        """Per-member values on the host, padding cut off."""
        return np.asarray(values)[: self.n_members]

    def permutations(self, epoch: int) -> Array:
        return _permutations(self.data_keys, _scalar(epoch), self.x.shape[0])

    def chunk_args(self, state, static, perms, c: int) -> tuple:
        return (
            state,
            static,
            self.algo,
            self.hp,
            self.x,
            self.y,
            perms,
            self.step_keys,
            _scalar(c * self.chunk),
            self.batch_size,
            self.chunk,
            _scalar(self.steps_per_epoch),
            self.ragged,
            self.blocks,
        )

    def compile(self, state, static, perms) -> tuple[float, float]:
        """Trace and lower the training chunk and the evaluation, then compile them (or load
        them from the persistent compilation cache; nothing when this process has them already).
        Returns the seconds of each step: ``(trace, compile)``."""
        t0 = time.perf_counter()
        # equinox's filter_jit wrapper has .lower; its stubs type it as the wrapped function
        lowered = [_train_chunk.lower(*self.chunk_args(state, static, perms, 0))]  # type: ignore[attr-defined]
        if self.evals is not None:
            lowered.append(
                _evaluate.lower(  # type: ignore[attr-defined]  # as _train_chunk.lower above
                    self.algo, state[0], static, self.hp, *self.evals.args(), self.eval_block
                )
            )
        t1 = time.perf_counter()
        for program in lowered:
            program.lowered.compile()
        return t1 - t0, time.perf_counter() - t1

    def evaluate(self, carry, static) -> dict[str, dict[str, np.ndarray]]:
        if self.evals is None:
            return {}
        return self.evals.split(
            _evaluate(self.algo, carry, static, self.hp, *self.evals.args(), self.eval_block),
            self.n_members,
        )


def member_hyperparameters(hp: HP, n_members: int) -> HP:
    """``hp`` with every leaf a NumPy array of ``n_members`` values: floating leaves as float32,
    integer leaves as int32 (a categorical hyperparameter stays an integer), booleans as they
    are."""

    def one(path, v):
        v = np.asarray(v)
        if v.shape != (n_members,):
            name = jax.tree_util.keystr(path)
            raise ValueError(f"hyperparameter {name} has shape {v.shape}, expected ({n_members},)")
        if np.issubdtype(v.dtype, np.floating):
            return v.astype(np.float32)
        if np.issubdtype(v.dtype, np.integer):
            return v.astype(np.int32)
        return v

    return jax.tree_util.tree_map_with_path(one, hp)


def _plan(
    algo, hp, seeds, x_train, y_train, batch_size, eval_sets, chunk_steps, eval_batch, devices=None
) -> _Plan:
    seeds = np.asarray(seeds, dtype=np.uint32)
    n_members = len(seeds)
    if n_members == 0:
        raise ValueError("no members to train")
    hp = member_hyperparameters(hp, n_members)
    mesh = member_mesh(devices)
    n_padded = padded_count(n_members, mesh)
    if n_padded > n_members:  # padding repeats the last member: same seed, same hyperparameters
        fill = np.minimum(np.arange(n_padded), n_members - 1)
        seeds, hp = seeds[fill], jax.tree_util.tree_map(lambda v: v[fill], hp)
    if mesh is None:
        x = x_train if isinstance(x_train, jax.Array) else jax.device_put(np.asarray(x_train))
        y = jax.device_put(np.asarray(y_train, dtype=np.int32))
        hp, seeds = jax.tree_util.tree_map(jax.device_put, hp), jax.device_put(seeds)
    else:
        x, y = _place((x_train, np.asarray(y_train, dtype=np.int32)), mesh, PartitionSpec())
        hp, seeds = _place((hp, seeds), mesh, PartitionSpec(MEMBER_AXIS))
    n = x.shape[0]
    steps_per_epoch = n // batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"batch size {batch_size} is larger than the training set ({n})")
    chunk = int(chunk_steps or default_chunk_steps(steps_per_epoch))
    keys = _member_keys(seeds)
    return _Plan(
        algo,
        hp,
        n_members,
        n_padded,
        mesh,
        x,
        y,
        batch_size,
        steps_per_epoch,
        chunk,
        _EvalPlan.build(eval_sets, eval_batch, mesh),
        *keys,
    )


def precompile(
    algo: Algorithm,
    hp: HP,
    seeds: np.ndarray,
    x_train: np.ndarray | Array,
    y_train: np.ndarray | Array,
    *,
    batch_size: int,
    eval_sets: Mapping[str, tuple[np.ndarray | Array, np.ndarray | Array]] | None = None,
    chunk_steps: int | None = None,
    eval_batch: int = 1024,
    init_carry: Carry | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Carry:
    """Get every program that :func:`train_members` with these arguments runs ready in this
    process (traced, lowered and compiled, or loaded from the persistent compilation cache)
    without training: a later ``train_members`` call of the same shapes starts computing at once.
    A server calls this in the background before anyone presses Train. Returns the initial
    state, stacked over members (for callers that compile programs of their own on it)."""
    plan = _plan(
        algo, hp, seeds, x_train, y_train, batch_size, eval_sets, chunk_steps, eval_batch, devices
    )
    carry, static, diverged, zero_metrics = plan.initial_state(init_carry)
    sums = {"count": _scalar(0), "sum": zero_metrics, "last": zero_metrics}
    plan.compile((carry, diverged, sums), static, plan.permutations(1))
    return plan.unpad(eqx.combine(carry, static))


def train_members(
    algo: Algorithm,
    hp: HP,
    seeds: np.ndarray,
    x_train: np.ndarray | Array,
    y_train: np.ndarray | Array,
    *,
    epochs: int,
    batch_size: int,
    eval_sets: Mapping[str, tuple[np.ndarray | Array, np.ndarray | Array]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    chunk_steps: int | None = None,
    eval_batch: int = 1024,
    init_carry: Carry | None = None,
    epoch_hook: Callable[[Carry, EpochRecord], None] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> TrainResult:
    """Train every member of ``hp``/``seeds`` together.

    Args:
        algo: how one member is initialised, trained and evaluated.
        hp: per-member hyperparameters, a pytree whose leaves have shape ``(member,)``
            (floats become float32, integers int32: see :func:`member_hyperparameters`).
        seeds: ``(member,)`` integer seeds; a member's seed sets its initialisation and the
            order in which it sees the data.
        x_train, y_train: the training set; moved to the device once.
        epochs, batch_size: the schedule; the last incomplete batch of an epoch is dropped.
        eval_sets: split name -> (x, y), evaluated on every member after every epoch (all
            splits by one compiled program).
        on_progress: called between chunks (and after each epoch's evaluation).
        should_stop: polled between chunks; when it returns True training ends cleanly with
            the epochs completed so far.
        init_carry: resume from this stacked state instead of initialising.
        epoch_hook: called after each epoch with the current carry (e.g. to snapshot latents).
        devices: the devices the member axis is sharded over (default: every local device;
            one device shards nothing). Results do not depend on it beyond float rounding.

    Returns:
        A :class:`TrainResult` whose history holds one :class:`EpochRecord` per finished epoch.
    """
    t_start = time.perf_counter()
    timings = dict.fromkeys(PHASES, 0.0)
    plan = _plan(
        algo, hp, seeds, x_train, y_train, batch_size, eval_sets, chunk_steps, eval_batch, devices
    )
    steps_per_epoch, chunk = plan.steps_per_epoch, plan.chunk

    t0 = time.perf_counter()
    carry, static, diverged, zero_metrics = plan.initial_state(init_carry)
    zero_count = _scalar(0)
    timings["init"] = time.perf_counter() - t_start
    history: list[EpochRecord] = []
    total_steps = epochs * steps_per_epoch
    steps_done = 0
    stopped = False

    def timed(phase: str, fn: Callable[..., Any]) -> Any:
        t = time.perf_counter()
        value = fn()
        timings[phase] += time.perf_counter() - t
        return value

    def report(epoch: int) -> None:
        if on_progress is not None:
            timed(
                "progress",
                lambda: on_progress(
                    Progress(steps_done, total_steps, epoch, time.perf_counter() - t0, history)
                ),
            )

    if _COMPILE_ONLY.get():
        epochs = 0
        state = (carry, diverged, {"count": zero_count, "sum": zero_metrics, "last": zero_metrics})
        timings["trace"], timings["compile"] = plan.compile(state, static, plan.permutations(1))
        zeros = {k: plan.host(v) for k, v in zero_metrics.items()}
        record = EpochRecord(
            1, zeros, zeros, plan.evaluate(carry, static), plan.host(diverged), 0.0
        )
        history.append(record)
        if epoch_hook is not None:
            epoch_hook(plan.unpad(eqx.combine(carry, static)), record)

    for epoch in range(1, epochs + 1):
        perms = plan.permutations(epoch)
        state = (carry, diverged, {"count": zero_count, "sum": zero_metrics, "last": zero_metrics})
        t_epoch = time.perf_counter()
        for c in range(plan.chunks_per_epoch):
            if should_stop is not None and should_stop():
                stopped = True
                break
            if epoch == 1 and c == 0:  # compiled before the clock of the first epoch starts
                timings["trace"], timings["compile"] = plan.compile(state, static, perms)
                t_epoch = time.perf_counter()
            state = timed(
                "train",
                lambda state=state, c=c, perms=perms: jax.block_until_ready(
                    _train_chunk(*plan.chunk_args(state, static, perms, c))
                ),
            )
            steps_done = (epoch - 1) * steps_per_epoch + min((c + 1) * chunk, steps_per_epoch)
            report(epoch)
        carry, diverged, sums = state
        if stopped:
            break
        seconds = time.perf_counter() - t_epoch
        count = int(sums["count"])
        train = {k: plan.host(v) / count for k, v in sums["sum"].items()}
        last = {k: plan.host(v) for k, v in sums["last"].items()}
        evals = timed("evaluate", lambda carry=carry: plan.evaluate(carry, static))
        record = EpochRecord(epoch, train, last, evals, plan.host(diverged), seconds)
        history.append(record)
        if epoch_hook is not None:
            timed(
                "hook",
                lambda carry=carry, record=record: epoch_hook(
                    plan.unpad(eqx.combine(carry, static)), record
                ),
            )
        report(epoch)

    n_devices = 1 if plan.mesh is None else plan.mesh.size
    timings["other"] = max(0.0, time.perf_counter() - t_start - sum(timings.values()))
    result = TrainResult(
        history,
        plan.host(diverged),
        plan.unpad(eqx.combine(carry, static)),
        stopped,
        steps_per_epoch,
        timings["trace"] + timings["compile"],
        devices=n_devices,
        timings=timings,
    )
    records = _RECORDS.get()
    if records is not None:
        records.append(
            RunRecord(
                algo,
                jax.tree_util.tree_map(np.asarray, hp),
                np.asarray(seeds),
                tuple(np.shape(x_train)),
                batch_size,
                result,
            )
        )
    return result


def all_finite(*trees) -> Bool[Array, ""]:
    """True when every leaf of every pytree is finite. A train step that sets its ``loss`` to
    NaN unless its new parameters (and states) are all finite gets the member flagged diverged
    in the step where it blew up, not only from the next forward pass on."""
    finite = jnp.bool_(True)
    for leaf in jax.tree_util.tree_leaves(trees):
        finite = finite & jnp.all(jnp.isfinite(leaf))
    return finite


def member_slice(carry: Carry, i: int) -> Carry:
    """Member ``i`` of a stacked state."""
    return jax.tree_util.tree_map(lambda v: v[i] if eqx.is_array(v) else v, carry)
