"""EquivariantNet (Rahme et al. 2021): exchangeable layers over the bidders x items bid matrix.

An exchangeable layer (Hartford et al. 2018) maps a ``[bidders, items, channels]`` tensor to
another by mixing each entry with the means of its row, of its column and of the whole matrix.
Stacking them gives a network that commutes with any permutation of the bidders and any
permutation of the items, and whose weights do not depend on how many bidders or items there are:
the same trained weights run on 2x2, 3x3, 2x5 or 5x2 auctions. Means (not sums) keep the
activations on the same scale when the sizes change.

This file also holds the pieces that every set-based auction net shares (the size-free input
scaling and the outcome head), so that RegretFormer uses exactly the same contract.
"""

from __future__ import annotations

from typing import Sequence

import flax.nnx as nnx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.auctions.nets.regretnet import ACTIVATIONS, feasible_allocation, ir_payments
from mechjax.errors import ConfigError


def support_bounds(bid_low, bid_high, num_bidders: int, num_items: int):
    """The support used to rescale bids: scalars when every (bidder, item) shares it, so that the net
    runs on any size; otherwise ``[bidders, items]`` arrays that tie the net to its training size."""
    low = np.broadcast_to(np.asarray(bid_low, np.float32), (num_bidders, num_items))
    high = np.broadcast_to(np.asarray(bid_high, np.float32), (num_bidders, num_items))
    if (low == low.flat[0]).all() and (high == high.flat[0]).all():
        return jnp.asarray(low.flat[0]), jnp.asarray(high.flat[0])
    return jnp.asarray(low), jnp.asarray(high)


def scale_bids(bids: Float[Array, "b n m"], low: Array, high: Array) -> Float[Array, "b n m 1"]:
    """Bids rescaled to [0, 1] on the support, as one input channel."""
    if low.ndim and low.shape != bids.shape[1:]:
        raise ConfigError(
            f"this net was trained on per-item supports of shape {low.shape} and cannot rescale bids of shape "
            f"{bids.shape[1:]}; only nets trained on i.i.d. values (one support for every bidder and item) "
            f"run on other sizes")
    if low.ndim:  # explicit broadcasting over the batch axis
        low, high = low[None], high[None]
    return ((bids - low) / (high - low))[..., None]


# The dense form does (n m)^2 c d multiply-adds per sample against the factored form's 4 n m c d: it
# pays (one matmul instead of four small ones and three reductions) only while n m <= 4, where its
# arithmetic is no larger; measured on CPU, the factored form trains 1.3x faster on 2x3 and 3.7x on
# 3x10 (benchmarks/RESULTS.md, "Larger auction settings"). DENSE_LIMIT bounds the matrix's size.
DENSE_MAX_ENTRIES = 4
DENSE_LIMIT = 2**22


class ExchangeableLayer(nnx.Module):
    """``y_ij = W1 x_ij + W2 mean_k x_kj + W3 mean_l x_il + W4 mean_kl x_kl + b`` over ``[b, n, m, c]``."""

    def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
        self.entry = nnx.Linear(in_features, out_features, rngs=rngs)
        self.over_bidders = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)
        self.over_items = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)
        self.overall = nnx.Linear(in_features, out_features, use_bias=False, rngs=rngs)

    def __call__(self, x: Float[Array, "b n m c"]) -> Float[Array, "b n m d"]:
        b, n, m, c = x.shape
        d = self.entry.out_features
        if n * m <= DENSE_MAX_ENTRIES and (n * m) ** 2 * c * d <= DENSE_LIMIT:
            return (x.reshape(b, n * m * c) @ self.dense_kernel(n, m) + jnp.tile(self.entry.bias[...], n * m)[None]
                    ).reshape(b, n, m, d)
        return (self.entry(x)
                + self.over_bidders(x.mean(axis=1, keepdims=True))
                + self.over_items(x.mean(axis=2, keepdims=True))
                + self.overall(x.mean(axis=(1, 2), keepdims=True)))

    def dense_kernel(self, n: int, m: int) -> Float[Array, "nmc nmd"]:
        """The layer as one ``[n*m*c, n*m*d]`` matrix with tied blocks, for ``n`` bidders and ``m`` items.

        For small auctions one large matmul is far cheaper on CPU than four small ones and three
        reductions (kernel launches, not arithmetic, dominate); the two forms are the same map.
        """
        eye_n, eye_m = jnp.eye(n), jnp.eye(m)
        mean_n, mean_m = jnp.full((n, n), 1.0 / n), jnp.full((m, m), 1.0 / m)
        blocks = [(eye_n, eye_m, self.entry), (mean_n, eye_m, self.over_bidders),
                  (eye_n, mean_m, self.over_items), (mean_n, mean_m, self.overall)]
        # kron(kron(A, B), W)[(i m + j) c + a, (k m + l) d + e] = A[i, k] B[j, l] W[a, e]: rows and
        # columns in the row-major order of a flattened [n, m, channels] tensor.
        return sum(jnp.kron(jnp.kron(a, bm), layer.kernel[...]) for a, bm, layer in blocks)


class SetOutcomeHead(nnx.Module):
    """Per-(bidder, item) features ``[b, n, m, c]`` -> a feasible, IR outcome, for any n and m.

    Each entry's allocation logit is read off its features; the dummy bidder of item j (the item
    stays unsold) reads the mean over the bidders of column j, and, for unit demand, the dummy item
    of bidder i reads the mean over the items of row i. Payments are a sigmoid fraction of the
    reported value of the allocation (``ir_payments``), the fraction read off the row mean. All
    reads are shared across positions, so permuting bidders or items permutes the outcome.

    Args:
        features: channels c of the incoming features.
        demand: ``"additive"`` or ``"unit"``.
        rngs: parameter initialisation.
    """

    def __init__(self, features: int, demand: str, *, rngs: nnx.Rngs):
        self.demand = demand
        self.bidder_logit = nnx.Linear(features, 1, rngs=rngs)
        self.unsold_logit = nnx.Linear(features, 1, rngs=rngs)
        if demand == "unit":
            self.item_logit = nnx.Linear(features, 1, rngs=rngs)
            self.no_item_logit = nnx.Linear(features, 1, rngs=rngs)
        self.payment_logit = nnx.Linear(features, 1, rngs=rngs)

    def allocation(self, h: Float[Array, "b n m c"]) -> Float[Array, "b n m"]:
        logits_bidders = jnp.concatenate(
            [self.bidder_logit(h)[..., 0], self.unsold_logit(h.mean(axis=1))[..., 0][:, None, :]], axis=1)
        logits_items = None
        if self.demand == "unit":
            logits_items = jnp.concatenate(
                [self.item_logit(h)[..., 0], self.no_item_logit(h.mean(axis=2))], axis=2)
        return feasible_allocation(logits_bidders, logits_items, self.demand)

    def payments(self, bids: Float[Array, "b n m"], alloc: Float[Array, "b n m"],
                 h: Float[Array, "b n m c"]) -> Float[Array, "b n"]:
        return ir_payments(bids, alloc, self.payment_logit(h.mean(axis=2))[..., 0])


class EquivariantNet(nnx.Module):
    """Exchangeable allocation and payment networks, equivariant to bidder and item permutations.

    Args:
        num_bidders: bidders n of the training problem (only the input scaling may depend on it).
        num_items: items m of the training problem (likewise).
        demand: ``"additive"`` or ``"unit"``.
        channels: widths of the exchangeable layers of each network.
        activation: hidden activation.
        bid_low, bid_high: the support (scalars or ``[bidders, items]``); see :func:`support_bounds`.
        rngs: parameter initialisation.
    """

    def __init__(self, num_bidders: int, num_items: int, demand: str = "additive",
                 channels: Sequence[int] = (64, 64, 64), activation: str = "tanh",
                 bid_low=0.0, bid_high=1.0, *, rngs: nnx.Rngs):
        if activation not in ACTIVATIONS:
            raise ConfigError(f"mechanism.activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not channels or min(channels) < 1:
            raise ConfigError(f"mechanism.channels must be a non-empty list of positive widths, got {channels}")
        low, high = support_bounds(bid_low, bid_high, num_bidders, num_items)
        self.bid_low, self.bid_high = nnx.Variable(low), nnx.Variable(high)
        self.activation = ACTIVATIONS[activation]
        sizes = [1, *channels]
        # Separate trunks for allocation and payment, as in RegretNet: the two outputs answer
        # different questions and sharing features couples their gradients under the Lagrangian.
        self.allocation_layers = nnx.List([ExchangeableLayer(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.payment_layers = nnx.List([ExchangeableLayer(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.head = SetOutcomeHead(channels[-1], demand, rngs=rngs)

    def _trunk(self, layers, x):
        for layer in layers:
            x = self.activation(layer(x))
        return x

    def __call__(self, bids: Float[Array, "b n m"], *, training: bool = False):
        x = scale_bids(bids, self.bid_low[...], self.bid_high[...])
        alloc = self.head.allocation(self._trunk(self.allocation_layers, x))
        pay = self.head.payments(bids, alloc, self._trunk(self.payment_layers, x))
        return alloc, pay
