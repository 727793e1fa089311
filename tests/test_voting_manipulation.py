"""Exhaustive manipulation search: agrees with a plain loop, and finds none where theory says none."""

import itertools

import jax
import numpy as np
import pytest

from mechjax.errors import ConfigError
from mechjax.voting import manipulation as M
from mechjax.voting import profiles as P
from mechjax.voting import rules as R

N, MM = 5, 4  # voters, candidates


@pytest.fixture(scope="module")
def profiles():
    return np.asarray(P.impartial_culture(jax.random.key(0), 64, N, MM).rankings)


def loop_reference(rule, rankings, voter, tie_break="uniform"):
    """Best gain of one voter, one ballot at a time (Borda utilities, uniform or index tie-break)."""
    m = rankings.shape[-1]
    util = {c: (m - 1 - list(rankings[voter]).index(c)) / (m - 1) for c in range(m)}

    def value(profile):
        winners = np.nonzero(np.asarray(rule(profile[None]))[0])[0]
        if tie_break == "lowest_index":
            winners = winners[:1]
        return np.mean([util[c] for c in winners]) if len(winners) else 0.0

    truthful = value(rankings)
    best = -np.inf
    for ballot in itertools.permutations(range(m)):
        lied = rankings.copy()
        lied[voter] = ballot
        best = max(best, value(lied) - truthful)
    return best


@pytest.mark.parametrize("name,tie_break", [("borda", "uniform"), ("instant_runoff", "uniform"),
                                            ("copeland", "lowest_index")])
def test_matches_a_plain_loop(name, tie_break, profiles):
    rule = R.RULES[name]
    res = M.single_voter_manipulation(rule, profiles[:6], tie_break=tie_break, chunk_size=256)
    for b in range(6):
        for v in range(N):
            assert np.isclose(res.gain[b, v], loop_reference(rule, profiles[b], v, tie_break), atol=1e-9)


def test_best_ballot_achieves_the_reported_gain(profiles):
    res = M.single_voter_manipulation(R.plurality, profiles, chunk_size=256)
    b, v = np.unravel_index(np.argmax(res.gain), res.gain.shape)
    assert res.gain[b, v] > 0  # plurality is manipulable on some of 64 IC profiles
    lied = profiles[b].copy()
    lied[v] = res.best_ballots[b, v, 0]
    util = (MM - 1 - np.argsort(profiles[b, v])) / (MM - 1)
    before = np.asarray(R.uniform_lottery(R.plurality(profiles[b:b + 1])))[0] @ util
    after = np.asarray(R.uniform_lottery(R.plurality(lied[None])))[0] @ util
    assert np.isclose(after - before, res.gain[b, v])


def test_truthful_ballot_bounds_gain_below(profiles):
    res = M.single_voter_manipulation(R.kemeny, profiles, chunk_size=256)
    assert (res.gain >= -1e-9).all()  # the sincere ballot is among the options: gain >= 0
    assert res.manipulable.tolist() == (res.gain > 1e-6).any(-1).tolist()


@pytest.mark.parametrize("name", ["plurality", "borda", "copeland"])
def test_two_candidates_are_strategyproof(name):
    # with two candidates majority rule is strategyproof, even with ties broken uniformly
    rankings = np.asarray(P.impartial_culture(jax.random.key(1), 64, 6, 2).rankings)
    assert M.single_voter_manipulation(R.RULES[name], rankings, chunk_size=256).rate == 0.0


def test_a_dictatorship_is_strategyproof(profiles):
    dictator = jax.jit(lambda r: jax.nn.one_hot(r[:, 0, 0], r.shape[-1], dtype=bool))
    assert M.single_voter_manipulation(dictator, profiles, chunk_size=256).rate == 0.0


def test_gibbard_satterthwaite_in_practice(profiles):
    # every non-dictatorial onto rule with m >= 3 is manipulable somewhere; on random IC profiles
    # plurality and Borda are manipulable often
    for name in ("plurality", "borda"):
        assert M.single_voter_manipulation(R.RULES[name], profiles, chunk_size=256).rate > 0.2


def test_coalitions(profiles):
    single = M.single_voter_manipulation(R.borda, profiles, chunk_size=256)
    as_groups = M.coalition_manipulation(R.borda, profiles, np.arange(N)[:, None], chunk_size=256)
    assert np.allclose(single.gain, as_groups.gain)
    pairs = np.array([[0, 1], [2, 3]])
    same = M.coalition_manipulation(R.borda, profiles[:8], pairs, chunk_size=256)
    joint = M.coalition_manipulation(R.borda, profiles[:8], pairs, joint="all", chunk_size=256)
    assert (joint.gain >= same.gain - 1e-9).all()  # more ballot combinations can only help
    assert same.best_ballots.shape == (8, 2, 2, MM)
    assert (same.best_ballots[:, :, 0] == same.best_ballots[:, :, 1]).all()


def test_config_errors(profiles):
    with pytest.raises(ConfigError, match="num_candidates"):
        M.single_voter_manipulation(R.borda, np.tile(np.arange(7, dtype=np.int32), (1, 3, 1)))
    with pytest.raises(ConfigError, match="joint"):
        M.coalition_manipulation(R.borda, profiles, [[0]], joint="some")
    with pytest.raises(ConfigError, match="coalitions"):
        M.coalition_manipulation(R.borda, profiles, [[N]])
    with pytest.raises(ConfigError, match="joint='all'"):
        M.coalition_manipulation(R.borda, profiles, [[0, 1, 2, 3]], joint="all")
    coalitions = M.random_coalitions(jax.random.key(2), N, 3, 10)
    assert coalitions.shape == (10, 3) and all(len(set(c)) == 3 for c in coalitions.tolist())
