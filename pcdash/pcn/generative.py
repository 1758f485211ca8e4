"""Generative predictive coding: a decoder-only PCN whose top latent is inferred (PCX paper,
Appendix C.1), its Monte Carlo variant (C.2, Langevin noise in the state updates) and the
backprop autoencoder with the same decoder that it is compared with.

Notation: the decoder is an :class:`~pcdash.pcn.network.MLP` with widths ``(d_0, …, d_L)``;
``h_0`` is the top latent, ``h_L`` the sensory (data) layer, ``μ_l = f_l(h_{l−1})``. Per example

    F = prior/2 ‖h_0 − θ_0‖² + Σ_{0<l<L} ½‖h_l − μ_l‖² + 1/(2 σ²_L) ‖h_L − μ_L‖²

``θ_0`` is the prior mean ``μ_0`` of §3's ``P(h_0) = N(θ_0, Σ_0)``: zero and fixed for the PC
autoencoder (where ``prior = 0`` leaves the latent unconstrained, as in PCX), learned with the
weights for MCPC (``prior = 1``, PCX's iris model). ``σ²_L`` is the sensory-layer variance of
the MCPC experiments. Training clamps ``h_L = x`` and relaxes every other state from
``h_0 = θ_0`` and a forward pass; recall and sampling leave (part of) ``h_L`` free.

Reconstruction goes through the latent (§4, generative mode): infer ``h_0`` with the image
clamped, then run a top-down pass from ``h_0`` alone, nothing clamped (:func:`decode`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.engine import all_finite
from pcdash.pcn.network import ACTIVATIONS, MLP, init_mlp, layer_prediction

States = tuple[Float[Array, "batch _"], ...]  # (h_0, h_1, …, h_L)
PriorMean = Float[Array, " d_0"] | None  # θ_0; None means 0
FORMS = ("post", "pre")


def predict(mlp: MLP, layer: int, h_prev: Float[Array, "batch _"], *, form: str = "post") -> Float[Array, "batch _"]:
    """``μ_l`` from ``h_{l−1}`` in one of two layer forms (``layer`` 1-based):

    * ``"post"``: ``μ_l = σ(W_l h_{l−1} + b_l)``, the output linear — pcdash's MLP, and PCX's
      autoencoder (``PCDecoder``), whose states are activations;
    * ``"pre"``: ``μ_l = W_l σ(h_{l−1}) + b_l`` — PCX's MCPC models, whose states are
      pre-activations: each layer feeds ``σ`` of the state below into a linear map, so the unit
      noise of a hidden state is squashed by ``σ`` before it reaches the layer it predicts."""
    if form == "post":
        return layer_prediction(mlp, layer, h_prev)
    w, b = mlp.weights[layer - 1], mlp.biases[layer - 1]
    return ACTIVATIONS[mlp.activation](h_prev) @ w.T + b[None, :]


# --------------------------------------------------------------------------- Langevin noise


class LangevinState(NamedTuple):
    key: PRNGKeyArray


def add_langevin_noise(lr: float | Array, temperature: float | Array, key: PRNGKeyArray,
                       momentum: float = 0.0) -> optax.GradientTransformation:
    """Adds ``N(0, 2 σ² (1 − m) / γ)`` to every gradient (``σ² = temperature``, ``m = momentum``).

    Placed before ``trace(m)`` and ``scale_by_learning_rate(γ)`` (see :func:`state_optimizer`)
    it turns descent on the states into Langevin dynamics that sample ``exp(−F / σ²)``:

    * ``m = 0``: ``Δh = −γ ∇F + √(2γ) N``, ``N ~ N(0, σ²)`` (PCX paper, Eq. 4);
    * ``m > 0``: ``v ← m v + ∇F + ξ``, ``Δh = −γ v`` — second-order Langevin dynamics with
      friction ``1 − m`` (Eq. 5–6; the printed equations put ``γ`` into the velocity's units,
      this is the form of the PCX implementation, ``sgdld``).

    The key is carried in the state, so every call draws fresh noise."""

    def init(params):
        del params
        return LangevinState(key)

    def update(updates, state, params=None):
        del params
        next_key, sub = jax.random.split(state.key)
        std = jnp.sqrt(2.0 * temperature * (1.0 - momentum) / lr)
        leaves, treedef = jax.tree_util.tree_flatten(updates)
        keys = jax.random.split(sub, len(leaves))
        noisy = [u + std * jax.random.normal(k, u.shape, u.dtype) for u, k in zip(leaves, keys, strict=True)]
        return jax.tree_util.tree_unflatten(treedef, noisy), LangevinState(next_key)

    return optax.GradientTransformation(init, update)


def state_optimizer(state_lr, *, momentum: float = 0.0, temperature: float | Array = 0.0,
                    key: PRNGKeyArray | None = None) -> optax.GradientTransformation:
    """SGD (with momentum ``m`` when ``m > 0``) on the states; with a ``key``, Langevin
    dynamics (MCPC) as an optax chain: noise, momentum trace, learning rate."""
    if key is None:
        return optax.sgd(state_lr, momentum=momentum if momentum > 0 else None)
    return optax.chain(
        add_langevin_noise(state_lr, temperature, key, momentum),
        optax.trace(decay=momentum) if momentum > 0 else optax.identity(),
        optax.scale_by_learning_rate(state_lr),
    )


# --------------------------------------------------------------------------- energy and inference


def per_example_energy(mlp: MLP, states: States, *, prior: float = 0.0, prior_mean: PriorMean = None,
                       out_var: float = 1.0, form: str = "post") -> Float[Array, " batch"]:
    """``F^{(n)}`` of the module docstring, one value per example (``prior_mean`` None: θ_0 = 0;
    ``form``: the layers of :func:`predict`)."""
    h0 = states[0] if prior_mean is None else states[0] - prior_mean
    energy = 0.5 * prior * jnp.sum(jnp.square(h0), axis=-1)
    for layer in range(1, mlp.num_layers + 1):
        mu = predict(mlp, layer, states[layer - 1], form=form)
        sq = jnp.sum(jnp.square(states[layer] - mu), axis=-1)
        energy = energy + 0.5 * (sq / out_var if layer == mlp.num_layers else sq)
    return energy


def initial_states(mlp: MLP, h0: Float[Array, "batch d_0"], h_out: Float[Array, "batch d_L"] | None, *,
                   form: str = "post") -> States:
    """``h_0`` given, hidden states by a forward pass (zero hidden errors), ``h_L = h_out`` (or
    ``μ_L`` when None)."""
    states = [h0]
    for layer in range(1, mlp.num_layers + 1):
        states.append(predict(mlp, layer, states[-1], form=form))
    if h_out is not None:
        states[-1] = h_out
    return tuple(states)


def relax(mlp: MLP, states: States, *, steps: int, optimizer: optax.GradientTransformation,
          fixed: Array | bool = False, prior: float = 0.0, prior_mean: PriorMean = None,
          out_var: float = 1.0, form: str = "post") -> tuple[States, Float[Array, " steps"]]:
    """``steps`` optimiser steps on every state; entries of ``h_L`` where ``fixed`` is True keep
    their initial value (the clamped data, or the visible half of a masked image). Returns the
    final states and the batch-mean energy before each step."""
    clamp = states[-1]

    def total(s):
        e = per_example_energy(mlp, s, prior=prior, prior_mean=prior_mean, out_var=out_var, form=form)
        return jnp.sum(e), jnp.mean(e)

    def step(carry, _):
        s, opt_state = carry
        (_, e), grads = jax.value_and_grad(total, has_aux=True)(s)
        updates, opt_state = optimizer.update(grads, opt_state, s)
        s = jax.tree_util.tree_map(jnp.add, s, updates)
        s = (*s[:-1], jnp.where(fixed, clamp, s[-1]))
        return (s, opt_state), e

    (states, _), trace = jax.lax.scan(step, (states, optimizer.init(states)), None, length=steps)
    return states, trace


def latent_start(mlp: MLP, n: int, prior_mean: PriorMean = None) -> Float[Array, "n d_0"]:
    """Where inference starts ``h_0``: the prior mean ``θ_0`` (0 when there is none), as in PCX,
    whose first state is initialised to its prediction."""
    h0 = jnp.zeros((n, mlp.sizes[0]), jnp.float32)
    return h0 if prior_mean is None else h0 + prior_mean


def infer_latents(mlp: MLP, x: Float[Array, "batch d_L"], *, steps: int, state_lr, momentum: float = 0.9,
                  prior: float = 0.0, prior_mean: PriorMean = None, out_var: float = 1.0, temperature=0.0,
                  key: PRNGKeyArray | None = None, form: str = "post") -> States:
    """Clamp ``h_L = x`` and relax every other state from ``h_0 = θ_0`` and a forward pass
    (Appendix C.1; with ``temperature > 0`` and a ``key``, the noisy MCPC dynamics of C.2)."""
    h0 = latent_start(mlp, x.shape[0], prior_mean).astype(x.dtype)
    opt = state_optimizer(state_lr, momentum=momentum, temperature=temperature, key=key)
    states, _ = relax(mlp, initial_states(mlp, h0, x, form=form), steps=steps, optimizer=opt, fixed=True,
                      prior=prior, prior_mean=prior_mean, out_var=out_var, form=form)
    return states


def decode(mlp: MLP, h0: Float[Array, "batch d_0"], *, form: str = "post") -> Float[Array, "batch d_L"]:
    """``μ_L(μ_{L−1}(… μ_1(h_0)))``: the top-down pass from the latent alone, nothing clamped
    (PCX paper §4: "a reconstructed ȳ = h_L by performing a forward pass with h_0 = x̄")."""
    h = h0
    for layer in range(1, mlp.num_layers + 1):
        h = predict(mlp, layer, h, form=form)
    return h


def reconstruct(mlp: MLP, x: Float[Array, "batch d_L"], *, steps: int, state_lr, momentum: float = 0.9,
                prior: float = 0.0, prior_mean: PriorMean = None, out_var: float = 1.0,
                form: str = "post") -> Float[Array, "batch d_L"]:
    """The PC autoencoder's output: infer ``h_0`` with ``x`` clamped (every other state relaxed),
    then :func:`decode` it. Only the latent carries information about ``x`` to the output, so
    the reconstruction is limited by the bottleneck ``d_0`` exactly as a BP autoencoder's is."""
    states = infer_latents(mlp, x, steps=steps, state_lr=state_lr, momentum=momentum, prior=prior,
                           prior_mean=prior_mean, out_var=out_var, form=form)
    return decode(mlp, states[0], form=form)


# --------------------------------------------------------------------------- engine algorithms


class GenCarry(NamedTuple):
    mlp: MLP
    prior_mean: Float[Array, " d_0"]  # θ_0
    opt_state: optax.OptState


@dataclass(frozen=True)
class GenerativePCN:
    """A decoder-only PCN trained by inference then one AdamW step on ``∇_θ F`` (an
    :class:`pcdash.engine.Algorithm`). ``temperature > 0`` makes it MCPC: Langevin noise in the
    training inference. ``learn_prior_mean``: the prior mean ``θ_0`` is trained with the weights
    (``∂F/∂θ_0 = −prior · (h_0 − θ_0)``), otherwise it stays 0. Per-member ``hp``: ``state_lr``
    (γ) and ``weight_lr``; with ``count_examples``, also ``n_images``: only examples whose label
    (their index) is below it count (associative memory: one program for every n).

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
    form: str = "post"  # the layers of :func:`predict`

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"bad layer sizes {self.sizes}")
        if self.form not in FORMS:
            raise ValueError(f"unknown layer form {self.form!r}; choose from {', '.join(FORMS)}")

    def _wopt(self, hp):
        return optax.adamw(hp["weight_lr"], weight_decay=self.weight_decay)

    def init(self, key: PRNGKeyArray, hp: Mapping[str, Array]) -> GenCarry:
        mlp = init_mlp(key, self.sizes, activation=self.activation)
        prior_mean = jnp.zeros((self.sizes[0],), jnp.float32)
        return GenCarry(mlp, prior_mean, self._wopt(hp).init((mlp, prior_mean)))

    def _weights(self, hp, y):
        if not self.count_examples:
            return jnp.ones(y.shape, jnp.float32)
        return (y < hp["n_images"]).astype(jnp.float32)

    def energy(self, params: tuple[MLP, Array], states: States, w: Float[Array, " batch"]) -> Float[Array, ""]:
        """The weighted batch mean of ``F`` at fixed ``states``: what the weight step descends."""
        mlp, prior_mean = params
        if not self.learn_prior_mean:
            prior_mean = jax.lax.stop_gradient(prior_mean)
        e = per_example_energy(mlp, states, prior=self.prior, prior_mean=prior_mean, out_var=self.out_var,
                               form=self.form)
        return jnp.sum(w * e) / jnp.maximum(jnp.sum(w), 1.0)

    def train_step(self, carry: GenCarry, hp, x, y: Int[Array, " batch"], key: PRNGKeyArray):
        mlp, prior_mean, opt_state = carry
        x = x.reshape(x.shape[0], -1)
        noisy = self.temperature > 0
        states = infer_latents(mlp, x, steps=self.inference_steps, state_lr=hp["state_lr"],
                               momentum=self.state_momentum, prior=self.prior, prior_mean=prior_mean,
                               out_var=self.out_var, temperature=self.temperature, key=key if noisy else None,
                               form=self.form)
        states = jax.lax.stop_gradient(states)
        w = self._weights(hp, y)
        params = (mlp, prior_mean)
        energy, grads = jax.value_and_grad(self.energy)(params, states, w)
        updates, opt_state = self._wopt(hp).update(grads, opt_state, params)
        new_mlp, new_prior_mean = optax.apply_updates(params, updates)
        recon = decode(mlp, states[0], form=self.form)
        mse = jnp.sum(w * jnp.mean(jnp.square(recon - x), axis=-1)) / jnp.maximum(jnp.sum(w), 1.0)
        finite = all_finite(energy, (new_mlp, new_prior_mean))
        return (GenCarry(new_mlp, new_prior_mean, opt_state),
                {"loss": jnp.where(finite, mse, jnp.nan), "energy": energy})

    def evaluate(self, carry: GenCarry, hp, x, y):
        x = x.reshape(x.shape[0], -1)
        recon = reconstruct(carry.mlp, x, steps=self.eval_steps, state_lr=hp["state_lr"],
                            momentum=self.state_momentum, prior=self.prior, prior_mean=carry.prior_mean,
                            out_var=self.out_var, form=self.form)
        return {"mse": jnp.mean(jnp.square(recon - x), axis=-1)}


class AECarry(NamedTuple):
    encoder: MLP
    decoder: MLP
    opt_state: optax.OptState


@dataclass(frozen=True)
class BPAutoencoder:
    """Encoder MLP ``(d_L, …, d_0)`` + the same decoder as :class:`GenerativePCN`, trained by
    backprop on the per-pixel MSE with AdamW. ``hp``: ``weight_lr`` (``state_lr`` is ignored)."""

    sizes: tuple[int, ...]  # the decoder's (latent, hidden…, data)
    activation: str = "leaky_relu"
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))

    def _wopt(self, hp):
        return optax.adamw(hp["weight_lr"], weight_decay=self.weight_decay)

    def init(self, key, hp) -> AECarry:
        k1, k2 = jax.random.split(key)
        enc = init_mlp(k1, self.sizes[::-1], activation=self.activation)
        dec = init_mlp(k2, self.sizes, activation=self.activation)
        return AECarry(enc, dec, self._wopt(hp).init((enc, dec)))

    @staticmethod
    def _recon(enc: MLP, dec: MLP, x):
        h = x
        for layer in range(1, enc.num_layers + 1):
            h = layer_prediction(enc, layer, h)
        for layer in range(1, dec.num_layers + 1):
            h = layer_prediction(dec, layer, h)
        return h

    def reconstruct(self, carry: AECarry, x):
        return self._recon(carry.encoder, carry.decoder, x.reshape(x.shape[0], -1))

    def train_step(self, carry: AECarry, hp, x, y, key):
        del y, key
        x = x.reshape(x.shape[0], -1)

        def loss_fn(params):
            return jnp.mean(jnp.square(self._recon(*params, x) - x))

        params = (carry.encoder, carry.decoder)
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = self._wopt(hp).update(grads, carry.opt_state, params)
        enc, dec = optax.apply_updates(params, updates)
        return AECarry(enc, dec, opt_state), {"loss": loss, "energy": loss}

    def evaluate(self, carry: AECarry, hp, x, y):
        x = x.reshape(x.shape[0], -1)
        return {"mse": jnp.mean(jnp.square(self._recon(carry.encoder, carry.decoder, x) - x), axis=-1)}
