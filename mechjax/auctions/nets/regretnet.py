"""RegretNet (Duetting et al. 2019): fully connected allocation and payment networks.

Feasibility holds by construction: for additive bidders each item's allocation is a softmax over
the bidders plus a dummy bidder (the item may stay unsold); for unit-demand bidders it is the
element-wise minimum of that softmax and a softmax over the items plus a dummy item, so each
item is sold at most once and each bidder receives at most one item in expectation. Payments are a
sigmoid fraction of the bidder's reported value of her allocation, so truthful bidders are never
charged more than their value (IR).
"""

from __future__ import annotations

from typing import Sequence

import flax.nnx as nnx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from mechjax.errors import ConfigError

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "gelu": jax.nn.gelu}


class MLP(nnx.Module):
    """A plain multilayer perceptron."""

    def __init__(self, sizes: Sequence[int], activation: str, *, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.activation = ACTIVATIONS[activation]

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


def feasible_allocation(logits_bidders: Float[Array, "b n1 m"], logits_items: Float[Array, "b n m1"] | None,
                        demand: str) -> Float[Array, "b n m"]:
    """Allocation probabilities from logits with a dummy bidder (and, for unit demand, a dummy item)."""
    per_item = jax.nn.softmax(logits_bidders, axis=1)[:, :-1, :]
    if demand == "additive":
        return per_item
    per_bidder = jax.nn.softmax(logits_items, axis=2)[:, :, :-1]
    return jnp.minimum(per_item, per_bidder)


def ir_payments(bids: Float[Array, "b n m"], allocations: Float[Array, "b n m"],
                payment_logits: Float[Array, "b n"]) -> Float[Array, "b n"]:
    """A sigmoid fraction of each bidder's reported value of her allocation."""
    return jax.nn.sigmoid(payment_logits) * jnp.sum(bids * allocations, axis=-1)


class RegretNet(nnx.Module):
    """RegretNet for ``num_bidders x num_items`` auctions.

    Args:
        num_bidders: bidders n.
        num_items: items m.
        demand: ``"additive"`` or ``"unit"``.
        hidden: widths of the hidden layers of each network.
        activation: hidden activation.
        bid_low, bid_high: ``[bidders, items]`` support used to rescale bids to [0, 1] at the input.
        rngs: parameter initialisation.
    """

    def __init__(self, num_bidders: int, num_items: int, demand: str = "additive",
                 hidden: Sequence[int] = (100, 100), activation: str = "tanh",
                 bid_low=0.0, bid_high=1.0, *, rngs: nnx.Rngs):
        if activation not in ACTIVATIONS:
            raise ConfigError(f"mechanism.activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not hidden or min(hidden) < 1:
            raise ConfigError(f"mechanism.hidden must be a non-empty list of positive widths, got {hidden}")
        self.n, self.m, self.demand = num_bidders, num_items, demand
        self.bid_low = nnx.Variable(jnp.broadcast_to(jnp.asarray(bid_low, jnp.float32), (num_bidders, num_items)))
        self.bid_high = nnx.Variable(jnp.broadcast_to(jnp.asarray(bid_high, jnp.float32), (num_bidders, num_items)))
        width_in = num_bidders * num_items
        alloc_out = (num_bidders + 1) * num_items + (num_bidders * (num_items + 1) if demand == "unit" else 0)
        self.allocation_net = MLP([width_in, *hidden, alloc_out], activation, rngs=rngs)
        self.payment_net = MLP([width_in, *hidden, num_bidders], activation, rngs=rngs)

    def __call__(self, bids: Float[Array, "b n m"], *, training: bool = False):
        b = bids.shape[0]
        low, high = self.bid_low[...][None], self.bid_high[...][None]
        x = ((bids - low) / (high - low)).reshape(b, -1)
        out = self.allocation_net(x)
        k = (self.n + 1) * self.m
        logits_bidders = out[:, :k].reshape(b, self.n + 1, self.m)
        logits_items = out[:, k:].reshape(b, self.n, self.m + 1) if self.demand == "unit" else None
        alloc = feasible_allocation(logits_bidders, logits_items, self.demand)
        pay = ir_payments(bids, alloc, self.payment_net(x))
        return alloc, pay
