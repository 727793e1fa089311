"""Axiom audits: they find violations where theory says there are some, and none where there are none.

Rule calls run in chunks of 256 on the padded shape of ``test_voting_rules`` so compilations are
shared with that file.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError
from mechjax.testing.voting import padded_profiles
from mechjax.voting import axioms as A
from mechjax.voting import profiles as P
from mechjax.voting import rules as R

B = 256  # the batch of test_voting_rules: same shapes, shared compilations

CHUNK = dict(chunk_size=B)


@pytest.fixture(scope="module")
def profiles():
    return padded_profiles(jax.random.key(11))


@jax.jit
def dictator(rankings, weights=None):
    """Voter 0's favourite wins (padding voters have weight 0, so use the first real one)."""
    first = 0 if weights is None else jnp.argmax(weights > 0, -1)
    top = rankings[jnp.arange(rankings.shape[0]), first, 0]
    return jax.nn.one_hot(top, rankings.shape[-1], dtype=bool)


@jax.jit
def always_zero(rankings, weights=None):
    return jnp.zeros(rankings.shape[::2], bool).at[:, 0].set(True)


@jax.jit
def borda_losers(rankings, weights=None):
    """The anti-rule: lowest Borda score wins; Pareto and monotonicity must fail."""
    m = rankings.shape[-1]
    scores = jnp.einsum("bv,bvc->bc", P.voter_weights(rankings, weights), m - 1 - P.positions(rankings))
    real = rankings[:, 0, :].max(-1, keepdims=True)  # padding candidates excluded below
    scores = jnp.where(jnp.arange(m)[None] < real + 1, scores, jnp.iinfo(jnp.int32).max)
    return scores == scores.min(-1, keepdims=True)


def test_anonymity_catches_a_dictator(profiles):
    r, w, n, m = profiles
    res = A.anonymity(dictator, r, jax.random.key(0), w, num_samples=20, **CHUNK)
    assert res.num_applicable == B and res.rate < 0.8
    assert A.anonymity(R.borda, r, jax.random.key(0), w, **CHUNK).rate == 1.0


def test_neutrality_catches_a_constant_rule(profiles):
    r, w, n, m = profiles
    assert A.neutrality(always_zero, r, jax.random.key(1), w, **CHUNK).rate < 0.5
    assert A.neutrality(dictator, r, jax.random.key(1), w, **CHUNK).rate == 1.0


def test_condorcet_applicability_is_exact(profiles):
    r, w, n, m = profiles
    res = A.condorcet_consistency(R.plurality, r, weights=w, **CHUNK)
    for b in range(40):  # brute-force Condorcet winner on the real profile
        ballots = np.repeat(r[b], w[b], 0)[:, : m[b]]
        beats = lambda x, y: sum(list(v).index(x) < list(v).index(y) for v in ballots) * 2 > len(ballots)
        cw = [x for x in range(m[b]) if all(beats(x, y) for y in range(m[b]) if y != x)]
        assert bool(res.applicable[b]) == bool(cw)
    assert A.condorcet_consistency(R.copeland, r, weights=w, **CHUNK).rate == 1.0
    assert 0.5 < res.rate < 1.0  # plurality misses some Condorcet winners


def test_pareto_applicability_is_exact(profiles):
    r, w, n, m = profiles
    res = A.pareto(borda_losers, r, weights=w, **CHUNK)
    for b in range(40):  # padding candidates count: every real one dominates them
        ballots = np.repeat(r[b], w[b], 0)
        dominated = [y for x, y in itertools.permutations(range(r.shape[-1]), 2)
                     if all(list(v).index(x) < list(v).index(y) for v in ballots)]
        assert bool(res.applicable[b]) == bool(dominated)
    assert res.num_applicable > 50 and res.rate < 0.5
    assert A.pareto(R.kemeny, r, weights=w, **CHUNK).rate == 1.0


@pytest.mark.parametrize("name", ["plurality", "borda", "copeland", "kemeny", "schulze", "ranked_pairs"])
def test_monotone_rules_pass_monotonicity(name, profiles):
    r, w, *_ = profiles
    assert A.monotonicity(R.RULES[name], r, jax.random.key(2), w, num_samples=20, **CHUNK).rate == 1.0


def test_monotonicity_catches_instant_runoff_and_anti_rules(profiles):
    r, w, *_ = profiles
    irv = A.monotonicity(R.instant_runoff, r, jax.random.key(2), w, num_samples=20, **CHUNK)
    assert irv.num_applicable > 100 and irv.rate < 1.0  # the classic IRV monotonicity failure
    assert A.monotonicity(borda_losers, r, jax.random.key(2), w, num_samples=20, **CHUNK).rate < 0.9


def test_independence(profiles):
    r, w, *_ = profiles
    options = dict(samples_per_pair=8, **CHUNK)
    # a dictator keeps her top as long as she keeps the winner above the loser: independent
    assert A.independence(dictator, r, jax.random.key(3), w, **options).rate == 1.0
    plural = A.independence(R.plurality, r, jax.random.key(3), w, **options)
    assert plural.num_applicable > 100 and plural.rate < 0.6


@pytest.mark.parametrize("name", ["plurality", "borda"])
def test_scoring_rules_never_reward_abstention(name, profiles):
    # adding a ballot raises each candidate by that voter's own score: no no-show paradox
    r, w, *_ = profiles
    assert A.participation(R.RULES[name], r, weights=w, **CHUNK).rate == 1.0


def test_participation_catches_instant_runoff(profiles):
    r, w, *_ = profiles
    res = A.participation(R.instant_runoff, r, weights=w, **CHUNK)
    assert res.num_applicable > 200 and res.rate < 1.0


def test_participation_by_deletion_equals_by_weights():
    plain = np.asarray(P.impartial_culture(jax.random.key(1), B, 7, 4).rankings)
    ones = np.ones((B, 7), np.int32)
    a = A.participation(R.copeland, plain, **CHUNK)
    b = A.participation(R.copeland, plain, weights=ones, **CHUNK)
    assert (np.asarray(a.satisfied) == np.asarray(b.satisfied)).all()


def test_probability_outcomes_read_as_their_modes(profiles):
    r, w, *_ = profiles
    lottery = lambda rk, wt: R.uniform_lottery(R.borda(rk, wt))
    for audit in (A.condorcet_consistency, A.pareto):
        x, y = audit(R.borda, r, weights=w, **CHUNK), audit(lottery, r, weights=w, **CHUNK)
        assert (np.asarray(x.satisfied) == np.asarray(y.satisfied)).all()
    x = A.participation(R.instant_runoff, r, weights=w, **CHUNK)
    y = A.participation(lambda rk, wt: R.uniform_lottery(R.instant_runoff(rk, wt)), r, weights=w, **CHUNK)
    assert (np.asarray(x.satisfied) == np.asarray(y.satisfied)).all()


def test_audit_runs_every_axiom_and_rejects_unknown_ones(profiles):
    r, w, *_ = profiles
    small = dict(anonymity=dict(num_samples=2, **CHUNK), neutrality=dict(num_samples=2, **CHUNK),
                 condorcet=CHUNK, pareto=CHUNK, monotonicity=dict(num_samples=2, **CHUNK),
                 independence=dict(samples_per_pair=1, **CHUNK), participation=CHUNK)
    results = A.audit(R.copeland, r, jax.random.key(5), w, **small)
    assert set(results) == set(A.AXIOMS)
    assert all(0.0 <= res.rate <= 1.0 for res in results.values())
    with pytest.raises(ConfigError, match="axioms"):
        A.audit(R.copeland, r, jax.random.key(5), w, axioms=("fairness",))
    with pytest.raises(ConfigError, match="num_samples"):
        A.anonymity(R.copeland, r, jax.random.key(5), w, num_samples=0)
