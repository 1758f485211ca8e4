"""Generative predictive coding on the one PC core: a decoder-only PCN whose top latent is
inferred (PCX paper, Appendix C.1), its Monte Carlo variant (C.2, Langevin noise in the state
updates), associative recall (C.3), and the backprop autoencoder with the same decoder that it
is compared with.

Notation: the decoder is an :class:`~pcdash.pcn.network.MLP` with widths ``(d_0, …, d_L)``;
``h_0`` is the top latent, ``h_L`` the sensory (data) layer, ``μ_l = f_l(h_{l−1})`` in one of
the layer forms of :func:`~pcdash.pcn.network.layer_prediction`. The energy is
:func:`~pcdash.pcn.energies.total_energy`, per example

    F = prior/2 ‖h_0 − θ_0‖² + Σ_{0<l<L} ½‖h_l − μ_l‖² + ½ (‖h_L − μ_L‖² / σ²_L + d_L log σ²_L)

``θ_0`` is the prior mean ``μ_0`` of §3's ``P(h_0) = N(θ_0, Σ_0)``: zero and fixed for the PC
autoencoder (where ``prior = 0`` leaves the latent unconstrained, as in PCX), learned with the
weights for MCPC (``prior = 1``, PCX's iris model). ``σ²_L`` is the sensory layer's fixed
variance (a fixed precision, ``s_L = log σ²_L``) of the MCPC experiments. Relaxation is
:func:`~pcdash.pcn.inference.relax` with the state optimiser of
:func:`~pcdash.pcn.optimizers.state_optimizer` (Langevin noise prepended for MCPC). Training
clamps ``h_L = x`` and relaxes every other state from ``h_0 = θ_0`` and a forward pass; recall
and sampling leave (part of) ``h_L`` free.

Reconstruction goes through the latent (§4, generative mode): infer ``h_0`` with the image
clamped, then run a top-down pass from ``h_0`` alone, nothing clamped (:func:`decode`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from pcdash.engine import all_finite
from pcdash.pcn.energies import total_energy
from pcdash.pcn.inference import EnergyFn, relax
from pcdash.pcn.network import ACTIVATIONS, FORMS, MLP, forward_pass, init_mlp
from pcdash.pcn.optimizers import state_optimizer
from pcdash.promotion import standard_promotion

States = tuple[Float[Array, "batch _"], ...]  # (h_0, h_1, …, h_L)
PriorMean = Float[Array, " d_0"] | None  # θ_0; None means 0


class GenerativeHyper(NamedTuple):
    """One member's hyperparameters: γ, the weight learning rate and, for associative memory,
    the number of images it stores (examples whose label is below it count)."""

    state_lr: Float[Array, ""]
    weight_lr: Float[Array, ""]
    n_images: Int[Array, ""]


def generative_hyper(
    state_lr: float | Sequence[float] | np.ndarray,
    weight_lr: float | Sequence[float] | np.ndarray,
    n_images: int | Sequence[int] | np.ndarray = 0,
) -> GenerativeHyper:
    """:class:`GenerativeHyper` of scalars or of per-member lists (broadcast to one length)."""
    gamma, lr, n = np.broadcast_arrays(
        np.asarray(state_lr, np.float32),
        np.asarray(weight_lr, np.float32),
        np.asarray(n_images, np.int32),
    )
    # host arrays; the jitted code they are passed to sees jax Arrays
    return GenerativeHyper(*cast(tuple[Array, Array, Array], (gamma.copy(), lr.copy(), n.copy())))


def free_energy(
    mlp: MLP,
    *,
    prior: float = 0.0,
    prior_mean: PriorMean = None,
    out_var: float = 1.0,
    form: str = "post",
) -> EnergyFn:
    """``F^{(n)}`` of every state ``(h_0, …, h_L)`` (the module's equation) for
    :func:`~pcdash.pcn.inference.relax`, recording the batch mean of ``F``."""
    log_var = _output_log_var(mlp.num_layers, out_var)

    def energy_fn(states: States):
        e = total_energy(
            mlp, states, prior=prior, prior_mean=prior_mean, form=form, log_var=log_var
        )
        return e, jnp.mean(e)

    return energy_fn


def _output_log_var(num_layers: int, out_var: float | Array):
    """Unit variances for the hidden layers, ``log σ²_L`` for the sensory one (None: all unit;
    ``out_var`` may be traced)."""
    if isinstance(out_var, int | float):
        if out_var == 1.0:
            return None
        s = jnp.full((1,), math.log(out_var), jnp.float32)
    else:
        s = jnp.log(jnp.asarray(out_var, jnp.float32)).reshape(1)
    return (*([None] * (num_layers - 1)), s)


def clamp_output(value: Float[Array, "batch d_L"], fixed: Bool[Array, ...] | bool = True):
    """A ``clamp`` for :func:`~pcdash.pcn.inference.relax`: entries of ``h_L`` where ``fixed``
    keep ``value`` (the clamped data, or the visible half of a masked image)."""

    def clamp(states: States) -> States:
        return (*states[:-1], jnp.where(fixed, value, states[-1]))

    return clamp


def generative_states(
    mlp: MLP,
    h0: Float[Array, "batch d_0"],
    h_out: Float[Array, "batch d_L"] | None,
    *,
    form: str = "post",
) -> States:
    """``h_0`` given, hidden states by a forward pass (zero hidden errors), ``h_L = h_out`` (or
    ``μ_L`` when None)."""
    states = (h0, *forward_pass(mlp, h0, form=form))
    return states if h_out is None else (*states[:-1], h_out)


def latent_start(mlp: MLP, n: int, prior_mean: PriorMean = None) -> Float[Array, "n d_0"]:
    """Where inference starts ``h_0``: the prior mean ``θ_0`` (0 when there is none), as in PCX,
    whose first state is initialised to its prediction."""
    h0 = jnp.zeros((n, mlp.sizes[0]), jnp.float32)
    return h0 if prior_mean is None else h0 + prior_mean


def infer_latents(
    mlp: MLP,
    x: Float[Array, "batch d_L"],
    *,
    steps: int,
    state_lr,
    momentum: float = 0.9,
    prior: float = 0.0,
    prior_mean: PriorMean = None,
    out_var: float = 1.0,
    temperature=0.0,
    key: PRNGKeyArray | None = None,
    form: str = "post",
) -> States:
    """Clamp ``h_L = x`` and relax every other state from ``h_0 = θ_0`` and a forward pass
    (Appendix C.1; with ``temperature > 0`` and a ``key``, the noisy MCPC dynamics of C.2)."""
    h0 = latent_start(mlp, x.shape[0], prior_mean).astype(x.dtype)
    opt = state_optimizer(state_lr, momentum=momentum, temperature=temperature, key=key)
    energy_fn = free_energy(mlp, prior=prior, prior_mean=prior_mean, out_var=out_var, form=form)
    states, _, _ = relax(
        energy_fn,
        generative_states(mlp, h0, x, form=form),
        optimizer=opt,
        steps=steps,
        clamp=clamp_output(x),
    )
    return states


def decode(
    mlp: MLP, h0: Float[Array, "batch d_0"], *, form: str = "post"
) -> Float[Array, "batch d_L"]:
    """``μ_L(μ_{L−1}(… μ_1(h_0)))``: the top-down pass from the latent alone, nothing clamped
    (PCX paper §4: "a reconstructed ȳ = h_L by performing a forward pass with h_0 = x̄")."""
    return forward_pass(mlp, h0, form=form)[-1]


def reconstruct(
    mlp: MLP,
    x: Float[Array, "batch d_L"],
    *,
    steps: int,
    state_lr,
    momentum: float = 0.9,
    prior: float = 0.0,
    prior_mean: PriorMean = None,
    out_var: float = 1.0,
    form: str = "post",
) -> Float[Array, "batch d_L"]:
    """The PC autoencoder's output: infer ``h_0`` with ``x`` clamped (every other state relaxed),
    then :func:`decode` it. Only the latent carries information about ``x`` to the output, so
    the reconstruction is limited by the bottleneck ``d_0`` exactly as a BP autoencoder's is."""
    states = infer_latents(
        mlp,
        x,
        steps=steps,
        state_lr=state_lr,
        momentum=momentum,
        prior=prior,
        prior_mean=prior_mean,
        out_var=out_var,
        form=form,
    )
    return decode(mlp, states[0], form=form)


def sample(
    mlp: MLP,
    prior_mean,
    key: PRNGKeyArray,
    n: int,
    *,
    steps: int,
    state_lr,
    temperature,
    out_var,
    momentum: float = 0.0,
    form: str = "pre",
) -> Float[Array, "n d_L"]:
    """Unconditional MCPC samples: every state free, ``h_0 ~ N(θ_0, I)`` (the learned prior), a
    forward pass for the rest, then ``steps`` Langevin steps on ``F``; returns ``h_L``."""
    k1, k2 = jax.random.split(key)
    h0 = prior_mean + jax.random.normal(k1, (n, mlp.sizes[0]))
    opt = state_optimizer(state_lr, momentum=momentum, temperature=temperature, key=k2)
    energy_fn = free_energy(mlp, prior=1.0, prior_mean=prior_mean, out_var=out_var, form=form)
    states, _, _ = relax(
        energy_fn, generative_states(mlp, h0, None, form=form), optimizer=opt, steps=steps
    )
    return states[-1]


def recall(
    mlp: MLP, x_corrupt, fixed, *, steps: int, state_lr, momentum: float = 0.9, settle: int = 0
) -> Array:
    """Associative recall: relax every state from ``h_0 = 0``, a forward pass and
    ``h_L = x_corrupt``; entries of ``h_L`` where ``fixed`` keep their value. Returns the recalled
    ``h_L``.

    With ``settle > 0`` the latents first settle for that many steps with the whole corrupted
    image clamped (as in training); otherwise a free sensory layer falls towards the decoder's
    output at ``h_0 = 0`` (the mean image) faster than the latents, two layers up, can follow."""
    h0 = jnp.zeros((x_corrupt.shape[0], mlp.sizes[0]), x_corrupt.dtype)
    states = generative_states(mlp, h0, x_corrupt)
    energy_fn = free_energy(mlp)
    opt = state_optimizer(state_lr, momentum=momentum)
    if settle > 0:
        states, _, _ = relax(
            energy_fn, states, optimizer=opt, steps=settle, clamp=clamp_output(x_corrupt)
        )
    states, _, _ = relax(
        energy_fn, states, optimizer=opt, steps=steps, clamp=clamp_output(x_corrupt, fixed)
    )
    return states[-1]


# --------------------------------------------------------------------------- engine algorithms


class GenCarry(NamedTuple):
    mlp: MLP
    prior_mean: Float[Array, " d_0"]  # θ_0
    opt_state: optax.OptState


@dataclass(frozen=True)
class GenerativePCN:
    """A decoder-only PCN trained by inference then one AdamW step on ``∇_θ F`` (an
    :class:`pcdash.engine.Algorithm` with :class:`GenerativeHyper`). ``temperature > 0`` makes
    it MCPC: Langevin noise in the training inference. ``learn_prior_mean``: the prior mean
    ``θ_0`` is trained with the weights (``∂F/∂θ_0 = −prior · (h_0 − θ_0)``), otherwise it stays
    0. ``count_examples``: only examples whose label (their index) is below ``n_images`` count
    (associative memory: one program for every n).

    The training metric (``loss``) and :meth:`evaluate`'s ``mse`` are reconstruction errors
    through the latent: :func:`decode` of the inferred ``h_0``."""

    sizes: tuple[int, ...]  # (latent, hidden…, data)
    activation: str = "leaky_relu"
    inference_steps: int = 20
    eval_steps: int = 20
    state_momentum: float = 0.9
    prior: float = 0.0
    learn_prior_mean: bool = False
    out_var: float = 1.0
    temperature: float = 0.0
    weight_decay: float = 1e-4
    count_examples: bool = False
    form: str = "post"  # the layer form of pcdash.pcn.network.layer_prediction

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"bad layer sizes {self.sizes}")
        if self.form not in FORMS:
            raise ValueError(f"unknown layer form {self.form!r}; choose from {', '.join(FORMS)}")

    def _wopt(self, hp: GenerativeHyper) -> optax.GradientTransformation:
        return standard_promotion(optax.adamw(hp.weight_lr, weight_decay=self.weight_decay))

    def init(self, key: PRNGKeyArray, hp: GenerativeHyper) -> GenCarry:
        mlp = init_mlp(key, self.sizes, activation=self.activation)
        prior_mean = jnp.zeros((self.sizes[0],), jnp.float32)
        return GenCarry(mlp, prior_mean, self._wopt(hp).init((mlp, prior_mean)))

    def _weights(self, hp: GenerativeHyper, y) -> Float[Array, " batch"]:
        if not self.count_examples:
            return jnp.ones(y.shape, jnp.float32)
        return (y < hp.n_images).astype(jnp.float32)

    def energy(
        self, params: tuple[MLP, Array], states: States, w: Float[Array, " batch"]
    ) -> Float[Array, ""]:
        """The weighted batch mean of ``F`` at fixed ``states``: what the weight step descends."""
        mlp, prior_mean = params
        if not self.learn_prior_mean:
            prior_mean = jax.lax.stop_gradient(prior_mean)
        e, _ = free_energy(
            mlp, prior=self.prior, prior_mean=prior_mean, out_var=self.out_var, form=self.form
        )(states)
        return jnp.sum(w * e) / jnp.maximum(jnp.sum(w), 1.0)

    def train_step(
        self, carry: GenCarry, hp: GenerativeHyper, x, y: Int[Array, " batch"], key: PRNGKeyArray
    ):
        mlp, prior_mean, opt_state = carry
        x = x.reshape(x.shape[0], -1)
        noisy = self.temperature > 0
        states = infer_latents(
            mlp,
            x,
            steps=self.inference_steps,
            state_lr=hp.state_lr,
            momentum=self.state_momentum,
            prior=self.prior,
            prior_mean=prior_mean,
            out_var=self.out_var,
            temperature=self.temperature,
            key=key if noisy else None,
            form=self.form,
        )
        states = jax.lax.stop_gradient(states)
        w = self._weights(hp, y)
        params = (mlp, prior_mean)
        energy, grads = jax.value_and_grad(self.energy)(params, states, w)
        updates, opt_state = self._wopt(hp).update(grads, opt_state, params)
        new_mlp, new_prior_mean = optax.apply_updates(params, updates)
        recon = decode(mlp, states[0], form=self.form)
        mse = jnp.sum(w * jnp.mean(jnp.square(recon - x), axis=-1)) / jnp.maximum(jnp.sum(w), 1.0)
        finite = all_finite(energy, (new_mlp, new_prior_mean))
        return (
            GenCarry(new_mlp, new_prior_mean, opt_state),
            {"loss": jnp.where(finite, mse, jnp.nan), "energy": energy},
        )

    def evaluate(self, carry: GenCarry, hp: GenerativeHyper, x, y):
        x = x.reshape(x.shape[0], -1)
        recon = reconstruct(
            carry.mlp,
            x,
            steps=self.eval_steps,
            state_lr=hp.state_lr,
            momentum=self.state_momentum,
            prior=self.prior,
            prior_mean=carry.prior_mean,
            out_var=self.out_var,
            form=self.form,
        )
        return {"mse": jnp.mean(jnp.square(recon - x), axis=-1)}


class AECarry(NamedTuple):
    encoder: MLP
    decoder: MLP
    opt_state: optax.OptState


@dataclass(frozen=True)
class BPAutoencoder:
    """Encoder MLP ``(d_L, …, d_0)`` + the same decoder as :class:`GenerativePCN`, trained by
    backprop on the per-pixel MSE with AdamW. ``hp``: a :class:`GenerativeHyper` of which only
    ``weight_lr`` is used."""

    sizes: tuple[int, ...]  # the decoder's (latent, hidden…, data)
    activation: str = "leaky_relu"
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))

    def _wopt(self, hp: GenerativeHyper) -> optax.GradientTransformation:
        return standard_promotion(optax.adamw(hp.weight_lr, weight_decay=self.weight_decay))

    def init(self, key, hp: GenerativeHyper) -> AECarry:
        k1, k2 = jax.random.split(key)
        enc = init_mlp(k1, self.sizes[::-1], activation=self.activation)
        dec = init_mlp(k2, self.sizes, activation=self.activation)
        return AECarry(enc, dec, self._wopt(hp).init((enc, dec)))

    @staticmethod
    def _recon(enc: MLP, dec: MLP, x):
        return forward_pass(dec, forward_pass(enc, x)[-1])[-1]

    def reconstruct(self, carry: AECarry, x):
        return self._recon(carry.encoder, carry.decoder, x.reshape(x.shape[0], -1))

    def train_step(self, carry: AECarry, hp: GenerativeHyper, x, y, key):
        del y, key
        x = x.reshape(x.shape[0], -1)

        def loss_fn(params):
            return jnp.mean(jnp.square(self._recon(*params, x) - x))

        params = (carry.encoder, carry.decoder)
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = self._wopt(hp).update(grads, carry.opt_state, params)
        enc, dec = optax.apply_updates(params, updates)
        return AECarry(enc, dec, opt_state), {"loss": loss, "energy": loss}

    def evaluate(self, carry: AECarry, hp: GenerativeHyper, x, y):
        x = x.reshape(x.shape[0], -1)
        return {
            "mse": jnp.mean(jnp.square(self._recon(carry.encoder, carry.decoder, x) - x), axis=-1)
        }
