"""PC-SE, PC-CE, BP-SE, BP-CE, iPC and the nudging rules (PN, NN, CN) as one
:class:`pcdash.engine.Algorithm`.

One training step on a batch (PCX paper, Fig. 1b and Appendix A): forward initialisation,
``T`` inference steps on the states, then one optimiser step on the weights with
``∇_θ F(h^{(T)}, θ)``. The BP variants take ``∇_θ ℓ(μ_L(x), y)`` instead. Evaluation is a
forward pass. Per-member hyperparameters (``hp``) are the state learning rate γ
(``state_lr``), the weight learning rate (``weight_lr``) and the weight optimiser (``opt_id``:
0 AdamW, 1 SGD with momentum), so all of them can vary inside one compiled program.

The other learning rules (PCX paper, §4 and Appendix B), all with the squared-error output:

* ``ipc`` — incremental PC: states and weights are updated together at *every* inference step
  (T weight updates per batch), both from the same ``(h^{(t)}, θ^{(t)})``:
  ``h^{(t+1)} = h^{(t)} − γ ∇_h F(h^{(t)}, θ^{(t)})`` and ``θ^{(t+1)} = θ^{(t)} − η ∇_θ F(h^{(t)}, θ^{(t)})``
  (through their optimisers).
* ``pn`` — positive nudging: the output is clamped to ``μ_L + β (y − μ_L)`` (``μ_L`` of the
  forward pass) instead of ``y``.
* ``nn`` — negative nudging: clamped to ``μ_L − β (y − μ_L)``, and the weight update inverted.
* ``cn`` — centred nudging: each epoch is PN or NN, picked at random (``cn_schedule="random"``,
  the paper's rule; the draw of epoch ``e`` is ``Bernoulli(½)`` from the member's own key, so it
  is reproducible for a seed and differs across seeds) or alternating PN, NN, PN, …
  (``cn_schedule="alternate"``).

β follows the paper's schedule: ``β_e = min(1, β_0 + β_ir · e)`` in epoch ``e = 0, 1, …``. The
engine's ``train_step`` gets no epoch, so the carry counts steps and the epoch is
``step // hp["steps_per_epoch"]`` (every nudging member must get ``steps_per_epoch`` in hp).

Switches on any PC rule (static fields), the conditions of the BP-vs-PC comparison:
``inference_tol`` — converged inference (condition 2 kept): up to ``T`` steps, stopping when the
relative energy change falls below the tolerance (0: always ``T`` steps); ``precision`` —
trainable log-variances (condition 3 relaxed), ``"layer"`` (one per layer) or ``"neuron"``
(one per unit): ``F_l = ½ Σ_i exp(−s_{l,i}) ε_{l,i}² + s_{l,i}``, learned with the weights by the
weight optimiser; ``update_every = k`` — relaxed convergence (condition 2 relaxed), the weights
are updated every ``k`` inference steps from the current states instead of once after all ``T``;
``weight_decay`` — decoupled decay of AdamW and SGD (on the weights and log-variances);
``l2_decay = λ`` — coupled decay, a Gaussian prior on the weights and log-variances: the
gradient of ``½ λ ‖(θ, s)‖²`` joins ``∇F`` before the optimiser (PyTorch's ``Adam(weight_decay=λ)``,
the reading of the BP-vs-PC comparison's §2.3: "a Gaussian unit prior", ``Σ → 1``);
``alignment`` — also report ``bp_cosine``, per layer, the cosine between the PC weight update
of the step and the BP gradient at the step's starting weights; ``state_init`` — how the free
states start inference (PCX §5.1, Fig. 6a): ``"forward"`` (a forward pass, the default),
``"zero"`` or ``"gaussian"`` (drawn from the step's key), see :func:`~pcdash.pcn.inference.init_states`.
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
from pcdash.pcn.energies import init_log_var, layer_energies, output_energy
from pcdash.pcn.gradients import bp_loss_and_gradients, nudged_target, pc_weight_gradients
from pcdash.pcn.inference import STATE_INITS, converged_inference, inference, init_states, relax_steps
from pcdash.pcn.network import ACTIVATIONS, MLP, forward_pass, init_mlp
from pcdash.pcn.optimizers import STATE_OPTIMIZERS, state_optimizer, weight_optimizer

ALGORITHMS = ("pc-se", "pc-ce", "bp-se", "bp-ce", "ipc", "pn", "nn", "cn")
NUDGING = ("pn", "nn", "cn")
ALGORITHM_LABELS = {"pc-se": "PC-SE", "pc-ce": "PC-CE", "bp-se": "BP-SE", "bp-ce": "BP-CE", "ipc": "iPC",
                    "pn": "PN", "nn": "NN", "cn": "CN"}  # fmt: skip
HYPERPARAMETERS = ("state_lr", "weight_lr", "opt_id", "steps_per_epoch")
PRECISIONS = ("none", "layer", "neuron")  # trainable log-variances: off, one per layer, one per unit
CN_SCHEDULES = ("random", "alternate")
LogVar = tuple[Float[Array, " _"], ...]


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
    precision: str = "none"  # "none", "layer" or "neuron" (True/False mean "layer"/"none")
    update_every: int = 0  # 0: after all T inference steps (standard PC)
    inference_tol: float = 0.0  # > 0: stop inference when the relative energy change is below it
    l2_decay: float = 0.0  # coupled weight decay: the gradient of ½λ‖(θ, s)‖² added before the optimiser
    beta0: float = 0.1
    beta_rate: float = 0.1
    cn_schedule: str = "random"
    alignment: bool = False
    state_init: str = "forward"  # "forward", "zero" or "gaussian" (PCX Fig. 6a)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))
        if isinstance(self.precision, bool):
            object.__setattr__(self, "precision", "layer" if self.precision else "none")
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.cn_schedule not in CN_SCHEDULES:
            raise ValueError(f"unknown CN schedule {self.cn_schedule!r}; choose from {', '.join(CN_SCHEDULES)}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"unknown algorithm {self.algorithm!r}; choose from {', '.join(ALGORITHMS)}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        if self.state_init not in STATE_INITS:
            raise ValueError(f"unknown state initialisation {self.state_init!r}; choose from {', '.join(STATE_INITS)}")
        if self.state_optimizer not in STATE_OPTIMIZERS:
            raise ValueError(f"unknown state optimizer {self.state_optimizer!r}")
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"bad layer sizes {self.sizes}")
        k = self.weight_update_interval
        if k and (k < 1 or self.inference_steps % k):
            raise ValueError(f"update_every {k} must divide the inference steps {self.inference_steps}")

    @property
    def loss(self) -> str:
        """The output energy / loss: ``"se"`` or ``"ce"`` (iPC and nudging use ``"se"``)."""
        return self.algorithm.rsplit("-", 1)[1] if "-" in self.algorithm else "se"

    @property
    def is_pc(self) -> bool:
        return not self.algorithm.startswith("bp")

    @property
    def weight_update_interval(self) -> int:
        """Inference steps between weight updates: 1 for iPC, ``update_every`` if set, else 0
        (one update after all T steps)."""
        return 1 if self.algorithm == "ipc" else int(self.update_every)

    @property
    def converges(self) -> bool:
        """Inference stops early at convergence (``inference_tol > 0``, one weight update per
        batch: iPC and relaxed convergence always run all T steps)."""
        return self.is_pc and self.inference_tol > 0 and not self.weight_update_interval

    def nudge(
        self, hp: Mapping[str, Array], step: Array, key: PRNGKeyArray | None = None
    ) -> tuple[Array, Array]:
        """``(sign, β)`` of this step: the output target is ``μ_L + sign · β (y − μ_L)`` and the
        weight update is multiplied by ``sign``. ``(1, 1)`` for the non-nudging rules. ``key``
        is the member's ``nudge_key`` (CN's random schedule draws epoch ``e``'s sign from
        ``fold_in(key, e)``)."""
        if self.algorithm not in NUDGING:
            return jnp.float32(1.0), jnp.float32(1.0)
        if "steps_per_epoch" in hp:
            spe = jnp.maximum(jnp.round(hp["steps_per_epoch"]).astype(jnp.int32), 1)
            epoch = jnp.asarray(step, jnp.int32) // spe
        else:  # no schedule known: stay in epoch 0 (β = β_0, CN positive)
            epoch = jnp.int32(0)
        beta = jnp.minimum(1.0, self.beta0 + self.beta_rate * epoch.astype(jnp.float32))
        if self.algorithm == "pn":
            sign = jnp.float32(1.0)
        elif self.algorithm == "nn":
            sign = jnp.float32(-1.0)
        elif self.cn_schedule == "alternate":  # even epochs positive, odd epochs negative
            sign = jnp.where(epoch % 2 == 0, 1.0, -1.0).astype(jnp.float32)
        else:
            if key is None:
                raise ValueError("centred nudging with the random schedule needs the member's nudge_key")
            positive = jax.random.bernoulli(jax.random.fold_in(key, epoch))
            sign = jnp.where(positive, 1.0, -1.0).astype(jnp.float32)
        return sign, beta

    @property
    def num_layers(self) -> int:
        """``L``: energies are reported for layers ``1 … L`` (first hidden … output)."""
        return len(self.sizes) - 1

    def _weight_optimizer(self, hp: Mapping[str, Array]) -> optax.GradientTransformation:
        opt = weight_optimizer(
            hp["opt_id"],
            hp["weight_lr"],
            weight_decay=self.weight_decay,
            momentum=self.weight_momentum,
        )
        if self.l2_decay > 0:  # λθ joins the gradient before the optimiser: the prior's term
            opt = optax.chain(optax.add_decayed_weights(self.l2_decay), opt)
        return opt

    def _prepare(
        self, x: Array, y: Array
    ) -> tuple[Float[Array, "batch d_0"], Float[Array, "batch k"]]:
        return x.reshape(x.shape[0], -1), jax.nn.one_hot(y, self.sizes[-1], dtype=x.dtype)

    def init(self, key: PRNGKeyArray, hp: Mapping[str, Array]) -> PCNCarry:
        mlp = init_mlp(key, self.sizes, activation=self.activation)
        log_var = init_log_var(self.sizes, per_neuron=self.precision == "neuron")
        nudge_key = jax.random.fold_in(key, 0x4E)  # CN's draws, independent of the weights'
        return PCNCarry(mlp, self._weight_optimizer(hp).init((mlp, log_var)), jnp.int32(0), log_var, nudge_key)

    def _log_var(self, log_var: LogVar | None) -> LogVar | None:
        """The log-variances that enter the energy: None unless precision is trainable."""
        return log_var if self.precision != "none" else None

    def relax(
        self,
        mlp: MLP,
        hp: Mapping[str, Array],
        x: Float[Array, "batch d_0"],
        target: Float[Array, "batch k"],
        log_var: LogVar | None = None,
    ) -> tuple[tuple[Array, ...], Float[Array, "steps_plus_1 L"]]:
        """Inference on one batch: relaxed hidden states and energies ``(T + 1, L)``.

        For BP the states stay at the forward pass: hidden energies are zero and the output
        energy is the loss, at every step.
        """
        return self._infer(mlp, hp, x, target, log_var)[:2]

    def _hidden0(self, mlp: MLP, x: Array, key: PRNGKeyArray | None = None) -> tuple[Array, ...]:
        """The states inference starts from (``state_init``; a Gaussian start draws from ``key``)."""
        return init_states(mlp, x, self.state_init, key=key)

    def _infer(self, mlp, hp, x, target, log_var=None, key=None):
        """:meth:`relax`, and the number of state updates taken (T, fewer if it converged)."""
        if not self.is_pc:
            hidden = forward_pass(mlp, x)[:-1]
            energies = layer_energies(mlp, x, hidden, target, loss=self.loss)
            trace = jnp.broadcast_to(energies[None, :], (self.inference_steps + 1, self.num_layers))
            return hidden, trace, jnp.int32(0)
        kw = dict(state_lr=hp["state_lr"], optimizer=self.state_optimizer, momentum=self.state_momentum,
                  loss=self.loss, log_var=self._log_var(log_var), hidden0=self._hidden0(mlp, x, key))  # fmt: skip
        if self.converges:
            return converged_inference(mlp, x, target, max_steps=self.inference_steps, tol=self.inference_tol, **kw)
        hidden, trace = inference(mlp, x, target, steps=self.inference_steps, **kw)
        return hidden, trace, jnp.int32(self.inference_steps)

    def train_step(
        self,
        carry: PCNCarry,
        hp: Mapping[str, Array],
        x: Float[Array, "batch ..."],
        y: Int[Array, " batch"],
        key: PRNGKeyArray,
    ) -> tuple[PCNCarry, dict[str, Array]]:
        """Inference then one weight update (or, for iPC and relaxed convergence, inference with
        weight updates inside it).

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
        x, target = self._prepare(x, y)
        opt = self._weight_optimizer(hp)
        logits = forward_pass(mlp, x)[-1]
        params = (mlp, log_var)
        if self.alignment or not self.is_pc:
            bp_loss, bp_grads = bp_loss_and_gradients(mlp, x, target, loss=self.loss)
        else:  # the loss of the forward pass, without BP's backward pass
            bp_loss, bp_grads = output_energy(target, logits, loss=self.loss), None
        sign = jnp.float32(1.0)
        if self.is_pc:
            sign, beta = self.nudge(hp, step, nudge_key)
            if self.algorithm in NUDGING:
                target = nudged_target(logits, target, sign * beta)
            used = jnp.int32(self.inference_steps)
            if self.algorithm == "ipc":
                params, opt_state, trace, energies, direction = self._ipc(params, opt_state, hp, x, target, key)
            elif self.weight_update_interval:
                params, opt_state, trace, energies, direction = self._incremental(params, opt_state, hp, x, target, sign,
                                                                                  key)  # fmt: skip
            else:
                hidden, trace, used = self._infer(mlp, hp, x, target, log_var, key)
                grads, energies = self._pc_grads(params, x, hidden, target)
                grads = jax.tree_util.tree_map(lambda g: sign * g, grads)
                updates, opt_state = opt.update(grads, opt_state, params)
                params = optax.apply_updates(params, updates)
                direction = grads[0]
            loss = bp_loss  # the output loss of the forward pass (= F at forward initialisation for PC-SE/CE)
        else:
            loss, grads = bp_loss, (bp_grads, jax.tree_util.tree_map(jnp.zeros_like, log_var))
            _, trace, used = self._infer(mlp, hp, x, target)
            energies = trace[-1]
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            direction = bp_grads
        new_mlp, log_var = params
        # The engine flags a member whose loss is not finite: states or weights that blew up
        # during this step count too, not only from the next step's forward pass on.
        finite = all_finite(trace, log_var, new_mlp)
        metrics = {
            "loss": jnp.where(finite, loss, jnp.nan),
            "accuracy": jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float32)),
            "energy": jnp.sum(energies),
            "energies": energies,
            "energy_trace": trace,
            "steps_used": used.astype(jnp.float32),
        }
        if self.algorithm in NUDGING:
            metrics["nudge_sign"] = sign
        if self.precision != "none":
            metrics["log_var"] = jnp.stack([jnp.mean(s) for s in log_var])
        if self.alignment:
            metrics["bp_cosine"] = layer_cosines(direction, bp_grads)
        return PCNCarry(new_mlp, opt_state, step + 1, log_var, nudge_key), metrics

    def _pc_grads(self, params, x, hidden, target):
        """``(∇_θ F, ∇_s F)`` at the given states (zeros for ``s`` without trainable precision)."""
        mlp, log_var = params
        if self.precision != "none":
            return pc_weight_gradients(mlp, x, hidden, target, loss=self.loss, log_var=log_var)
        grads, energies = pc_weight_gradients(mlp, x, hidden, target, loss=self.loss)
        return (grads, jax.tree_util.tree_map(jnp.zeros_like, log_var)), energies

    def _ipc(self, params, opt_state, hp, x, target, key=None):
        """Incremental PC: ``T`` steps, each updating the states and the weights from the same
        ``(h^{(t)}, θ^{(t)})`` — one gradient of ``F`` for both. Returns what
        :meth:`_incremental` returns."""
        opt = self._weight_optimizer(hp)
        sopt = state_optimizer(self.state_optimizer, hp["state_lr"], momentum=self.state_momentum)
        batch = x.shape[0]
        hidden0 = self._hidden0(params[0], x, key)

        def energies_at(p, h):
            e = layer_energies(p[0], x, h, target, loss=self.loss, log_var=self._log_var(p[1]))
            return jnp.sum(e), e

        def one(c, _):
            params, opt_state, h, sstate, total = c
            (_, e), (g_params, g_h) = jax.value_and_grad(energies_at, argnums=(0, 1), has_aux=True)(params, h)
            g_h = jax.tree_util.tree_map(lambda g: batch * g, g_h)  # each example's own ∂F^{(n)}/∂h
            h_updates, sstate = sopt.update(g_h, sstate, h)
            updates, opt_state = opt.update(g_params, opt_state, params)
            total = jax.tree_util.tree_map(jnp.add, total, g_params[0])
            h = jax.tree_util.tree_map(jnp.add, h, h_updates)
            return (optax.apply_updates(params, updates), opt_state, h, sstate, total), e

        zero = jax.tree_util.tree_map(jnp.zeros_like, params[0])
        init = (params, opt_state, hidden0, sopt.init(hidden0), zero)
        (params, opt_state, hidden, _, total), trace = jax.lax.scan(one, init, None, length=self.inference_steps)
        final = energies_at(params, hidden)[1]
        return params, opt_state, jnp.concatenate([trace, final[None, :]], axis=0), final, total

    def _incremental(self, params, opt_state, hp, x, target, sign, key=None):
        """Relaxed convergence: inference cut into ``T / k`` pieces of ``k`` steps, each followed
        by a weight update from the current states. The states and the state optimiser carry
        on across updates. Returns the new params and optimiser state, the energy trace
        ``(T + 1, L)`` (the last row: before the last weight update), the last energies and the
        sum of the weight gradients applied (the step's update direction)."""
        k = self.weight_update_interval
        opt = self._weight_optimizer(hp)
        sopt = state_optimizer(self.state_optimizer, hp["state_lr"], momentum=self.state_momentum)
        hidden0 = self._hidden0(params[0], x, key)

        def piece(c, _):
            params, opt_state, hidden, sstate, total = c
            hidden, sstate, tr = relax_steps(params[0], x, target, hidden, sstate, steps=k, state_lr=hp["state_lr"],
                                             optimizer=self.state_optimizer, momentum=self.state_momentum,
                                             loss=self.loss, log_var=self._log_var(params[1]))  # fmt: skip
            grads, energies = self._pc_grads(params, x, hidden, target)
            grads = jax.tree_util.tree_map(lambda g: sign * g, grads)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            total = jax.tree_util.tree_map(jnp.add, total, grads[0])
            return (params, opt_state, hidden, sstate, total), (tr, energies)

        zero = jax.tree_util.tree_map(jnp.zeros_like, params[0])
        init = (params, opt_state, hidden0, sopt.init(hidden0), zero)
        (params, opt_state, _, _, total), (trs, energies) = jax.lax.scan(
            piece, init, None, length=self.inference_steps // k
        )
        trace = jnp.concatenate([trs.reshape(-1, self.num_layers), energies[-1:]], axis=0)
        return params, opt_state, trace, energies[-1], total

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
        return self.relax(carry.mlp, hp, x, target, carry.log_var)[1]


def layer_cosines(a: MLP, b: MLP) -> Float[Array, " L"]:
    """Per layer ``l``: the cosine between ``(W_l, b_l)`` of ``a`` and of ``b``, flattened."""
    out = []
    for wa, ba, wb, bb in zip(a.weights, a.biases, b.weights, b.biases, strict=True):
        va, vb = jnp.concatenate([wa.ravel(), ba.ravel()]), jnp.concatenate([wb.ravel(), bb.ravel()])
        out.append(jnp.dot(va, vb) / (jnp.linalg.norm(va) * jnp.linalg.norm(vb) + 1e-12))
    return jnp.stack(out)
