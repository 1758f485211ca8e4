"""The mathematics of pcdash.pcn: energies, inference, and the PC ↔ BP limit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from pcdash.pcn import (
    ACTIVATIONS,
    ALGORITHMS,
    MLP,
    PCNAlgorithm,
    bp_loss_and_gradients,
    forward_pass,
    inference,
    init_mlp,
    layer_energies,
    nudged_target,
    pc_weight_gradients,
    pcn_hyper,
    weight_optimizer,
)
from pcdash.promotion import standard_promotion


def tiny_network() -> tuple[MLP, np.ndarray, np.ndarray, np.ndarray]:
    """A 2-3-2 tanh network with hand-set weights, a batch of two inputs, hidden states and
    labels."""
    w1 = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 0.5]], np.float32)
    b1 = np.array([0.1, -0.2, 0.0], np.float32)
    w2 = np.array([[1.0, -0.5, 0.25], [0.5, 0.5, -1.0]], np.float32)
    b2 = np.array([0.0, 0.3], np.float32)
    mlp = MLP((jnp.asarray(w1), jnp.asarray(w2)), (jnp.asarray(b1), jnp.asarray(b2)), "tanh")
    x = np.array([[1.0, 2.0], [-0.5, 0.25]], np.float32)
    h1 = np.array([[0.2, 0.4, -0.1], [0.0, -0.3, 0.6]], np.float32)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    return mlp, x, h1, y


@pytest.mark.parametrize("loss", ["se", "ce"])
def test_energy_of_tiny_network_matches_hand_computation(loss: str) -> None:
    mlp, x, h1, y = tiny_network()
    w1, w2 = (np.asarray(w) for w in mlp.weights)
    b1, b2 = (np.asarray(b) for b in mlp.biases)
    mu1 = np.tanh(x @ w1.T + b1)
    mu2 = h1 @ w2.T + b2
    f1 = np.mean(0.5 * np.sum((h1 - mu1) ** 2, axis=1))
    if loss == "se":
        f2 = np.mean(0.5 * np.sum((y - mu2) ** 2, axis=1))
    else:
        log_softmax = mu2 - np.log(np.sum(np.exp(mu2), axis=1, keepdims=True))
        f2 = np.mean(-np.sum(y * log_softmax, axis=1))

    energies = layer_energies(mlp, jnp.asarray(x), (jnp.asarray(h1),), jnp.asarray(y), loss=loss)

    np.testing.assert_allclose(np.asarray(energies), [f1, f2], rtol=1e-6)


def test_forward_pass_zeroes_hidden_energies() -> None:
    mlp = init_mlp(jax.random.PRNGKey(0), (5, 7, 6, 3), activation="gelu")
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 5))
    states = forward_pass(mlp, x)
    energies = layer_energies(mlp, x, states[:-1], jax.nn.one_hot(jnp.arange(4) % 3, 3))
    assert np.all(np.asarray(energies[:-1]) == 0.0)
    assert float(energies[-1]) > 0.0


@pytest.mark.parametrize("loss", ["se", "ce"])
def test_inference_lowers_the_energy_monotonically_for_small_gamma(loss: str) -> None:
    mlp = init_mlp(jax.random.PRNGKey(2), (10, 16, 16, 4), activation="tanh")
    x = jax.random.normal(jax.random.PRNGKey(3), (8, 10))
    y = jax.nn.one_hot(jnp.arange(8) % 4, 4)

    _, trace = inference(mlp, x, y, steps=50, state_lr=0.05, momentum=0.0, loss=loss)
    total = np.asarray(trace.sum(axis=1), np.float64)

    assert trace.shape == (51, 3)
    assert np.all(np.diff(total) <= 1e-6 * total[0])
    assert total[-1] < 0.95 * total[0]
    # Forward initialisation: all the energy starts in the output layer.
    assert np.all(np.asarray(trace[0, :-1]) == 0.0)


def test_inference_with_default_momentum_and_adam_ends_lower() -> None:
    mlp = init_mlp(jax.random.PRNGKey(4), (10, 16, 16, 4), activation="leaky_relu")
    x = jax.random.normal(jax.random.PRNGKey(5), (8, 10))
    y = jax.nn.one_hot(jnp.arange(8) % 4, 4)
    for optimizer in ("sgd", "adam"):
        _, trace = inference(mlp, x, y, steps=20, state_lr=0.01, optimizer=optimizer)
        assert float(trace[-1].sum()) < float(trace[0].sum())


@pytest.mark.parametrize(
    ("sizes", "activation"),
    [((6, 16, 16, 10), "tanh"), ((8, 32, 32, 4), "gelu"), ((4, 8, 8, 8, 2), "leaky_relu")],
)
def test_nudged_pc_update_points_along_the_bp_gradient(
    sizes: tuple[int, ...], activation: str
) -> None:
    """Output nudged by β = 1e-3, small γ: every layer's PC update (÷β) is parallel to BP's.

    With γT ≪ 1 each hidden error is the back-propagated output error to leading order in γ, so
    the direction of every layer's update tends to BP's (its size shrinks layer by layer: the
    energy imbalance of PCX Fig. 6d). Run to full equilibrium instead (large γT) and the output
    error is reweighted by the hidden layers' relaxation, and the cosine drops to ~0.97-0.99.
    Float64: the first layer's errors are ~γ² of the output's, below float32 resolution of h.
    """
    with jax.enable_x64(True):
        mlp = init_mlp(jax.random.PRNGKey(0), sizes, activation=activation)
        mlp = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), mlp)
        x = jax.random.normal(jax.random.PRNGKey(1), (32, sizes[0]), dtype=jnp.float64)
        y = jax.nn.one_hot(jnp.arange(32) % sizes[-1], sizes[-1], dtype=jnp.float64)
        beta = 1e-3
        target = nudged_target(forward_pass(mlp, x)[-1], y, beta)

        hidden, _ = inference(mlp, x, target, steps=30, state_lr=0.003, momentum=0.0)
        pc, _ = pc_weight_gradients(mlp, x, hidden, target)
        _, bp = bp_loss_and_gradients(mlp, x, y)

        for layer, (g_pc, g_bp) in enumerate(zip(pc.weights, bp.weights, strict=True), start=1):
            g_pc = g_pc / beta
            cosine = float(jnp.vdot(g_pc, g_bp) / (jnp.linalg.norm(g_pc) * jnp.linalg.norm(g_bp)))
            assert cosine > 0.99, f"layer {layer}: cosine {cosine:.5f}"


@pytest.mark.parametrize("optimizer", [0, 1])
def test_weight_optimizer_selects_adamw_or_sgd(optimizer: int) -> None:
    """The weight optimiser is an integer hyperparameter (0 AdamW, 1 SGD), traced like any other."""
    params = {"w": jnp.array([1.0, -2.0, 3.0])}
    grads = {"w": jnp.array([0.5, 0.1, -0.3])}
    chosen = weight_optimizer(jnp.int32(optimizer), 0.01, weight_decay=1e-4, momentum=0.9)
    adamw = standard_promotion(optax.adamw(0.01, weight_decay=1e-4))
    state, ref_state = chosen.init(params), adamw.init(params)
    v = np.zeros(3)
    for _ in range(3):
        updates, state = chosen.update(grads, state, params)
        if optimizer == 0:
            expected, ref_state = adamw.update(grads, ref_state, params)
            expected = expected["w"]
        else:  # by hand: v ← 0.9 v + g; Δθ = −lr (v + wd θ), the decay outside the momentum
            v = 0.9 * v + np.asarray(grads["w"])
            expected = -0.01 * (v + 1e-4 * np.asarray(params["w"]))
        np.testing.assert_allclose(updates["w"], expected, rtol=1e-6)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_learns_a_fixed_batch_without_rank_promotion(algorithm: str) -> None:
    # Strict *dtype* promotion is left out: optax's Adam bias correction (1 - b1**count) needs it.
    algo = PCNAlgorithm((6, 12, 12, 3), algorithm=algorithm, activation="tanh", inference_steps=4)
    hp = pcn_hyper(0.1, 0.01, "adamw")
    x = jax.random.normal(jax.random.PRNGKey(0), (24, 6))
    y = jnp.arange(24, dtype=jnp.int32) % 3
    with jax.numpy_rank_promotion("raise"):
        step = jax.jit(algo.train_step)
        carry = algo.init(jax.random.PRNGKey(1), hp)
        first = float(jnp.mean(algo.evaluate(carry, hp, x, y)["loss"]))
        for _ in range(30):
            carry, metrics = step(carry, hp, x, y, jax.random.PRNGKey(0))
        last = float(jnp.mean(algo.evaluate(carry, hp, x, y)["loss"]))
    assert metrics["energy_trace"].shape == (5, 3)
    assert metrics["energies"].shape == (3,)
    assert last < 0.7 * first


REFERENCE_ACTIVATIONS = {
    "relu": lambda a: np.maximum(a, 0.0),
    "leaky_relu": lambda a: np.where(a >= 0, a, 0.01 * a),
    "gelu": lambda a: 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a**3))),
    "tanh": np.tanh,
    "hard_tanh": lambda a: np.clip(a, -1.0, 1.0),
}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hidden_layers_use_the_activation_and_the_output_is_linear(activation: str) -> None:
    mlp = init_mlp(jax.random.PRNGKey(7), (3, 5, 2), activation=activation)
    x = 2.0 * jax.random.normal(jax.random.PRNGKey(8), (6, 3))
    w1, w2 = (np.asarray(w, np.float64) for w in mlp.weights)
    b1, b2 = (np.asarray(b, np.float64) for b in mlp.biases)
    h1 = REFERENCE_ACTIVATIONS[activation](np.asarray(x, np.float64) @ w1.T + b1)

    states = forward_pass(mlp, x)

    np.testing.assert_allclose(states[0], h1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(states[1], h1 @ w2.T + b2, rtol=1e-5, atol=1e-6)
