"""A discriminative PCN (or its BP twin) as one :class:`pcdash.engine.Algorithm`, trained by a
learning rule composed of the parts of :mod:`pcdash.pcn.rules`.

One training step on a batch (PCX paper, Fig. 1b and Appendix A): the rule's output target
``h_L``, then its weight-update schedule — for standard PC forward initialisation, ``T``
inference steps on the states and one optimiser step on the weights with
``∇_θ F(h^{(T)}, θ)`` — with the rule's gradient source (PC, or BP's ``∇_θ ℓ(μ_L(x), y)``).
Evaluation is a forward pass.

Per-member hyperparameters (:class:`PCNHyper`) are the state learning rate γ, the weight
learning rate and the weight optimiser (an integer index into
:data:`~pcdash.pcn.optimizers.WEIGHT_OPTIMIZERS`: AdamW or SGD with momentum), so all of them
vary inside one compiled program. Everything else is a static field.

Static switches on any PC rule, the conditions of the BP-vs-PC comparison:
``inference_tol`` — converged inference (condition 2 kept): up to ``T`` steps, stopping when the
relative energy change falls below the tolerance (0: always ``T`` steps; only with one weight
update per batch); ``precision`` — trainable log-variances (condition 3 relaxed), ``"layer"``
or ``"neuron"``: ``F_l = ½ Σ_i exp(−s_{l,i}) ε_{l,i}² + s_{l,i}``, learned with the weights by
the weight optimiser; ``update_every = k`` — relaxed convergence (condition 2 relaxed), the
``"every_k"`` schedule in place of ``"after_T"``; ``weight_decay`` — decoupled decay of AdamW
and SGD (on the weights and log-variances); ``l2_decay = λ`` — coupled decay, a Gaussian prior
on the weights and log-variances: the gradient of ``½ λ ‖(θ, s)‖²`` joins ``∇F`` before the
optimiser (PyTorch's ``Adam(weight_decay=λ)``, the reading of the BP-vs-PC comparison's §2.3:
"a Gaussian unit prior", ``Σ → 1``); ``alignment`` — also report ``bp_cosine``, per layer, the
cosine between the PC weight update of the step and the BP gradient at the step's starting
weights; ``state_init`` — how the free states start inference (PCX §5.1, Fig. 6a): ``"forward"``
(a forward pass, the default), ``"zero"`` or ``"gaussian"`` (drawn from the step's key), see
:func:`~pcdash.pcn.inference.init_states`. Nudging's β grows per epoch
(:func:`pcdash.pcn.rules.beta`); the carry counts steps
and the epoch is ``step // steps_per_epoch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from pcdash.engine import all_finite
from pcdash.pcn.energies import init_log_var, output_energy
from pcdash.pcn.gradients import bp_loss_and_gradients
from pcdash.pcn.inference import (
    STATE_INITS,
    clamped_energy,
    init_states,
    relax,
    relax_to_convergence,
)
from pcdash.pcn.network import ACTIVATIONS, MLP, forward_pass, init_mlp
from pcdash.pcn.optimizers import (
    STATE_OPTIMIZERS,
    WEIGHT_OPTIMIZERS,
    state_optimizer,
    weight_optimizer,
)
from pcdash.pcn.rules import CN_SCHEDULES, GRADIENTS, RULES, TARGETS, Context, Rule, beta

ALGORITHMS = tuple(RULES)
NUDGING = tuple(name for name, rule in RULES.items() if rule.target != "clamp")
ALGORITHM_LABELS = {
    "pc-se": "PC-SE",
    "pc-ce": "PC-CE",
    "bp-se": "BP-SE",
    "bp-ce": "BP-CE",
    "ipc": "iPC",
    "pn": "PN",
    "nn": "NN",
    "cn": "CN",
}
PRECISIONS = (
    "none",
    "layer",
    "neuron",
)  # trainable log-variances: off, one per layer, one per unit
LogVar = tuple[Float[Array, " _"], ...]


class PCNHyper(NamedTuple):
    """One member's hyperparameters (or, stacked, every member's): γ, the weight learning rate
    and the weight optimiser's index in :data:`~pcdash.pcn.optimizers.WEIGHT_OPTIMIZERS`."""

    state_lr: Float[Array, ""]
    weight_lr: Float[Array, ""]
    weight_optimizer: Int[Array, ""]


def pcn_hyper(
    state_lr: float | Sequence[float],
    weight_lr: float | Sequence[float],
    weight_optimizer: str | Sequence[str],
) -> PCNHyper:
    """:class:`PCNHyper` from values or per-member lists; optimisers by name (``"adamw"``,
    ``"sgd"``). A NaN γ (BP, which has no inference) becomes 0."""
    names = [weight_optimizer] if isinstance(weight_optimizer, str) else list(weight_optimizer)
    unknown = [n for n in names if n not in WEIGHT_OPTIMIZERS]
    if unknown:
        raise ValueError(
            f"unknown weight optimizer {unknown[0]!r}; choose from {', '.join(WEIGHT_OPTIMIZERS)}"
        )
    ids = np.asarray([WEIGHT_OPTIMIZERS.index(n) for n in names], np.int32)
    gamma = np.nan_to_num(np.asarray(state_lr, np.float32), nan=0.0)
    lr = np.asarray(weight_lr, np.float32)
    # host arrays; the jitted code they are passed to sees jax Arrays
    hyper = cast(tuple[Array, Array], (gamma, lr))
    if isinstance(weight_optimizer, str):
        return PCNHyper(*hyper, cast(Array, ids[0]))
    return PCNHyper(*hyper, cast(Array, ids))


class PCNCarry(NamedTuple):
    """One member's training state: weights, optimiser state (over ``(mlp, log_var)``), the
    number of training steps taken, the log-variances of layers ``1 … L`` (zeros unless
    ``precision``) and the member's own key for centred nudging's per-epoch draws."""

    mlp: MLP
    opt_state: optax.OptState
    step: Array | int = 0
    log_var: LogVar | None = None
    nudge_key: PRNGKeyArray | None = None


@dataclass(frozen=True)
class PCNAlgorithm:
    """A PCN (or its BP twin) on an MLP with layer widths ``sizes = (d_0, …, d_L)``, trained by
    the rule named ``algorithm`` (:data:`pcdash.pcn.rules.RULES`).

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
    precision: str = "none"  # "none", "layer" or "neuron" (True/False mean "layer"/"none")
    update_every: int = 0  # 0: after all T inference steps (standard PC)
    inference_tol: float = 0.0  # > 0: stop inference when the relative energy change is below it
    l2_decay: float = (
        0.0  # coupled weight decay: the gradient of ½λ‖(θ, s)‖² added before the optimiser
    )
    beta0: float = 0.1
    beta_rate: float = 0.1
    cn_schedule: str = "random"
    alignment: bool = False
    state_init: str = "forward"  # "forward", "zero" or "gaussian" (PCX Fig. 6a)
    steps_per_epoch: int = 0  # training steps per epoch (nudging's β schedule); 0: always epoch 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if isinstance(self.precision, bool):
            object.__setattr__(self, "precision", "layer" if self.precision else "none")
        for what, value, allowed in (
            ("precision", self.precision, PRECISIONS),
            ("CN schedule", self.cn_schedule, CN_SCHEDULES),
            ("algorithm", self.algorithm, ALGORITHMS),
            ("activation", self.activation, tuple(ACTIVATIONS)),
            ("state optimizer", self.state_optimizer, STATE_OPTIMIZERS),
            ("state initialisation", self.state_init, STATE_INITS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"bad layer sizes {self.sizes}")
        k = self.update_every
        if k and (k < 1 or self.inference_steps % k):
            raise ValueError(
                f"update_every {k} must divide the inference steps {self.inference_steps}"
            )

    @property
    def rule(self) -> Rule:
        """The learning rule: the named one, with the ``"every_k"`` schedule when
        ``update_every`` relaxes the convergence of a rule that updates after T steps."""
        rule = RULES[self.algorithm]
        if self.update_every and rule.schedule == "after_T":
            return Rule(rule.loss, rule.target, "every_k", rule.gradient)
        return rule

    @property
    def loss(self) -> str:
        """The output energy / loss: ``"se"`` or ``"ce"`` (iPC and nudging use ``"se"``)."""
        return self.rule.loss

    @property
    def is_pc(self) -> bool:
        return self.rule.gradient == "pc"

    @property
    def converges(self) -> bool:
        """Inference stops early at convergence (``inference_tol > 0``, one weight update per
        batch: iPC and relaxed convergence always run all T steps)."""
        return self.is_pc and self.inference_tol > 0 and self.rule.schedule == "after_T"

    @property
    def num_layers(self) -> int:
        """``L``: energies are reported for layers ``1 … L`` (first hidden … output)."""
        return len(self.sizes) - 1

    def _weight_optimizer(self, hp: PCNHyper) -> optax.GradientTransformation:
        opt = weight_optimizer(
            hp.weight_optimizer,
            hp.weight_lr,
            weight_decay=self.weight_decay,
            momentum=self.weight_momentum,
        )
        if self.l2_decay > 0:  # λθ joins the gradient before the optimiser: the prior's term
            opt = optax.chain(optax.add_decayed_weights(self.l2_decay), opt)
        return opt

    def _state_optimizer(self, hp: PCNHyper) -> optax.GradientTransformation:
        return state_optimizer(hp.state_lr, name=self.state_optimizer, momentum=self.state_momentum)

    def context(self, hp: PCNHyper, key: PRNGKeyArray | None = None) -> Context:
        """The rule's parts' view of this algorithm and one member's hyperparameters (``key``:
        the step's, from which a Gaussian start of the states is drawn)."""
        return Context(
            self.loss,
            self.inference_steps,
            self._state_optimizer(hp),
            self._weight_optimizer(hp),
            precision=self.precision != "none",
            every=max(int(self.update_every), 1),
            tol=self.inference_tol if self.converges else 0.0,
            beta0=self.beta0,
            beta_rate=self.beta_rate,
            cn_schedule=self.cn_schedule,
            state_init=self.state_init,
            key=key,
        )

    def epoch(self, step: Int[Array, ""] | int) -> Int[Array, ""]:
        """The epoch (from 0) of training step ``step``."""
        if self.steps_per_epoch < 1:  # no schedule known: stay in epoch 0 (β = β_0, CN positive)
            return jnp.int32(0)
        return jnp.asarray(step, jnp.int32) // self.steps_per_epoch

    def nudge(
        self, step: Int[Array, ""] | int, key: PRNGKeyArray | None = None
    ) -> tuple[Array, Array]:
        """``(sign, β)`` of step ``step``: the output target is ``μ_L + sign · β (y − μ_L)`` and
        the weight update is multiplied by ``sign``; ``(1, 1)`` for the rules that clamp the
        label. ``key`` is the member's ``nudge_key``."""
        if self.rule.target == "clamp":
            return jnp.float32(1.0), jnp.float32(1.0)
        ctx = Context(
            self.loss,
            self.inference_steps,
            optax.identity(),
            optax.identity(),
            beta0=self.beta0,
            beta_rate=self.beta_rate,
            cn_schedule=self.cn_schedule,
        )
        epoch = self.epoch(step)
        _, sign = TARGETS[self.rule.target](ctx, jnp.zeros((1, 1)), jnp.ones((1, 1)), epoch, key)
        return sign, beta(ctx, epoch)

    def _prepare(
        self, x: Array, y: Array
    ) -> tuple[Float[Array, "batch d_0"], Float[Array, "batch k"]]:
        return x.reshape(x.shape[0], -1), jax.nn.one_hot(y, self.sizes[-1], dtype=x.dtype)

    def init(self, key: PRNGKeyArray, hp: PCNHyper) -> PCNCarry:
        mlp = init_mlp(key, self.sizes, activation=self.activation)
        log_var = init_log_var(self.sizes, per_neuron=self.precision == "neuron")
        nudge_key = jax.random.fold_in(key, 0x4E)  # CN's draws, independent of the weights'
        return PCNCarry(
            mlp, self._weight_optimizer(hp).init((mlp, log_var)), jnp.int32(0), log_var, nudge_key
        )

    def relax(
        self,
        mlp: MLP,
        hp: PCNHyper,
        x: Float[Array, "batch d_0"],
        target: Float[Array, "batch k"],
        log_var: LogVar | None = None,
    ) -> tuple[tuple[Array, ...], Float[Array, "steps_plus_1 L"]]:
        """Inference on one batch, weights fixed: relaxed hidden states and energies ``(T + 1, L)``.

        For BP the states stay at the forward pass: hidden energies are zero and the output
        energy is the loss, at every step.
        """
        if not self.is_pc:
            hidden = forward_pass(mlp, x)[:-1]
            energies = clamped_energy(mlp, x, target, loss=self.loss)(hidden)[1]
            return hidden, jnp.broadcast_to(
                energies[None, :], (self.inference_steps + 1, self.num_layers)
            )
        lv = log_var if self.precision != "none" else None
        energy_fn = clamped_energy(mlp, x, target, loss=self.loss, log_var=lv)
        opt = self._state_optimizer(hp)
        if self.converges:
            hidden, trace, _ = relax_to_convergence(
                energy_fn,
                init_states(mlp, x, self.state_init),
                optimizer=opt,
                max_steps=self.inference_steps,
                tol=self.inference_tol,
            )
            return hidden, trace
        hidden, _, trace = relax(
            energy_fn,
            init_states(mlp, x, self.state_init),
            optimizer=opt,
            steps=self.inference_steps,
        )
        return hidden, jnp.concatenate([trace, energy_fn(hidden)[1][None, :]], axis=0)

    def train_step(
        self,
        carry: PCNCarry,
        hp: PCNHyper,
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ) -> tuple[PCNCarry, dict[str, Array]]:
        """The rule's target, then its weight-update schedule with its gradient source.

        Metrics: ``loss`` (output loss of the forward pass, comparable across algorithms; NaN
        if any state, energy or new weight is not finite), ``accuracy`` (of the forward pass),
        ``energy`` (``F`` at the end of inference), ``energies`` ``(L,)``, ``energy_trace``
        ``(T + 1, L)``, ``steps_used`` (inference steps taken: ``T``, fewer when converged
        inference stopped early, 0 for BP); ``nudge_sign`` (+1 PN, −1 NN) for the nudging
        rules; ``log_var`` (per-layer mean log-variance) with trainable precision.
        """
        mlp, opt_state, step, log_var, nudge_key = carry
        if log_var is None:
            log_var = init_log_var(self.sizes, per_neuron=self.precision == "neuron")
        rule, ctx = self.rule, self.context(hp, key)
        x, y_hot = self._prepare(x, y)
        logits = forward_pass(mlp, x)[-1]
        loss = output_energy(y_hot, logits, loss=self.loss)  # the output loss of the forward pass
        target, sign = TARGETS[rule.target](ctx, logits, y_hot, self.epoch(step), nudge_key)
        learned = GRADIENTS[rule.gradient](
            ctx, rule.schedule, (mlp, log_var), opt_state, x, target, sign
        )
        new_mlp, log_var = learned.params
        # The engine flags a member whose loss is not finite: states or weights that blew up
        # during this step count too, not only from the next step's forward pass on.
        finite = all_finite(learned.trace, log_var, new_mlp)
        metrics = {
            "loss": jnp.where(finite, loss, jnp.nan),
            "accuracy": jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)),
            "energy": jnp.sum(learned.energies),
            "energies": learned.energies,
            "energy_trace": learned.trace,
            "steps_used": learned.used.astype(jnp.float32),
        }
        if rule.target != "clamp":
            metrics["nudge_sign"] = sign
        if self.precision != "none":
            metrics["log_var"] = jnp.stack([jnp.mean(s) for s in log_var])
        if self.alignment:
            metrics["bp_cosine"] = layer_cosines(
                learned.direction, bp_loss_and_gradients(mlp, x, y_hot, loss=self.loss)[1]
            )
        return PCNCarry(new_mlp, learned.opt_state, step + 1, log_var, nudge_key), metrics

    def evaluate(
        self,
        carry: PCNCarry,
        hp: PCNHyper,
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
        hp: PCNHyper,
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
    ) -> Float[Array, "steps_plus_1 L"]:
        """Per-layer energies over the inference steps on a chosen batch, weights unchanged."""
        x, target = self._prepare(x, y)
        return self.relax(carry.mlp, hp, x, target, carry.log_var)[1]


def layer_cosines(a: MLP, b: MLP) -> Float[Array, " L"]:
    """Per layer ``l``: the cosine between ``(W_l, b_l)`` of ``a`` and of ``b``, flattened."""
    out = []
    for wa, ba, wb, bb in zip(a.weights, a.biases, b.weights, b.biases, strict=True):
        va, vb = (
            jnp.concatenate([wa.ravel(), ba.ravel()]),
            jnp.concatenate([wb.ravel(), bb.ravel()]),
        )
        out.append(jnp.dot(va, vb) / (jnp.linalg.norm(va) * jnp.linalg.norm(vb) + 1e-12))
    return jnp.stack(out)
