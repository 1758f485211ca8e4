"""Inference: the free states ``h`` descend the energy while the weights stay fixed (PCX paper,
Eq. 2-3).

Each example's states follow its own energy: ``h_l ← h_l − γ ∂F^{(n)}/∂h_l`` (through the state
optimiser of :func:`~pcdash.pcn.optimizers.state_optimizer`), with
``∂F/∂h_l = ε_l − (∂μ_{l+1}/∂h_l)ᵀ ε_{l+1}`` and ``ε_l = h_l − μ_l``, so γ does not depend on
the batch size. The reported energies are batch averages.

One relaxation serves every model: :func:`relax` runs a fixed number of steps and
:func:`relax_to_convergence` stops once every layer's energy has settled; both take the energy
as a function of the free states (which states are free, and which are clamped, is the
caller's closure, and ``clamp`` can pin parts of a free state after each step). The
discriminative helpers below (:func:`inference`, :func:`converged_inference`,
:func:`relax_steps`) clamp ``h_0 = x`` and ``h_L = target`` and relax the hidden states.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from pcdash.pcn.energies import example_energies
from pcdash.pcn.network import MLP, forward_pass, layer_prediction
from pcdash.pcn.optimizers import state_optimizer

Hidden = tuple[Float[Array, "batch _"], ...]
STATE_INITS = ("forward", "zero", "gaussian")  # PCX §5.1, Fig. 6a
GAUSSIAN_INIT_STD = (
    1.0  # h_l^{(0)} ~ N(0, I): the unit Gaussian prior of Whittington & Bogacz (2017)
)
# free states -> (F^{(n)} per example, what the trace records: e.g. per-layer batch means)
EnergyFn = Callable[[PyTree], tuple[Float[Array, " batch"], Array]]


def _step(energy_fn: EnergyFn, optimizer: optax.GradientTransformation, clamp):
    def objective(states):
        per_example, record = energy_fn(states)
        return jnp.sum(per_example), record

    def step(states, opt_state):
        (_, record), grads = jax.value_and_grad(objective, has_aux=True)(states)
        updates, opt_state = optimizer.update(grads, opt_state, states)
        states = jax.tree_util.tree_map(jnp.add, states, updates)
        return (states if clamp is None else clamp(states)), opt_state, record

    return step


def relax(
    energy_fn: EnergyFn,
    states: PyTree,
    *,
    optimizer: optax.GradientTransformation,
    steps: int,
    opt_state: optax.OptState | None = None,
    clamp: Callable[[PyTree], PyTree] | None = None,
) -> tuple[PyTree, optax.OptState, Array]:
    """``steps`` optimiser steps on the free ``states``: ``h ← h + opt(∇_h Σ_n F^{(n)}(h))``.

    The gradient of the summed per-example energies is each example's own ``∂F^{(n)}/∂h``.
    ``opt_state`` continues an earlier relaxation (default: a fresh optimiser state), so
    inference can be cut into pieces with weight updates in between; ``clamp`` maps the states
    after every step (e.g. keeps the visible half of an image at its value).

    Returns the new states, the optimiser state and the records of ``energy_fn`` *before* each
    step, stacked: ``(steps, …)``.
    """
    step = _step(energy_fn, optimizer, clamp)

    def body(carry, _):
        h, s = carry
        h, s, record = step(h, s)
        return (h, s), record

    init = optimizer.init(states) if opt_state is None else opt_state
    (states, opt_state), trace = jax.lax.scan(body, (states, init), None, length=steps)
    return states, opt_state, trace


def relax_to_convergence(
    energy_fn: EnergyFn,
    states: PyTree,
    *,
    optimizer: optax.GradientTransformation,
    max_steps: int,
    tol: float,
) -> tuple[PyTree, Float[Array, "steps_plus_1 L"], Int[Array, ""]]:
    """Steps of :func:`relax` until the energy of every layer (the ``(L,)`` record of
    ``energy_fn``) changes by less than ``tol`` relative to itself,
    ``|F_l^{(t)} − F_l^{(t−1)}| ≤ tol · |F_l^{(t−1)}|`` for all ``l``, or ``max_steps`` steps.

    Per layer, not on the total: the first hidden layers' energies are orders of magnitude below
    the output's, so the total stops changing long before they (and their weight gradients)
    have converged (``benchmarks/bench_converged_inference.py`` prints both stopping rules).
    It runs inside the compiled program: a ``lax.while_loop`` whose carry freezes once
    converged, so under ``vmap`` over members each member keeps its own converged states and the
    loop ends when the last member has converged.

    Returns:
        The states, the records ``(max_steps + 1, L)`` (rows after convergence repeat the
        converged energies; the last row is the final states') and the number of state updates
        actually taken.
    """
    step = _step(energy_fn, optimizer, None)
    n_layers = jax.eval_shape(lambda s: energy_fn(s)[1], states).shape[-1]

    def running(c):
        t, _, _, _, _, done = c
        return (t < max_steps) & ~done

    def body(c):
        t, h, s, trace, prev, _ = c
        h_new, s_new, e = step(h, s)
        done = (t > 0) & jnp.all(jnp.abs(e - prev) <= tol * jnp.abs(prev))
        keep = lambda old, new: jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), old, new)  # noqa: E731
        return (
            t + jnp.where(done, 0, 1),
            keep(h, h_new),
            keep(s, s_new),
            trace.at[t].set(e),
            e,
            done,
        )

    trace0 = jnp.zeros((max_steps + 1, n_layers), jnp.float32)
    init = (jnp.int32(0), states, optimizer.init(states), trace0, trace0[0], jnp.bool_(False))
    used, states, _, trace, _, _ = jax.lax.while_loop(running, body, init)
    final = energy_fn(states)[1]
    rows = jnp.arange(max_steps + 1)[:, None]
    return states, jnp.where(rows >= used, final[None, :], trace), used


# --------------------------------------------------------------------------- discriminative


def forward_init(mlp: MLP, x: Float[Array, "batch d_0"]) -> Hidden:
    """Forward initialisation of the free states: ``h_l^{(0)} = μ_l`` for ``l = 1 … L−1``,
    so that every hidden prediction error starts at zero (PCX paper, §5.1)."""
    return forward_pass(mlp, x)[:-1]


def init_states(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    kind: str = "forward",
    *,
    key: PRNGKeyArray | None = None,
) -> Hidden:
    """The free states before inference, ``h^{(0)}`` (PCX paper, §5.1 and Fig. 6a): ``"forward"``
    ``h_l^{(0)} = μ_l`` (:func:`forward_init`), ``"zero"`` ``h_l^{(0)} = 0``, or ``"gaussian"``
    ``h_l^{(0)} ~ N(0, σ² I)`` with ``σ = GAUSSIAN_INIT_STD`` drawn from ``key`` (a fixed key
    when none is given)."""
    if kind == "forward":
        return forward_init(mlp, x)
    shapes = [(x.shape[0], w.shape[0]) for w in mlp.weights[:-1]]
    if kind == "zero":
        return tuple(jnp.zeros(s, x.dtype) for s in shapes)
    if kind == "gaussian":
        keys = jax.random.split(jax.random.PRNGKey(0) if key is None else key, len(shapes))
        return tuple(
            GAUSSIAN_INIT_STD * jax.random.normal(k, s, x.dtype)
            for k, s in zip(keys, shapes, strict=True)
        )
    raise ValueError(f"unknown state initialisation {kind!r}; choose from {', '.join(STATE_INITS)}")


def clamped_energy(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    target: Float[Array, "batch k"],
    *,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
) -> EnergyFn:
    """The energy of the hidden states with ``h_0 = x`` and ``h_L = target`` clamped: per
    example ``F^{(n)}`` and the per-layer batch means ``(F_1, …, F_L)``."""
    mu_1 = layer_prediction(mlp, 1, x)  # h_0 and θ are fixed: μ_1 is the same at every step

    def energy_fn(hidden: Hidden):
        e = example_energies(mlp, (x, *hidden, target), loss=loss, log_var=log_var, mu_1=mu_1)
        return jnp.sum(e, axis=-1), jnp.mean(e, axis=0)

    return energy_fn


def inference(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    target: Float[Array, "batch k"],
    *,
    steps: int,
    state_lr: float | Float[Array, ""],
    optimizer: str = "sgd",
    momentum: float = 0.9,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
    hidden0: Hidden | None = None,
) -> tuple[Hidden, Float[Array, "steps_plus_1 L"]]:
    """``T`` steps of the state optimiser on the hidden states, from ``hidden0`` (default:
    forward initialisation).

    ``h^{(t+1)} = h^{(t)} + opt(∇_h F^{(n)}(h^{(t)}))`` with ``h_0 = x`` and ``h_L = target``
    clamped.

    Args:
        mlp: the weights θ (fixed during inference).
        x: the clamped input.
        target: the clamped output (one-hot label, or a nudged target).
        steps: ``T``, the number of inference steps (static).
        state_lr: γ, the state learning rate (may be a traced scalar).
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        loss: output energy, ``"se"`` or ``"ce"``.
        log_var: per-layer log-variances (trainable precision, see
            :func:`~pcdash.pcn.energies.example_energies`), or None.
        hidden0: the states inference starts from (:func:`init_states`); None: forward.

    Returns:
        The relaxed hidden states ``(h_1, …, h_{L−1})`` and the per-layer energies
        ``F_l(h^{(t)})`` for ``t = 0 … T``, shape ``(T + 1, L)``.
    """
    energy_fn = clamped_energy(mlp, x, target, loss=loss, log_var=log_var)
    opt = state_optimizer(state_lr, name=optimizer, momentum=momentum)
    start = forward_init(mlp, x) if hidden0 is None else hidden0
    hidden, _, trace = relax(energy_fn, start, optimizer=opt, steps=steps)
    return hidden, jnp.concatenate([trace, energy_fn(hidden)[1][None, :]], axis=0)


def converged_inference(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    target: Float[Array, "batch k"],
    *,
    max_steps: int,
    tol: float,
    state_lr: float | Float[Array, ""],
    optimizer: str = "sgd",
    momentum: float = 0.9,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
    hidden0: Hidden | None = None,
) -> tuple[Hidden, Float[Array, "steps_plus_1 L"], Int[Array, ""]]:
    """Inference run to convergence (:func:`relax_to_convergence`) from ``hidden0`` (default:
    forward initialisation):
    the BP-vs-PC comparison's "standard" PC (its condition 2: inference converged before the
    weights move). Arguments as :func:`inference`; also returns the state updates taken."""
    energy_fn = clamped_energy(mlp, x, target, loss=loss, log_var=log_var)
    opt = state_optimizer(state_lr, name=optimizer, momentum=momentum)
    start = forward_init(mlp, x) if hidden0 is None else hidden0
    return relax_to_convergence(energy_fn, start, optimizer=opt, max_steps=max_steps, tol=tol)


def relax_steps(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    target: Float[Array, "batch k"],
    hidden: Hidden,
    opt_state: optax.OptState,
    *,
    steps: int,
    state_lr: float | Float[Array, ""],
    optimizer: str = "sgd",
    momentum: float = 0.9,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
) -> tuple[Hidden, optax.OptState, Float[Array, "steps L"]]:
    """``steps`` inference steps from the given states and state-optimiser state (so inference
    can be cut into pieces with weight updates in between: relaxed convergence).

    Returns the new states, the optimiser state and the energies *before* each step."""
    energy_fn = clamped_energy(mlp, x, target, loss=loss, log_var=log_var)
    opt = state_optimizer(state_lr, name=optimizer, momentum=momentum)
    return relax(energy_fn, hidden, optimizer=opt, steps=steps, opt_state=opt_state)
