"""Scoring rules: plurality and Borda, batched and jittable (see ``mechjax.voting.rules``)."""

from __future__ import annotations

import jax.numpy as jnp

from mechjax.voting.profiles import voter_weights
from mechjax.voting.rules_base import (
    Winners,
    best,
    positions_batch_last,
    voting_rule,
    weighted_sum_over_voters,
    weights_batch_last,
)


@voting_rule()
def plurality(rankings, weights=None) -> Winners:
    """Most first places (pref_voting ``plurality``)."""
    m = rankings.shape[-1]
    firsts = (rankings[..., 0, None] == jnp.arange(m, dtype=rankings.dtype)[None, None, :]).astype(jnp.int32)
    return best(weighted_sum_over_voters(voter_weights(rankings, weights), firsts))


@voting_rule(scale=lambda m: m - 1)
def borda(rankings, weights=None) -> Winners:
    """Highest Borda score, m-1 points for a first place down to 0 (pref_voting ``borda``)."""
    m = rankings.shape[-1]
    points = m - 1 - positions_batch_last(rankings)  # [v, c, b]: batch last (see rules_base)
    return best((weights_batch_last(rankings, weights)[:, None, :] * points).sum(0).T)
