"""RegretFormer (Ivanov et al. 2022): self-attention across items and across bidders.

Each (bidder, item) bid is a token. A block lets every token attend to the other items of its
bidder (its row) and, with other heads, to the other bidders of its item (its column), and then
applies a position-wise feed-forward layer; two blocks connect every pair of tokens. No
positional encoding is used, so permuting bidders or items permutes the outcome, and no weight
depends on the number of bidders or items: the same weights run on any size. The outcome head
and the size-free input scaling are the ones EquivariantNet uses (``nets/equivariant.py``).

The paper's other proposal, training to a regret *budget* with a dual variable, is a constraint
(``constraint=regret_budget``, ``core/constraints.py``) that every architecture can use.
"""

from __future__ import annotations

import math

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.auctions.nets.equivariant import ExchangeableLayer, SetOutcomeHead, scale_bids, support_bounds
from mechjax.auctions.nets.regretnet import ACTIVATIONS, MLP
from mechjax.errors import ConfigError


def row_column_mask(num_bidders: int, num_items: int, heads: int) -> Array:
    """``[heads, tokens, tokens]``: the first half of the heads sees the token's row (same bidder),
    the second half its column (same item). Tokens are (bidder, item) pairs in row-major order."""
    bidder = np.repeat(np.arange(num_bidders), num_items)
    item = np.tile(np.arange(num_items), num_bidders)
    same_row = bidder[:, None] == bidder[None, :]
    same_column = item[:, None] == item[None, :]
    return jnp.asarray(np.stack([same_row] * (heads // 2) + [same_column] * (heads // 2)))


class RowColumnAttention(nnx.Module):
    """Multi-head self-attention of each (bidder, item) token over its row and over its column.

    Half of the heads attend across the items of the token's bidder, half across the bidders of
    its item; their outputs are concatenated and projected. Doing both in one masked attention
    (rather than two reshaped ones) keeps the number of kernels small, which is what costs time
    for auctions of a few bidders and items.
    """

    def __init__(self, dim: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.qkv = nnx.Linear(dim, 3 * dim, rngs=rngs)
        self.out = nnx.Linear(dim, dim, rngs=rngs)

    def __call__(self, h: Float[Array, "b n m d"]) -> Float[Array, "b n m d"]:
        b, n, m, d = h.shape
        q, k, v = jnp.split(self.qkv(h.reshape(b, n * m, d)), 3, axis=-1)
        q, k, v = (t.reshape(b, n * m, self.heads, -1) for t in (q, k, v))
        scores = jnp.einsum("bqhc,bkhc->bhqk", q, k) / math.sqrt(q.shape[-1])
        scores = jnp.where(row_column_mask(n, m, self.heads), scores, -jnp.inf)
        mixed = jnp.einsum("bhqk,bkhc->bqhc", jax.nn.softmax(scores, axis=-1), v)
        return self.out(mixed.reshape(b, n, m, d))


class RegretFormerBlock(nnx.Module):
    """Pre-norm residual block: row/column attention, then a position-wise feed-forward layer."""

    def __init__(self, dim: int, heads: int, hidden: int, activation: str, *, rngs: nnx.Rngs):
        self.norm_attention = nnx.LayerNorm(dim, rngs=rngs)
        self.attention = RowColumnAttention(dim, heads, rngs=rngs)
        self.norm_feedforward = nnx.LayerNorm(dim, rngs=rngs)
        self.feedforward = MLP([dim, hidden, dim], activation, rngs=rngs)

    def __call__(self, h: Float[Array, "b n m d"]) -> Float[Array, "b n m d"]:
        h = h + self.attention(self.norm_attention(h))
        return h + self.feedforward(self.norm_feedforward(h))


class RegretFormer(nnx.Module):
    """Attention-based auction network for ``bids [b, n, m]``, any n and m.

    Args:
        num_bidders: bidders n of the training problem (only the input scaling may depend on it).
        num_items: items m of the training problem (likewise).
        demand: ``"additive"`` or ``"unit"``.
        dim: token width d.
        heads: attention heads, even (half across items, half across bidders), dividing ``dim``.
        blocks: number of attention blocks.
        hidden: width of each block's feed-forward layer.
        activation: feed-forward activation.
        bid_low, bid_high: the support (scalars or ``[bidders, items]``).
        rngs: parameter initialisation.
    """

    def __init__(self, num_bidders: int, num_items: int, demand: str = "additive", dim: int = 32,
                 heads: int = 4, blocks: int = 2, hidden: int = 64, activation: str = "gelu",
                 bid_low=0.0, bid_high=1.0, *, rngs: nnx.Rngs):
        if activation not in ACTIVATIONS:
            raise ConfigError(f"mechanism.activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        for name, value in (("dim", dim), ("heads", heads), ("blocks", blocks), ("hidden", hidden)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"mechanism.{name} must be a positive integer, got {value!r}")
        if dim % heads or heads % 2:
            raise ConfigError(f"mechanism.heads={heads} must be even (half attend across items, half across "
                              f"bidders) and divide mechanism.dim={dim}")
        low, high = support_bounds(bid_low, bid_high, num_bidders, num_items)
        self.bid_low, self.bid_high = nnx.Variable(low), nnx.Variable(high)
        # The embedding already sees each bid's row and column means, so the first attention
        # layer compares bids in context rather than raw numbers.
        self.embed = ExchangeableLayer(1, dim, rngs=rngs)
        self.blocks = nnx.List([RegretFormerBlock(dim, heads, hidden, activation, rngs=rngs) for _ in range(blocks)])
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = SetOutcomeHead(dim, demand, rngs=rngs)

    def __call__(self, bids: Float[Array, "b n m"], *, training: bool = False):
        h = self.embed(scale_bids(bids, self.bid_low[...], self.bid_high[...]))
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        alloc = self.head.allocation(h)
        return alloc, self.head.payments(bids, alloc, h)
