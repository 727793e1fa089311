"""Reward models and policies as Flax NNX modules (the "mechanisms" of the alignment domain).

* :class:`RewardModel`: a reward per response, tabular (one parameter row per response index) or
  a small MLP of response features ``[K, d]``; its head is a point reward (BTL / Plackett-Luce),
  a mean and log-std (DPL mean-variance) or logits over utility atoms (DPL categorical).
* :class:`BatchedRewardTable`: independent tabular rewards of P populations fitted side by side.
* :class:`MixtureReward`: T type rewards and mixing weights, with R random restarts side by side.
* :class:`PolicyLogits`: a policy over the K responses.

Every module is called as ``module(batch, training=...)`` like every mechanism of the trainer;
reward models ignore the batch (their output is a table over all responses).
"""

from __future__ import annotations

from typing import Optional

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np

HEADS = {"point": 1, "mean_variance": 2, "categorical": None}


class Features(nnx.Variable):
    """Response features: part of the module, never trained."""


class RewardModel(nnx.Module):
    """``module(batch) -> [K, out]``: point rewards (out 1), mean and log-std (2) or atom logits.

    Args:
        num_responses: K.
        head: ``point``, ``mean_variance`` or ``categorical``.
        features: ``[K, d]`` response features (an MLP of them), or None (tabular).
        hidden: MLP width.
        depth: MLP hidden layers.
        atoms: utility atoms of the categorical head.
    """

    def __init__(self, num_responses: int, head: str = "point", features: Optional[np.ndarray] = None,
                 hidden: int = 32, depth: int = 2, atoms: int = 10, *, rngs: nnx.Rngs):
        out = HEADS[head] or atoms
        self.head = head
        if features is None:
            self.features = None
            self.table = nnx.Param(0.01 * jax.random.normal(rngs.params(), (num_responses, out)))
        else:
            self.features = Features(jnp.asarray(features, jnp.float32))
            dims = [self.features.value.shape[1]] + [hidden] * depth
            self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(dims[:-1], dims[1:])])
            self.out = nnx.Linear(dims[-1], out, rngs=rngs)

    def __call__(self, batch=None, training: bool = False) -> jax.Array:
        if self.features is None:
            return self.table.value
        h = self.features.value
        for layer in self.layers:
            h = jax.nn.gelu(layer(h))
        return self.out(h)


class BatchedRewardTable(nnx.Module):
    """``module(batch) -> [P, K]``: P independent tabular reward vectors."""

    def __init__(self, num_problems: int, num_responses: int, *, rngs: nnx.Rngs):
        self.rewards = nnx.Param(jnp.zeros((num_problems, num_responses)))

    def __call__(self, batch=None, training: bool = False) -> jax.Array:
        return self.rewards.value


class MixtureReward(nnx.Module):
    """``module(batch) -> (rewards [R, T, K], log_weights [R, T])``: R restarts of a T-type mixture.

    Restarts start from independent random rewards (EM's answer depends on where it starts); the
    one with the highest likelihood is kept after training.
    """

    def __init__(self, num_types: int, num_responses: int, restarts: int = 4, scale: float = 1.0,
                 *, rngs: nnx.Rngs):
        self.rewards = nnx.Param(scale * jax.random.normal(rngs.params(), (restarts, num_types, num_responses)))
        self.logits = nnx.Param(jnp.zeros((restarts, num_types)))

    def __call__(self, batch=None, training: bool = False):
        return self.rewards.value, jax.nn.log_softmax(self.logits.value, axis=-1)


class PolicyLogits(nnx.Module):
    """``module(batch) -> policy [K]``, a softmax over responses, starting at ``reference``."""

    def __init__(self, reference: np.ndarray, *, rngs: nnx.Rngs):
        self.logits = nnx.Param(jnp.log(jnp.asarray(reference, jnp.float32)))

    def __call__(self, batch=None, training: bool = False) -> jax.Array:
        return jax.nn.softmax(self.logits.value)
