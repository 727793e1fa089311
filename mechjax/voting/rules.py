"""Classical voting rules, batched and jittable: ``rule(rankings, weights=None) -> winners``.

``rankings`` is ``int [batch, voters, candidates]`` (best first), ``weights`` optional ``int
[batch, voters]`` ballot counts, and ``winners`` a ``bool [batch, candidates]`` mask of the winner
*set*, ties kept. Each rule reproduces one pref_voting (1.18) function exactly, named in its
docstring; the test suite cross-checks every rule against it on random profiles.
``lowest_index`` / ``random_winner`` / ``uniform_lottery`` turn a winner set into one winner or a
lottery.

The rules live by family in ``rules_scoring`` (plurality, Borda), ``rules_pairwise`` (Condorcet,
Copeland, maximin, Schulze, Kemeny), ``rules_runoff`` (instant runoff and variants) and
``rules_ranked_pairs``; what they share (validation, overflow guards, fast margins) is in
``rules_base``. This module gathers them under the names users import.

Eager calls validate their input (DataError) before compiling; calls inside ``jit`` only check
shapes (and the number of voters). All arithmetic is int32, so ties are exact; a rule refuses
weights whose total would overflow its int32 scores (``check_weight_totals``) rather than elect
the wrong candidate.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from mechjax.errors import ConfigError
from mechjax.voting.profiles import check_rankings
from mechjax.voting.rules_base import INT32_MAX, Winners, check_weight_totals  # noqa: F401 (re-exported)
from mechjax.voting.rules_pairwise import KEMENY_MAX_CANDIDATES, condorcet, copeland, kemeny, maximin, schulze
from mechjax.voting.rules_ranked_pairs import RANKED_PAIRS_MAX_CANDIDATES, ranked_pairs, ranked_pairs_tb
from mechjax.voting.rules_runoff import IRV_PUT_MAX_CANDIDATES, instant_runoff, instant_runoff_put, instant_runoff_tb
from mechjax.voting.rules_scoring import borda, plurality

__all__ = [
    "INT32_MAX", "IRV_PUT_MAX_CANDIDATES", "KEMENY_MAX_CANDIDATES", "LOTTERIES", "RANKED_PAIRS_MAX_CANDIDATES",
    "RULES", "Winners", "borda", "check_weight_totals", "condorcet", "copeland", "get_rule", "instant_runoff",
    "instant_runoff_put", "instant_runoff_tb", "kemeny", "lowest_index", "maximin", "plurality",
    "random_dictatorship", "random_winner", "ranked_pairs", "ranked_pairs_tb", "schulze", "uniform_lottery",
]


# ----------------------------------------------------------------------------- single winners

def lowest_index(winners: Winners) -> Winners:
    """Resolute tie-break: the winner with the lowest candidate index (one-hot mask)."""
    return jax.nn.one_hot(jnp.argmax(winners, axis=-1), winners.shape[-1], dtype=bool) & winners.any(-1, keepdims=True)


def random_winner(key: PRNGKeyArray, winners: Winners) -> Winners:
    """Resolute tie-break: one winner drawn uniformly from each winner set (one-hot mask)."""
    logits = jnp.where(winners, 0.0, -jnp.inf)
    pick = jax.random.categorical(key, logits, axis=-1)
    return jax.nn.one_hot(pick, winners.shape[-1], dtype=bool) & winners.any(-1, keepdims=True)


def uniform_lottery(winners: Winners) -> Float[Array, "batch candidates"]:
    """The winner set as a uniform lottery (all-zero row for an empty set)."""
    w = winners.astype(jnp.float32)
    return w / jnp.maximum(w.sum(-1, keepdims=True), 1.0)


def random_dictatorship(rankings, weights=None) -> Float[Array, "batch candidates"]:
    """The lottery that elects a uniformly drawn voter's top choice (ballot counts as weights).

    Anonymous, neutral and strategyproof in expected utility (a voter's ballot only moves its own
    share, which its sincere top maximises): a classical baseline for learned strategyproof rules.
    Returns winner probabilities, not a mask; it is in ``LOTTERIES``, not ``RULES``.
    """
    check_rankings(rankings, weights)
    check_weight_totals(rankings, weights, 1, "random_dictatorship")
    m = jnp.shape(rankings)[-1]
    w = jnp.ones(jnp.shape(rankings)[:2]) if weights is None else jnp.asarray(weights, jnp.float32)
    tops = jnp.einsum("bv,bvc->bc", w, jax.nn.one_hot(jnp.asarray(rankings)[..., 0], m))
    return tops / jnp.maximum(w.sum(-1, keepdims=True), 1e-9)


LOTTERIES: dict[str, Callable] = {"random_dictatorship": random_dictatorship}

RULES: dict[str, Callable] = {
    "plurality": plurality, "borda": borda, "copeland": copeland, "maximin": maximin,
    "kemeny": kemeny, "instant_runoff": instant_runoff, "instant_runoff_put": instant_runoff_put,
    "instant_runoff_tb": instant_runoff_tb, "schulze": schulze, "ranked_pairs": ranked_pairs,
    "ranked_pairs_tb": ranked_pairs_tb,
    "condorcet": condorcet,
}


def get_rule(name: str) -> Callable:
    """The rule called ``name`` (a key of ``RULES``); ConfigError naming ``voting.rule`` otherwise."""
    if name not in RULES:
        raise ConfigError(f"voting.rule must be one of {sorted(RULES)}, got {name!r}")
    return RULES[name]
