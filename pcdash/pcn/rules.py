"""Learning rules of a discriminative PCN, composed of small parts registered by name (PCX
paper, §4 and Appendix B; the BP-vs-PC comparison's relaxed conditions).

A rule (:class:`Rule`) is four choices:

* the **output energy** ``loss``: squared error (``"se"``) or cross-entropy (``"ce"``);
* the **output target** (:data:`TARGETS`) — what ``h_L`` is clamped to, and the sign of the
  weight update: ``"clamp"`` (the label ``y``), ``"nudge+"`` (``μ_L + β (y − μ_L)``, positive
  nudging), ``"nudge-"`` (``μ_L − β (y − μ_L)`` and the update inverted, negative nudging) or
  ``"centred"`` (each epoch ``nudge+`` or ``nudge-``, at random or alternating); ``μ_L`` is the
  forward pass's output and ``β_e = min(1, β_0 + β_ir · e)`` in epoch ``e``;
* the **weight-update schedule** (:data:`SCHEDULES`): ``"after_T"`` (one update after ``T``
  inference steps, or after converged inference), ``"every_k"`` (an update every ``k``
  inference steps from the current states: relaxed convergence) or ``"every_step"`` (incremental
  PC: states and weights updated together at every step, both from the same ``(h^t, θ^t)``);
* the **gradient source** (:data:`GRADIENTS`): ``"pc"`` (``∇_θ F`` at the relaxed states) or
  ``"bp"`` (``∇_θ ℓ(μ_L(x), y)`` by backprop, no inference).

:data:`RULES` names the combinations of the papers: ``pc-se``, ``pc-ce``, ``ipc``, ``pn``,
``nn``, ``cn``, ``bp-se``, ``bp-ce``. Every part is a pure function of a :class:`Context` (the
optimisers and static settings of one training step) and arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.pcn.energies import layer_energies
from pcdash.pcn.gradients import bp_loss_and_gradients, nudged_target, pc_weight_gradients
from pcdash.pcn.inference import clamped_energy, init_states, relax, relax_to_convergence
from pcdash.pcn.network import MLP, forward_pass

LogVar = tuple[Float[Array, " _"], ...]
Params = tuple[MLP, LogVar]  # the weights θ and the log-variances s, learned together
CN_SCHEDULES = ("random", "alternate")


@dataclass(frozen=True)
class Rule:
    """A learning rule: output energy, output target, weight-update schedule, gradient source."""

    loss: str
    target: str
    schedule: str
    gradient: str

    def __post_init__(self) -> None:
        for what, value, allowed in (
            ("output energy", self.loss, ("se", "ce")),
            ("target", self.target, TARGETS),
            ("schedule", self.schedule, SCHEDULES),
            ("gradient source", self.gradient, GRADIENTS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")


@dataclass(frozen=True)
class Context:
    """What the parts of one training step share: the static settings and the member's
    optimisers (built from its hyperparameters)."""

    loss: str
    steps: int  # T: inference steps per batch (at most, with ``tol``)
    state_optimizer: optax.GradientTransformation
    weight_optimizer: optax.GradientTransformation
    precision: bool = False  # the log-variances enter the energy (trainable precision)
    every: int = 1  # k of the "every_k" schedule
    tol: float = 0.0  # > 0: "after_T" stops inference at convergence
    beta0: float = 0.1
    beta_rate: float = 0.1
    cn_schedule: str = "random"
    state_init: str = "forward"  # how the free states start inference (PCX §5.1, Fig. 6a)
    key: PRNGKeyArray | None = None  # the step's key: a Gaussian start draws from it

    def log_var(self, params: Params) -> LogVar | None:
        return params[1] if self.precision else None

    def start(self, mlp: MLP, x: Array) -> tuple[Array, ...]:
        """The states inference starts from (:func:`~pcdash.pcn.inference.init_states`)."""
        return init_states(mlp, x, self.state_init, key=self.key)


class Learned(NamedTuple):
    """What a weight-update schedule returns: the new parameters and optimiser state, the energy
    trace ``(T + 1, L)``, the last energies ``(L,)``, the weight gradient the step applied
    (summed over its updates: the step's direction) and the inference steps taken."""

    params: Params
    opt_state: optax.OptState
    trace: Float[Array, "steps_plus_1 L"]
    energies: Float[Array, " L"]
    direction: MLP
    used: Int[Array, ""]


# --------------------------------------------------------------------------- output targets


def beta(ctx: Context, epoch: Int[Array, ""]) -> Float[Array, ""]:
    """``β_e = min(1, β_0 + β_ir · e)``, the paper's nudging schedule."""
    return jnp.minimum(1.0, ctx.beta0 + ctx.beta_rate * epoch.astype(jnp.float32))


def clamp(ctx, logits, y, epoch, key) -> tuple[Array, Array]:
    """``h_L = y``, the update as it is."""
    return y, jnp.float32(1.0)


def positive_nudge(ctx, logits, y, epoch, key) -> tuple[Array, Array]:
    """``h_L = μ_L + β (y − μ_L)``: the output nudged a fraction β of the way to the label."""
    return nudged_target(logits, y, beta(ctx, epoch)), jnp.float32(1.0)


def negative_nudge(ctx, logits, y, epoch, key) -> tuple[Array, Array]:
    """``h_L = μ_L − β (y − μ_L)``, and the weight update inverted."""
    return nudged_target(logits, y, -beta(ctx, epoch)), jnp.float32(-1.0)


def centred_nudge(ctx, logits, y, epoch, key) -> tuple[Array, Array]:
    """Positive or negative nudging, one per epoch: ``Bernoulli(½)`` drawn from
    ``fold_in(key, e)`` (``cn_schedule="random"``, the paper's rule: reproducible for a seed,
    different across seeds) or PN, NN, PN, … (``"alternate"``)."""
    if ctx.cn_schedule == "alternate":
        sign = jnp.where(epoch % 2 == 0, 1.0, -1.0).astype(jnp.float32)
    else:
        if key is None:
            raise ValueError(
                "centred nudging with the random schedule needs the member's nudge_key"
            )
        sign = jnp.where(jax.random.bernoulli(jax.random.fold_in(key, epoch)), 1.0, -1.0).astype(
            jnp.float32
        )
    return nudged_target(logits, y, sign * beta(ctx, epoch)), sign


TargetFn = Callable[
    [Context, Array, Array, Int[Array, ""], PRNGKeyArray | None], tuple[Array, Array]
]
TARGETS: dict[str, TargetFn] = {
    "clamp": clamp,
    "nudge+": positive_nudge,
    "nudge-": negative_nudge,
    "centred": centred_nudge,
}


# --------------------------------------------------------------------------- weight updates


def pc_gradients(
    ctx: Context, params: Params, x, hidden, target
) -> tuple[tuple[MLP, LogVar], Array]:
    """``(∇_θ F, ∇_s F)`` at the given states and the per-layer energies (zeros for ``s``
    without trainable precision)."""
    mlp, log_var = params
    if ctx.precision:
        return pc_weight_gradients(mlp, x, hidden, target, loss=ctx.loss, log_var=log_var)
    grads, energies = pc_weight_gradients(mlp, x, hidden, target, loss=ctx.loss)
    return (grads, jax.tree_util.tree_map(jnp.zeros_like, log_var)), energies


def _apply(ctx: Context, params: Params, opt_state, grads) -> tuple[Params, optax.OptState]:
    updates, opt_state = ctx.weight_optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _scaled(grads, sign):
    return jax.tree_util.tree_map(lambda g: sign * g, grads)


def after_inference(ctx: Context, params: Params, opt_state, x, target, sign) -> Learned:
    """Inference (``T`` steps, or until converged when ``tol > 0``), then one weight update
    with ``sign · ∇F`` at the relaxed states."""
    mlp = params[0]
    energy_fn = clamped_energy(mlp, x, target, loss=ctx.loss, log_var=ctx.log_var(params))
    if ctx.tol > 0:
        hidden, trace, used = relax_to_convergence(
            energy_fn,
            ctx.start(mlp, x),
            optimizer=ctx.state_optimizer,
            max_steps=ctx.steps,
            tol=ctx.tol,
        )
    else:
        hidden, _, trace = relax(
            energy_fn, ctx.start(mlp, x), optimizer=ctx.state_optimizer, steps=ctx.steps
        )
        trace, used = (
            jnp.concatenate([trace, energy_fn(hidden)[1][None, :]], axis=0),
            jnp.int32(ctx.steps),
        )
    grads, energies = pc_gradients(ctx, params, x, hidden, target)
    grads = _scaled(grads, sign)
    params, opt_state = _apply(ctx, params, opt_state, grads)
    return Learned(params, opt_state, trace, energies, grads[0], used)


def every_k_steps(ctx: Context, params: Params, opt_state, x, target, sign) -> Learned:
    """Relaxed convergence: inference cut into ``T / k`` pieces of ``k`` steps, each followed
    by a weight update from the current states; the states and the state optimiser carry on
    across updates. The trace's last row is the energy before the last weight update."""
    hidden0 = ctx.start(params[0], x)

    def piece(c, _):
        params, opt_state, hidden, sstate, total = c
        energy_fn = clamped_energy(params[0], x, target, loss=ctx.loss, log_var=ctx.log_var(params))
        hidden, sstate, tr = relax(
            energy_fn, hidden, optimizer=ctx.state_optimizer, steps=ctx.every, opt_state=sstate
        )
        grads, energies = pc_gradients(ctx, params, x, hidden, target)
        grads = _scaled(grads, sign)
        params, opt_state = _apply(ctx, params, opt_state, grads)
        total = jax.tree_util.tree_map(jnp.add, total, grads[0])
        return (params, opt_state, hidden, sstate, total), (tr, energies)

    zero = jax.tree_util.tree_map(jnp.zeros_like, params[0])
    init = (params, opt_state, hidden0, ctx.state_optimizer.init(hidden0), zero)
    (params, opt_state, _, _, total), (trs, energies) = jax.lax.scan(
        piece, init, None, length=ctx.steps // ctx.every
    )
    trace = jnp.concatenate([trs.reshape(-1, trs.shape[-1]), energies[-1:]], axis=0)
    return Learned(params, opt_state, trace, energies[-1], total, jnp.int32(ctx.steps))


def every_step(ctx: Context, params: Params, opt_state, x, target, sign) -> Learned:
    """Incremental PC: ``T`` steps, each updating the states and the weights from the same
    ``(h^{(t)}, θ^{(t)})`` — one gradient of ``F`` for both:
    ``h^{(t+1)} = h^{(t)} − γ ∇_h F(h^{(t)}, θ^{(t)})`` and
    ``θ^{(t+1)} = θ^{(t)} − η ∇_θ F(h^{(t)}, θ^{(t)})``
    (through their optimisers)."""
    hidden0 = ctx.start(params[0], x)

    def energies_at(p, h):
        e = layer_energies(p[0], x, h, target, loss=ctx.loss, log_var=ctx.log_var(p))
        return jnp.sum(e), e

    def one(c, _):
        params, opt_state, h, sstate, total = c
        (_, e), (g_params, g_h) = jax.value_and_grad(energies_at, argnums=(0, 1), has_aux=True)(
            params, h
        )
        g_h = jax.tree_util.tree_map(
            lambda g: x.shape[0] * g, g_h
        )  # each example's own ∂F^{(n)}/∂h
        g_params = _scaled(g_params, sign)
        h_updates, sstate = ctx.state_optimizer.update(g_h, sstate, h)
        total = jax.tree_util.tree_map(jnp.add, total, g_params[0])
        params, opt_state = _apply(ctx, params, opt_state, g_params)
        return (params, opt_state, jax.tree_util.tree_map(jnp.add, h, h_updates), sstate, total), e

    zero = jax.tree_util.tree_map(jnp.zeros_like, params[0])
    init = (params, opt_state, hidden0, ctx.state_optimizer.init(hidden0), zero)
    (params, opt_state, hidden, _, total), trace = jax.lax.scan(one, init, None, length=ctx.steps)
    final = energies_at(params, hidden)[1]
    return Learned(
        params,
        opt_state,
        jnp.concatenate([trace, final[None, :]], axis=0),
        final,
        total,
        jnp.int32(ctx.steps),
    )


ScheduleFn = Callable[[Context, Params, optax.OptState, Array, Array, Array], Learned]
SCHEDULES: dict[str, ScheduleFn] = {
    "after_T": after_inference,
    "every_k": every_k_steps,
    "every_step": every_step,
}


# --------------------------------------------------------------------------- gradient sources


def pc_step(ctx: Context, schedule: str, params: Params, opt_state, x, target, sign) -> Learned:
    """Predictive coding: the weights learn from ``∇_θ F`` on the schedule's states."""
    return SCHEDULES[schedule](ctx, params, opt_state, x, target, sign)


def bp_step(ctx: Context, schedule: str, params: Params, opt_state, x, target, sign) -> Learned:
    """Backprop: one update with ``∇_θ ℓ(μ_L(x), y)``; no inference, so the states stay at the
    forward pass (hidden energies zero, the output energy is the loss, at every step)."""
    mlp, log_var = params
    _, grads = bp_loss_and_gradients(mlp, x, target, loss=ctx.loss)
    energies = layer_energies(mlp, x, forward_pass(mlp, x)[:-1], target, loss=ctx.loss)
    new, opt_state = _apply(
        ctx, params, opt_state, (grads, jax.tree_util.tree_map(jnp.zeros_like, log_var))
    )
    trace = jnp.broadcast_to(energies[None, :], (ctx.steps + 1, energies.shape[0]))
    return Learned(new, opt_state, trace, energies, grads, jnp.int32(0))


GradientFn = Callable[[Context, str, Params, optax.OptState, Array, Array, Array], Learned]
GRADIENTS: dict[str, GradientFn] = {"pc": pc_step, "bp": bp_step}

RULES: dict[str, Rule] = {
    "pc-se": Rule("se", "clamp", "after_T", "pc"),
    "pc-ce": Rule("ce", "clamp", "after_T", "pc"),
    "bp-se": Rule("se", "clamp", "after_T", "bp"),
    "bp-ce": Rule("ce", "clamp", "after_T", "bp"),
    "ipc": Rule("se", "clamp", "every_step", "pc"),
    "pn": Rule("se", "nudge+", "after_T", "pc"),
    "nn": Rule("se", "nudge-", "after_T", "pc"),
    "cn": Rule("se", "centred", "after_T", "pc"),
}
