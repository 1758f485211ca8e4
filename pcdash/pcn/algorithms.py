"""PC-SE, PC-CE, BP-SE and BP-CE as one :class:`pcdash.engine.Algorithm`.

One training step on a batch (PCX paper, Fig. 1b and Appendix A): forward initialisation,
``T`` inference steps on the states, then one optimiser step on the weights with
``∇_θ F(h^{(T)}, θ)``. The BP variants take ``∇_θ ℓ(μ_L(x), y)`` instead. Evaluation is a
forward pass. Per-member hyperparameters (``hp``) are the state learning rate γ
(``state_lr``), the weight learning rate (``weight_lr``) and the weight optimiser (``opt_id``:
0 AdamW, 1 SGD with momentum), so all of them can vary inside one compiled program.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.pcn.energies import layer_energies
from pcdash.pcn.gradients import bp_loss_and_gradients, pc_weight_gradients
from pcdash.pcn.inference import inference
from pcdash.pcn.network import ACTIVATIONS, MLP, forward_pass, init_mlp
from pcdash.pcn.optimizers import STATE_OPTIMIZERS, weight_optimizer

ALGORITHMS = ("pc-se", "pc-ce", "bp-se", "bp-ce")
HYPERPARAMETERS = ("state_lr", "weight_lr", "opt_id")


class PCNCarry(NamedTuple):
    """One member's training state."""

    mlp: MLP
    opt_state: optax.OptState


@dataclass(frozen=True)
class PCNAlgorithm:
    """A PCN (or its BP twin) on an MLP with layer widths ``sizes = (d_0, …, d_L)``.

    Fields are static: two equal instances share one compiled program.
    """

    sizes: tuple[int, ...]
    algorithm: str = "pc-se"
    activation: str = "leaky_relu"
    inference_steps: int = 8
    state_optimizer: str = "sgd"
    state_momentum: float = 0.9
    weight_decay: float = 1e-4
    weight_momentum: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"unknown algorithm {self.algorithm!r}; choose from {', '.join(ALGORITHMS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        if self.state_optimizer not in STATE_OPTIMIZERS:
            raise ValueError(f"unknown state optimizer {self.state_optimizer!r}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"bad layer sizes {self.sizes}")

    @property
    def loss(self) -> str:
        """The output energy / loss: ``"se"`` or ``"ce"``."""
        return self.algorithm.rsplit("-", 1)[1]

    @property
    def is_pc(self) -> bool:
        return self.algorithm.startswith("pc")

    @property
    def num_layers(self) -> int:
        """``L``: energies are reported for layers ``1 … L`` (first hidden … output)."""
        return len(self.sizes) - 1

    def _weight_optimizer(self, hp: Mapping[str, Array]) -> optax.GradientTransformation:
        return weight_optimizer(
            hp["opt_id"],
            hp["weight_lr"],
            weight_decay=self.weight_decay,
            momentum=self.weight_momentum,
        )

    def _prepare(
        self, x: Array, y: Array
    ) -> tuple[Float[Array, "batch d_0"], Float[Array, "batch k"]]:
        return x.reshape(x.shape[0], -1), jax.nn.one_hot(y, self.sizes[-1], dtype=x.dtype)

    def init(self, key: PRNGKeyArray, hp: Mapping[str, Array]) -> PCNCarry:
        mlp = init_mlp(key, self.sizes, activation=self.activation)
        return PCNCarry(mlp, self._weight_optimizer(hp).init(mlp))

    def relax(
        self,
        mlp: MLP,
        hp: Mapping[str, Array],
        x: Float[Array, "batch d_0"],
        target: Float[Array, "batch k"],
    ) -> tuple[tuple[Array, ...], Float[Array, "steps_plus_1 L"]]:
        """Inference on one batch: relaxed hidden states and energies ``(T + 1, L)``.

        For BP the states stay at the forward pass: hidden energies are zero and the output
        energy is the loss, at every step.
        """
        if self.is_pc:
            return inference(
                mlp,
                x,
                target,
                steps=self.inference_steps,
                state_lr=hp["state_lr"],
                optimizer=self.state_optimizer,
                momentum=self.state_momentum,
                loss=self.loss,
            )
        hidden = forward_pass(mlp, x)[:-1]
        energies = layer_energies(mlp, x, hidden, target, loss=self.loss)
        return hidden, jnp.broadcast_to(
            energies[None, :], (self.inference_steps + 1, self.num_layers)
        )

    def train_step(
        self,
        carry: PCNCarry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ) -> tuple[PCNCarry, dict[str, Array]]:
        """Inference then one weight update.

        Metrics: ``loss`` (output loss of the forward pass, comparable across algorithms; NaN
        if any state, energy or new weight is not finite), ``accuracy`` (of the forward pass),
        ``energy`` (``F`` at the end of inference), ``energies`` ``(L,)`` and
        ``energy_trace`` ``(T + 1, L)``.
        """
        del key  # deterministic
        mlp, opt_state = carry
        x, target = self._prepare(x, y)
        logits = forward_pass(mlp, x)[-1]
        if self.is_pc:
            hidden, trace = self.relax(mlp, hp, x, target)
            grads, energies = pc_weight_gradients(mlp, x, hidden, target, loss=self.loss)
            loss = trace[0, -1]  # at forward initialisation F = F_L = the output loss
        else:
            loss, grads = bp_loss_and_gradients(mlp, x, target, loss=self.loss)
            _, trace = self.relax(mlp, hp, x, target)
            energies = trace[-1]
        updates, opt_state = self._weight_optimizer(hp).update(grads, opt_state, mlp)
        new_mlp = optax.apply_updates(mlp, updates)
        # The engine flags a member whose loss is not finite: states or weights that blew up
        # during this step count too, not only from the next step's forward pass on.
        finite = jnp.all(jnp.isfinite(trace))
        for leaf in jax.tree_util.tree_leaves(new_mlp):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        metrics = {
            "loss": jnp.where(finite, loss, jnp.nan),
            "accuracy": jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)),
            "energy": jnp.sum(energies),
            "energies": energies,
            "energy_trace": trace,
        }
        return PCNCarry(new_mlp, opt_state), metrics

    def evaluate(
        self,
        carry: PCNCarry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
    ) -> dict[str, Float[Array, " batch"]]:
        """Forward pass. Per example: ``accuracy``; ``loss`` (the algorithm's output loss);
        ``ce`` = ``−log softmax(μ_L)_y``; ``mse`` = mean squared error of the output in its own
        space (``μ_L`` for SE, ``softmax(μ_L)`` for CE) against the one-hot label."""
        x, target = self._prepare(x, y)
        logits = forward_pass(carry.mlp, x)[-1]
        log_p = jax.nn.log_softmax(logits, axis=-1)
        ce = -jnp.sum(target * log_p, axis=-1)
        out = logits if self.loss == "se" else jnp.exp(log_p)
        sq = jnp.sum(jnp.square(out - target), axis=-1)
        return {
            "accuracy": (jnp.argmax(logits, axis=-1) == y).astype(jnp.float32),
            "loss": 0.5 * sq if self.loss == "se" else ce,
            "ce": ce,
            "mse": sq / target.shape[-1],
        }

    def energy_trace(
        self,
        carry: PCNCarry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
    ) -> Float[Array, "steps_plus_1 L"]:
        """Per-layer energies over the inference steps on a chosen batch, weights unchanged."""
        x, target = self._prepare(x, y)
        return self.relax(carry.mlp, hp, x, target)[1]
