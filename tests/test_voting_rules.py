"""Classical rules: properties every rule must have, checked without any peer library.

Shapes are shared (``WEIGHTED`` and ``PLAIN``) so each rule compiles once per shape for the whole
session; pref_voting cross-checks live in ``test_voting_peers.py``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError, DataError
from mechjax.testing import voting as checks
from mechjax.testing.voting import padded_profiles
from mechjax.voting import profiles as P
from mechjax.voting import rules as R

KEY = jax.random.key(7)
B = 256
NONEMPTY = [n for n in R.RULES if n != "condorcet"]
CONDORCET_CONSISTENT = ["copeland", "maximin", "kemeny", "schulze", "ranked_pairs",
                        "ranked_pairs_tb", "condorcet"]


@pytest.fixture(scope="module")
def weighted():
    return padded_profiles(KEY)


@pytest.fixture(scope="module")
def plain():
    return np.asarray(P.impartial_culture(jax.random.key(1), B, 7, 4).rankings)


@pytest.mark.parametrize("name", list(R.RULES))
def test_winner_sets_are_valid(name, weighted, plain):
    rankings, weights, n, m = weighted
    rule = R.RULES[name]
    checks.assert_winner_masks(rule(plain), B, 4, nonempty=name != "condorcet")
    winners = np.asarray(rule(rankings, weights))
    checks.assert_winner_masks(winners, B, 5, nonempty=name != "condorcet")
    assert not (winners & (np.arange(5) >= m[:, None])).any(), "a padding candidate won"


@pytest.mark.parametrize("name", list(R.RULES))
def test_padding_changes_nothing(name, weighted, plain):
    # 7 voters x 4 candidates, embedded in 12 x 5 with weight-0 voters and a bottom candidate
    rankings = np.concatenate([plain, np.full((B, 7, 1), 4, np.int32)], -1)
    rankings = np.concatenate([rankings, np.tile(np.arange(5, dtype=np.int32), (B, 5, 1))], 1)
    weights = np.concatenate([np.ones((B, 7), np.int32), np.zeros((B, 5), np.int32)], 1)
    rule = R.RULES[name]
    padded = np.asarray(rule(rankings, weights))
    assert (padded[:, :4] == np.asarray(rule(plain))).all() and not padded[:, 4].any()


@pytest.mark.parametrize("name", ["plurality", "borda", "copeland", "instant_runoff",
                                  "instant_runoff_tb", "instant_runoff_put"])
def test_weights_count_as_copies(name):
    # 6 distinct rows whose counts add up to 12 for every profile: expanded shape is fixed.
    rows = np.asarray(P.impartial_culture(jax.random.key(2), B, 6, 4).rankings)
    counts = jax.random.multinomial(jax.random.key(3), 12, jnp.full(6, 1 / 6), shape=(B, 6))
    counts = np.asarray(counts).astype(np.int32)
    expanded = np.stack([np.repeat(rows[b], counts[b], 0) for b in range(B)])
    rule = R.RULES[name]
    assert (np.asarray(rule(rows, counts)) == np.asarray(rule(expanded))).all()


@pytest.mark.parametrize("name", list(R.RULES))
def test_anonymous_and_neutral(name, weighted):
    rankings, weights, *_ = weighted
    rule = R.RULES[name]
    checks.assert_anonymous(rule, rankings, jax.random.key(4), weights)
    if name.endswith("_tb"):
        return  # index tie-breaking is not neutral by design
    # neutrality on the real candidates only: use profiles without padding candidates
    full = padded_profiles(jax.random.key(5), voters=12, cands=5)
    r, w, _, m = full
    keep = m == 5
    r, w = np.where(keep[:, None, None], r, r[keep][0]), np.where(keep[:, None], w, w[keep][0])
    checks.assert_neutral(rule, r, jax.random.key(6), w)


@pytest.mark.parametrize("name", CONDORCET_CONSISTENT)
def test_condorcet_consistent(name, weighted):
    rankings, weights, *_ = weighted
    checks.assert_condorcet_consistent(R.RULES[name], rankings, weights)


@pytest.mark.parametrize("name", list(R.RULES))
def test_pareto(name, weighted):
    rankings, weights, *_ = weighted
    checks.assert_pareto(R.RULES[name], rankings, weights)


def test_kemeny_matches_brute_force_enumeration():
    rankings = np.asarray(P.mallows(jax.random.key(8), 64, 7, 6, 0.9).rankings)
    assert (np.asarray(R.kemeny(rankings)) == checks.brute_force_kemeny(rankings)).all()


def test_resolute_variants_pick_from_their_sets(weighted):
    rankings, weights, *_ = weighted
    rp, rp_tb = np.asarray(R.ranked_pairs(rankings, weights)), np.asarray(R.ranked_pairs_tb(rankings, weights))
    put, tb = np.asarray(R.instant_runoff_put(rankings, weights)), np.asarray(R.instant_runoff_tb(rankings, weights))
    assert (rp_tb.sum(-1) == 1).all() and (tb.sum(-1) == 1).all()
    assert not (rp_tb & ~rp).any() and not (tb & ~put).any()


def test_condorcet_cycle_ties_everyone():
    cycle = np.array([[[0, 1, 2], [1, 2, 0], [2, 0, 1]]], np.int32)  # textbook Condorcet paradox
    for name in NONEMPTY:
        if name.endswith("_tb"):
            continue
        assert np.asarray(R.RULES[name](cycle)).all(), name
    assert not np.asarray(R.condorcet(cycle)).any()


def test_tie_breaks():
    winners = np.array(jax.random.bernoulli(KEY, 0.5, (2000, 5)))
    winners[:, 4] |= ~winners.any(-1)
    first = np.asarray(R.lowest_index(winners))
    assert (first.sum(-1) == 1).all() and (first.argmax(-1) == winners.argmax(-1)).all()
    picked = np.asarray(R.random_winner(jax.random.key(9), winners))
    assert (picked.sum(-1) == 1).all() and not (picked & ~winners).any()
    lottery = np.asarray(R.uniform_lottery(winners))
    share = np.broadcast_to((1 / winners.sum(-1))[:, None], winners.shape)
    assert np.allclose(lottery.sum(-1), 1) and np.allclose(lottery[winners], share[winners])
    # uniform choice among three tied winners
    many = np.asarray(R.random_winner(jax.random.key(10), np.tile([True, False, True, True, False], (3000, 1))))
    freq = many.mean(0)[[0, 2, 3]]
    assert np.abs(freq - 1 / 3).max() < 0.04


def test_rules_jit_and_vmap_when_traced(plain):
    traced = jax.jit(lambda r: (R.borda(r), R.instant_runoff(r)))(plain)
    assert (np.asarray(traced[0]) == np.asarray(R.borda(plain))).all()
    assert (np.asarray(traced[1]) == np.asarray(R.instant_runoff(plain))).all()


def test_bad_input_fails_before_compiling(plain):
    bad = plain.copy()
    bad[3, 2] = [1, 1, 2, 3]
    with pytest.raises(DataError, match=r"rankings\[3, 2\]"):
        R.borda(bad)
    with pytest.raises(DataError, match="weights"):
        R.borda(plain, np.ones((B, 3), np.int32))
    with pytest.raises(DataError, match="exact only up to"):
        R.kemeny(np.tile(np.arange(13, dtype=np.int32), (1, 3, 1)))
    with pytest.raises(DataError, match="exact only up to"):
        R.ranked_pairs(np.tile(np.arange(9, dtype=np.int32), (1, 3, 1)))
    with pytest.raises(ConfigError, match="voting.rule"):
        R.get_rule("dictatorship")


# Each fast path has a general twin (argsort positions, min-based first places, boolean locking,
# subset DP): forcing the twin by its threshold must not change a single winner set.
PATHS = [
    ("rules_base", "ONE_HOT_MAX_CANDIDATES", ["borda", "copeland", "schulze"]),
    ("rules_runoff", "BITMASK_MAX_CANDIDATES", ["instant_runoff", "instant_runoff_tb", "instant_runoff_put"]),
    ("rules_ranked_pairs", "BITMASK_MAX_CANDIDATES", ["ranked_pairs_tb"]),
    ("rules_pairwise", "KEMENY_ENUMERATE_MAX_CANDIDATES", ["kemeny"]),
]


@pytest.mark.parametrize("module, threshold, names", PATHS)
def test_fast_and_general_paths_agree(module, threshold, names, weighted, monkeypatch):
    import importlib
    rankings, weights, *_ = weighted
    fast = {name: np.asarray(R.RULES[name](rankings, weights)) for name in names}
    monkeypatch.setattr(importlib.import_module(f"mechjax.voting.{module}"), threshold, 0)
    for name in names:  # a fresh jit of the undecorated rule traces the general path
        general = np.asarray(jax.jit(R.RULES[name].__wrapped__)(rankings, weights))
        assert (general == fast[name]).all(), name


def test_kemeny_exact_with_large_ballot_counts(monkeypatch):
    # counts so large that pairs * total reaches 2**24: enumeration splits margins into two exact
    # float32 parts; checked against integer brute force and against the subset DP
    rankings = np.asarray(P.mallows(jax.random.key(11), 48, 6, 5, 0.8).rankings)
    cap = R.INT32_MAX // (10 * 6)  # Kemeny's guard: total * pairs within int32
    counts = np.array(jax.random.randint(jax.random.key(12), (48, 6), cap // 2, cap))
    counts[:, 1] = counts[:, 0] + np.arange(48) % 3 - 1  # near-ties between two ballots
    winners = np.asarray(R.kemeny(rankings, counts))
    assert (winners == checks.brute_force_kemeny(rankings, counts)).all()
    from mechjax.voting import rules_pairwise
    monkeypatch.setattr(rules_pairwise, "KEMENY_ENUMERATE_MAX_CANDIDATES", 0)
    assert (np.asarray(jax.jit(R.kemeny.__wrapped__)(rankings, counts)) == winners).all()
