"""The CRE module and the pieces every architecture shares (Rathjens & Wiskott, Fig. 1):

    z = encoder(x),   x̂ = decoder(z),   logits = classifier(z).

A :class:`CRE` holds the three parts, as the authors' ``CRE(encoder, decoder, classifier)``
does; a part with non-trainable state (batch-norm statistics) is a :class:`StatefulPart`;
:class:`MLP` is the dense stack of the FC variants and of the CNN's and ViT's heads. The
architectures themselves are in :mod:`pcdash.cre.models` (FC), :mod:`pcdash.cre.cnn` and
:mod:`pcdash.cre.vit`, which import from here.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

LATENT_ACTIVATIONS = ("relu", "linear")


def latent_activation_fn(name: str) -> Callable[[Array], Array]:
    if name == "relu":
        return jax.nn.relu
    if name == "linear":
        return lambda z: z
    raise ValueError(
        f"unknown latent activation {name!r}; choose from {', '.join(LATENT_ACTIVATIONS)}"
    )


class StatefulPart(eqx.Module):
    """An encoder or classifier with non-trainable state (batch-norm running statistics):
    ``part(x, state, train=...) -> (y, state)``. Parts without state are plain callables."""

    @abc.abstractmethod
    def init_state(self) -> PyTree: ...

    @abc.abstractmethod
    def __call__(self, x: Array, state: PyTree, *, train: bool) -> tuple[Array, PyTree]: ...


def _run(part: Callable, x: Array, state: PyTree, name: str, train: bool) -> tuple[Array, PyTree]:
    if isinstance(part, StatefulPart):
        y, new = part(x, state[name], train=train)
        return y, {**state, name: new}
    return part(x), state


class CREModel(Protocol):
    """What training and evaluation call on a CRE: a :class:`CRE` or a baseline built on one."""

    def init_state(self) -> PyTree: ...

    def encode(self, x: Array, state: PyTree, *, train: bool) -> tuple[Array, PyTree]: ...

    def decode(self, z: Array) -> Array: ...

    def classify(self, z: Array, state: PyTree, *, train: bool) -> tuple[Array, PyTree]: ...


class CRE(eqx.Module):
    """An encoder, a decoder and a classifier sharing the latent ``z``."""

    encoder: Callable
    decoder: Callable
    classifier: Callable

    def init_state(self) -> PyTree:
        parts = {"encoder": self.encoder, "classifier": self.classifier}
        return {name: p.init_state() for name, p in parts.items() if isinstance(p, StatefulPart)}

    def encode(
        self, x: Float[Array, "batch ..."], state: PyTree, *, train: bool
    ) -> tuple[Array, PyTree]:
        return _run(self.encoder, x, state, "encoder", train)

    def decode(self, z: Array) -> Float[Array, "batch ..."]:
        return self.decoder(z)

    def classify(
        self, z: Array, state: PyTree, *, train: bool
    ) -> tuple[Float[Array, "batch classes"], PyTree]:
        return _run(self.classifier, z, state, "classifier", train)


class MLP(eqx.Module):
    """Dense layers on the flattened input, ReLU between them and ``final`` after the last one;
    the output is reshaped to ``out_shape`` (per example) when given."""

    layers: tuple[eqx.nn.Linear, ...]
    final: str = eqx.field(static=True)
    out_shape: tuple[int, ...] | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        final: str,
        out_shape: tuple[int, ...] | None = None,
        key: PRNGKeyArray,
    ):
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )
        self.final = final
        self.out_shape = None if out_shape is None else tuple(out_shape)

    def __call__(self, x: Float[Array, "batch ..."]) -> Float[Array, "batch ..."]:
        x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.layers):
            assert layer.bias is not None  # eqx.nn.Linear's default use_bias=True
            x = x @ layer.weight.T + layer.bias
            if i < len(self.layers) - 1:
                x = jax.nn.relu(x)
        x = {"relu": jax.nn.relu, "tanh": jnp.tanh, "linear": lambda v: v}[self.final](x)
        return x if self.out_shape is None else x.reshape(x.shape[0], *self.out_shape)
