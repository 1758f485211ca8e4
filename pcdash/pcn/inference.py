"""Inference: the states ``h`` descend the energy while the weights stay fixed (PCX paper, Eq. 2-3).

Each example's states follow its own energy: ``h_l ← h_l − γ ∂F^{(n)}/∂h_l`` (through the state
optimiser), with ``∂F/∂h_l = ε_l − (∂μ_{l+1}/∂h_l)ᵀ ε_{l+1}`` and ``ε_l = h_l − μ_l``, so γ does
not depend on the batch size. The reported energies are batch averages.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from pcdash.pcn.energies import layer_energies
from pcdash.pcn.network import MLP, forward_pass, layer_prediction
from pcdash.pcn.optimizers import state_optimizer

Hidden = tuple[Float[Array, "batch _"], ...]
STATE_INITS = ("forward", "zero", "gaussian")  # PCX §5.1, Fig. 6a
GAUSSIAN_INIT_STD = 1.0  # h_l^{(0)} ~ N(0, I): the unit Gaussian prior of Whittington & Bogacz (2017)


def forward_init(mlp: MLP, x: Float[Array, "batch d_0"]) -> Hidden:
    """Forward initialisation of the free states: ``h_l^{(0)} = μ_l`` for ``l = 1 … L−1``,
    so that every hidden prediction error starts at zero (PCX paper, §5.1)."""
    return forward_pass(mlp, x)[:-1]


def init_states(
    mlp: MLP, x: Float[Array, "batch d_0"], kind: str = "forward", *, key: PRNGKeyArray | None = None
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
        return tuple(GAUSSIAN_INIT_STD * jax.random.normal(k, s, x.dtype) for k, s in zip(keys, shapes, strict=True))
    raise ValueError(f"unknown state initialisation {kind!r}; choose from {', '.join(STATE_INITS)}")


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
    """``T`` steps of an optax optimiser on the hidden states, from ``hidden0`` (default: forward
    initialisation).

    ``h^{(t+1)} = h^{(t)} + opt(∇_h F^{(n)}(h^{(t)}))`` with ``h_0 = x`` and ``h_L = target`` clamped.

    Args:
        mlp: the weights θ (fixed during inference).
        x: the clamped input.
        target: the clamped output (one-hot label, or a nudged target).
        steps: ``T``, the number of inference steps (static).
        state_lr: γ, the state learning rate (may be a traced scalar).
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        loss: output energy, ``"se"`` or ``"ce"``.
        log_var: per-layer log-variances (trainable precision, see
            :func:`~pcdash.pcn.energies.layer_energies`), or None.

    Returns:
        The relaxed hidden states ``(h_1, …, h_{L−1})`` and the per-layer energies
        ``F_l(h^{(t)})`` for ``t = 0 … T``, shape ``(T + 1, L)``.
    """
    opt = state_optimizer(optimizer, state_lr, momentum=momentum)
    hidden0 = forward_init(mlp, x) if hidden0 is None else hidden0
    hidden, _, trace = relax_steps(mlp, x, target, hidden0, opt.init(hidden0), steps=steps, state_lr=state_lr,
                                   optimizer=optimizer, momentum=momentum, loss=loss, log_var=log_var)
    final = layer_energies(mlp, x, hidden, target, loss=loss, log_var=log_var)
    return hidden, jnp.concatenate([trace, final[None, :]], axis=0)


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
    """Inference run to convergence: state steps from ``hidden0`` (default: forward
    initialisation) until the energy of
    every layer changes by less than ``tol`` relative to itself,
    ``|F_l^{(t)} − F_l^{(t−1)}| ≤ tol · |F_l^{(t−1)}|`` for all ``l``, or ``max_steps`` steps.

    Per layer, not on the total: the first hidden layers' energies are orders of magnitude below
    the output's, so the total stops changing long before they (and their weight gradients)
    have converged (``benchmarks/bench_converged_inference.py`` prints both stopping rules).

    The BP-vs-PC comparison's "standard" PC (its condition 2: inference converged before the
    weights move). It runs inside the compiled program: a ``lax.while_loop`` whose carry freezes
    once converged, so under ``vmap`` over members each member keeps its own converged states
    and the loop ends when the last member has converged (``benchmarks/converged_inference.py``
    measured this against a fixed-length ``scan`` with a freeze mask).

    Returns:
        The states, the energies ``(max_steps + 1, L)`` (rows after convergence repeat the
        converged energies) and the number of state updates actually taken.
    """
    opt = state_optimizer(optimizer, state_lr, momentum=momentum)
    mu_1 = layer_prediction(mlp, 1, x)
    batch = x.shape[0]
    h0 = forward_init(mlp, x) if hidden0 is None else hidden0
    n_layers = mlp.num_layers

    def per_example_energy(h: Hidden) -> tuple[Float[Array, ""], Float[Array, " L"]]:
        e = layer_energies(mlp, x, h, target, loss=loss, mu_1=mu_1, log_var=log_var)
        return batch * jnp.sum(e), e

    def running(c) -> Bool[Array, ""]:
        t, _, _, _, _, done = c
        return (t < max_steps) & ~done

    def step(c):
        t, h, s, trace, prev, _ = c
        (_, e), grads = jax.value_and_grad(per_example_energy, has_aux=True)(h)
        done = (t > 0) & jnp.all(jnp.abs(e - prev) <= tol * jnp.abs(prev))
        updates, s_new = opt.update(grads, s, h)
        keep = lambda old, new: jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), old, new)  # noqa: E731
        h, s = keep(h, jax.tree_util.tree_map(jnp.add, h, updates)), keep(s, s_new)
        return t + jnp.where(done, 0, 1), h, s, trace.at[t].set(e), e, done

    trace0 = jnp.zeros((max_steps + 1, n_layers), jnp.float32)
    init = (jnp.int32(0), h0, opt.init(h0), trace0, trace0[0], jnp.bool_(False))
    used, hidden, _, trace, _, _ = jax.lax.while_loop(running, step, init)
    final = layer_energies(mlp, x, hidden, target, loss=loss, mu_1=mu_1, log_var=log_var)
    rows = jnp.arange(max_steps + 1)[:, None]
    return hidden, jnp.where(rows >= used, final[None, :], trace), used


def relax_steps(
    mlp: MLP,
    x: Float[Array, "batch d_0"],
    target: Float[Array, "batch k"],
    hidden: Hidden,
    opt_state,
    *,
    steps: int,
    state_lr: float | Float[Array, ""],
    optimizer: str = "sgd",
    momentum: float = 0.9,
    loss: str = "se",
    log_var: Sequence[Float[Array, " _"]] | None = None,
) -> tuple[Hidden, object, Float[Array, "steps L"]]:
    """``steps`` inference steps from the given states and state-optimiser state (so inference
    can be cut into pieces with weight updates in between: iPC, relaxed convergence).

    Returns the new states, the optimiser state and the energies *before* each step."""
    mu_1 = layer_prediction(mlp, 1, x)  # h_0 and θ are fixed: μ_1 is the same at every step
    batch = x.shape[0]
    opt = state_optimizer(optimizer, state_lr, momentum=momentum)

    def per_example_energy(h: Hidden) -> tuple[Float[Array, ""], Float[Array, " L"]]:
        e = layer_energies(mlp, x, h, target, loss=loss, mu_1=mu_1, log_var=log_var)
        return batch * jnp.sum(e), e  # Σ_n F^{(n)}: its gradient is each example's own ∂F^{(n)}/∂h

    def step(carry, _):
        h, s = carry
        (_, e), grads = jax.value_and_grad(per_example_energy, has_aux=True)(h)
        updates, s = opt.update(grads, s, h)
        return (jax.tree_util.tree_map(jnp.add, h, updates), s), e

    (hidden, opt_state), trace = jax.lax.scan(step, (hidden, opt_state), None, length=steps)
    return hidden, opt_state, trace
