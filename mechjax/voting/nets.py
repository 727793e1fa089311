"""Learned voting rules: anonymous by construction, neutral by choice, any number of voters/candidates.

A profile enters as ``Ballots``: for every voter and candidate the distribution of the candidate's
position on that ballot (one-hot for a real ballot, a doubly-stochastic row for a relaxed one, so
gradient-based manipulation can search relaxed ballots), ballot counts (0 = padding voter) and a
candidate mask (False = padding candidate, placed below the real ones).

``VotingNet`` turns every (voter, candidate) cell into a token and alternates mixing across voters
(per candidate) with mixing across candidates (per voter), either DeepSets-style (pooled means) or
set-transformer style (masked multi-head self-attention; ballot counts enter attention as log
weights, exactly as if the ballot were repeated). Every weight is shared across voters, so the
rule is anonymous; unless ``neutral=False`` adds a learned embedding per candidate index it is
also neutral (candidate-equivariant). The pairwise majority fractions, an invariant summary every
Condorcet-style rule needs, are fed to each candidate's tokens. The output is a winner
distribution over the real candidates.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import flax.nnx as nnx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from mechjax.errors import ConfigError
from mechjax.voting.profiles import positions

MIXERS = ("deepsets", "attention")


class Ballots(NamedTuple):
    """A batch of (possibly relaxed) ballots.

    Attributes:
        ranks: ``[batch, voters, candidates, positions]``: probability that the voter puts the
            candidate at each position (positions = candidates; rows and columns sum to 1).
        weights: ``[batch, voters]`` ballot counts (float; 0 = padding voter).
        candidate_mask: ``[batch, candidates]`` True for real candidates.
    """

    ranks: Float[Array, "batch voters candidates positions"]
    weights: Float[Array, "batch voters"]
    candidate_mask: Bool[Array, "batch candidates"]


def ballots_from_rankings(rankings, weights=None, candidate_mask=None) -> Ballots:
    """Hard ballots from ``rankings [batch, voters, candidates]`` (padding candidates ranked last)."""
    b, n, m = rankings.shape
    ranks = jax.nn.one_hot(positions(rankings), m, dtype=jnp.float32)
    w = jnp.ones((b, n), jnp.float32) if weights is None else jnp.asarray(weights, jnp.float32)
    mask = jnp.ones((b, m), bool) if candidate_mask is None else jnp.asarray(candidate_mask, bool)
    return Ballots(ranks, w, mask)


def majority_fractions(ballots: Ballots) -> Float[Array, "batch candidates candidates"]:
    """``[b, x, y]``: weighted fraction of voters ranking x above y (expected, for relaxed ballots)."""
    below = jnp.cumsum(ballots.ranks[..., ::-1], axis=-1)[..., ::-1]  # P(position >= r)
    strictly_below = below - ballots.ranks  # P(position > r)
    above = jnp.einsum("bvxr,bvyr->bvxy", ballots.ranks, strictly_below)
    w = ballots.weights / jnp.maximum(ballots.weights.sum(-1, keepdims=True), 1e-9)
    return jnp.einsum("bv,bvxy->bxy", w, above)


TOP_POSITIONS, BOTTOM_POSITIONS = 3, 2
NUM_POSITION_FEATURES = TOP_POSITIONS + BOTTOM_POSITIONS + 1


def position_features(ranks, candidate_mask) -> Float[Array, "batch voters candidates features"]:
    """What a ballot says of each candidate, in a form that does not depend on the number of
    candidates: the probability of each of the first ``TOP_POSITIONS`` places and of the last
    ``BOTTOM_POSITIONS`` real places, and the expected position scaled to [0, 1] (0 = top). All are
    linear in ``ranks``, so relaxed ballots get expected features."""
    m = ranks.shape[-1]
    top = ranks[..., :TOP_POSITIONS]
    if m < TOP_POSITIONS:
        top = jnp.pad(top, [(0, 0)] * 3 + [(0, TOP_POSITIONS - m)])
    real = candidate_mask.sum(-1)  # [b]
    last = real[:, None] - 1 - jnp.arange(BOTTOM_POSITIONS)[None]  # [b, BOTTOM]
    bottom = jnp.einsum("bvcr,bkr->bvck", ranks, jax.nn.one_hot(last, m, dtype=ranks.dtype))
    scale = jnp.maximum(real, 2)[:, None, None, None] - 1
    position = jnp.arange(m).reshape((1,) * (ranks.ndim - 1) + (m,))  # explicit broadcasting
    relative = (ranks * position).sum(-1, keepdims=True) / scale
    return jnp.concatenate([top, bottom, relative], -1)


class MLP(nnx.Module):
    def __init__(self, sizes, *, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = jax.nn.gelu(x)
        return x


def _masked_mean(x, weight, axis):
    weight = jnp.expand_dims(weight, -1)
    return (x * weight).sum(axis) / jnp.maximum(weight.sum(axis), 1e-9)


class AxisAttention(nnx.Module):
    """Multi-head self-attention along one axis of ``[b, n, m, d]`` tokens, with key log-weights."""

    def __init__(self, dim: int, heads: int, *, rngs: nnx.Rngs):
        self.heads = heads
        self.qkv = nnx.Linear(dim, 3 * dim, rngs=rngs)
        self.out = nnx.Linear(dim, dim, rngs=rngs)

    def __call__(self, h, key_log_weight, axis: int):
        if axis == 1:  # attend across voters: move voters last-but-one
            return jnp.swapaxes(self(jnp.swapaxes(h, 1, 2), key_log_weight, 2), 1, 2)
        b, n, m, d = h.shape
        q, k, v = (t.reshape(b, n, m, self.heads, -1) for t in jnp.split(self.qkv(h), 3, axis=-1))
        scores = jnp.einsum("bnqhc,bnkhc->bnhqk", q, k) / math.sqrt(q.shape[-1])
        scores = scores + key_log_weight[:, :, None, None, :]
        mixed = jnp.einsum("bnhqk,bnkhc->bnqhc", jax.nn.softmax(scores, axis=-1), v)
        return self.out(mixed.reshape(b, n, m, d))


class Block(nnx.Module):
    """Mix across voters, then across candidates; pre-norm residual updates."""

    def __init__(self, dim: int, mixer: str, heads: int, *, rngs: nnx.Rngs):
        self.mixer = mixer
        self.norm1, self.norm2, self.norm3 = (nnx.LayerNorm(dim, rngs=rngs) for _ in range(3))
        if mixer == "attention":
            self.voter_mix = AxisAttention(dim, heads, rngs=rngs)
            self.candidate_mix = AxisAttention(dim, heads, rngs=rngs)
        else:
            self.voter_mix = MLP([2 * dim, dim, dim], rngs=rngs)
            self.candidate_mix = MLP([2 * dim, dim, dim], rngs=rngs)
        self.feedforward = MLP([dim, 2 * dim, dim], rngs=rngs)

    def __call__(self, h, weights, candidate_mask):
        voter_log_w = jnp.where(weights > 0, jnp.log(jnp.maximum(weights, 1e-9)), -1e9)  # [b, n]
        cand_log_w = jnp.where(candidate_mask, 0.0, -1e9)  # [b, m]
        x = self.norm1(h)
        if self.mixer == "attention":
            keys = jnp.broadcast_to(voter_log_w[:, None, :], (h.shape[0], h.shape[2], h.shape[1]))
            h = h + self.voter_mix(x, keys, 1)
            x = self.norm2(h)
            h = h + self.candidate_mix(x, jnp.broadcast_to(cand_log_w[:, None, :], h.shape[:3]), 2)
        else:
            pooled = _masked_mean(x, weights[:, :, None] * jnp.ones(h.shape[:3]), 1)  # [b, m, d]
            h = h + self.voter_mix(jnp.concatenate([x, jnp.broadcast_to(pooled[:, None], x.shape)], -1))
            x = self.norm2(h)
            cmask = jnp.broadcast_to(candidate_mask[:, None, :], h.shape[:3]).astype(h.dtype)
            pooled = _masked_mean(x, cmask, 2)  # [b, n, d]
            h = h + self.candidate_mix(jnp.concatenate([x, jnp.broadcast_to(pooled[:, :, None], x.shape)], -1))
        return h + self.feedforward(self.norm3(h))


class VotingNet(nnx.Module):
    """A learned (probabilistic) voting rule: ``Ballots`` or rankings -> winner probabilities.

    Args:
        max_candidates: the most candidates a non-neutral net takes (it learns one embedding per
            candidate index). A neutral net has no per-index weights and takes any number of
            candidates, including more than it was trained on.
        dim: token width.
        depth: number of voter/candidate mixing blocks.
        mixer: ``"deepsets"`` (pooled means) or ``"attention"`` (set-transformer style).
        heads: attention heads (``mixer="attention"``).
        neutral: candidate-equivariant; False adds a learned embedding per candidate index.
        rngs: parameter initialisation.
    """

    def __init__(self, max_candidates: int, dim: int = 32, depth: int = 2, mixer: str = "deepsets",
                 heads: int = 4, neutral: bool = True, *, rngs: nnx.Rngs):
        if mixer not in MIXERS:
            raise ConfigError(f"mechanism.mixer must be one of {MIXERS}, got {mixer!r}")
        for name, value in (("max_candidates", max_candidates), ("dim", dim), ("depth", depth), ("heads", heads)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"mechanism.{name} must be an integer >= 1, got {value!r}")
        if mixer == "attention" and dim % heads:
            raise ConfigError(f"mechanism.dim={dim} must be a multiple of mechanism.heads={heads}")
        self.max_candidates, self.neutral = max_candidates, neutral
        self.embed = nnx.Linear(NUM_POSITION_FEATURES, dim, rngs=rngs)
        self.pair = MLP([3, dim, dim], rngs=rngs)
        self.identity = nnx.Param(jnp.zeros((max_candidates, dim))) if not neutral else None
        self.blocks = nnx.List([Block(dim, mixer, heads, rngs=rngs) for _ in range(depth)])
        self.head = MLP([2 * dim, dim, 1], rngs=rngs)

    def __call__(self, ballots, *, training: bool = False) -> Float[Array, "batch candidates"]:
        if not isinstance(ballots, Ballots):
            ballots = ballots_from_rankings(ballots)
        ranks, weights, mask = ballots
        b, n, m, _ = ranks.shape
        if not self.neutral and m > self.max_candidates:
            raise ConfigError(f"ballots have {m} candidates; this non-neutral net has one embedding per "
                              f"candidate index and takes at most mechanism.max_candidates={self.max_candidates}")
        h = self.embed(position_features(ranks, mask))  # [b, n, m, d]
        # pairwise majority summary per candidate, pooled over real opponents
        maj = majority_fractions(ballots)
        pair_in = jnp.stack([maj, jnp.swapaxes(maj, 1, 2), maj - jnp.swapaxes(maj, 1, 2)], -1)
        opponents = (mask[:, None, :] & mask[:, :, None] & ~jnp.eye(m, dtype=bool)[None]).astype(h.dtype)
        pair = _masked_mean(self.pair(pair_in), opponents, 2)  # [b, m, d]
        h = h + pair[:, None]
        if self.identity is not None:
            h = h + self.identity[...][None, None, :m]
        for block in self.blocks:
            h = block(h, weights, mask)
        pooled = _masked_mean(h, weights[:, :, None] * jnp.ones(h.shape[:3]), 1)  # [b, m, d]
        logits = self.head(jnp.concatenate([pooled, pair], -1))[..., 0]
        return jax.nn.softmax(jnp.where(mask, logits, -jnp.inf), axis=-1)


def as_rule(module: nnx.Module, candidate_mask=None):
    """``(rankings, weights=None) -> winner probabilities``: a learned rule for audits and
    manipulation checks (``mechjax.voting.axioms`` / ``manipulation``), jitted."""
    graphdef, state = nnx.split(module)

    @jax.jit
    def apply(rankings, weights):
        net = nnx.merge(graphdef, state)
        mask = None if candidate_mask is None else jnp.broadcast_to(candidate_mask, rankings.shape[::2])
        return net(ballots_from_rankings(rankings, weights, mask), training=False)

    return lambda rankings, weights=None: apply(jnp.asarray(rankings), weights)
