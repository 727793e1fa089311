"""Relaxed-ballot manipulation search: its manipulations are real, never beat the exhaustive search,
and find most of what the exhaustive search finds, also above the exhaustive limit."""

import functools

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError, DataError
from mechjax.voting import manipulation as M
from mechjax.voting import profiles as P
from mechjax.voting.evaluate import as_ranking_rule
from mechjax.voting.nets import VotingNet, ballots_from_rankings
from mechjax.voting.relaxed_search import RelaxedSearch, relaxed_manipulation

N, MM, B = 5, 4, 24  # voters, candidates, profiles
FAST = RelaxedSearch(steps=30, restarts=3, snapshots=3, local_rounds=2)
# the gradient path alone: no structured ballots, no local search, only ascent + rounding
GRADIENT_ONLY = RelaxedSearch(steps=30, restarts=3, snapshots=3, local_rounds=0, structured=False)


def softmax_borda(temperature):
    """A smooth classical-like rule: softmax of the mean Borda score (expected for relaxed ballots)."""
    def mechanism(ballots):
        m = ballots.ranks.shape[-1]
        score = (m - 1 - (ballots.ranks * jnp.arange(m)[None, None, None, :]).sum(-1)) / (m - 1)  # [b, n, m]
        w = ballots.weights / ballots.weights.sum(-1, keepdims=True)
        return jax.nn.softmax(jnp.einsum("bn,bnm->bm", w, score) / temperature, -1)
    return mechanism


def _random_net():
    graphdef, state = nnx.split(VotingNet(MM, dim=8, depth=1, rngs=nnx.Rngs(0)))
    return lambda ballots: nnx.merge(graphdef, state)(ballots)


MECHANISMS = {"softmax_borda_0.01": softmax_borda(0.01), "softmax_borda_0.05": softmax_borda(0.05),
              "random_voting_net": _random_net()}


@functools.lru_cache(maxsize=None)
def module_profiles():
    return np.asarray(P.impartial_culture(jax.random.key(0), B, N, MM).rankings)


@pytest.fixture
def profiles():
    return module_profiles().copy()


def reevaluate(mechanism, rankings, ballots, utilities, weights):
    """Gain of every voter casting ``ballots[b, v]``, from profiles built here (not by the library)."""
    b, n, m = rankings.shape
    lied = np.repeat(rankings[:, None], n, 1)  # [b, deviator, n, m]
    lied[:, np.arange(n), np.arange(n)] = ballots
    w = np.ones((b, n)) if weights is None else weights
    mechanism = jax.jit(mechanism)  # op by op, a VotingNet took ~20 s here
    probs = np.asarray(mechanism(ballots_from_rankings(jnp.asarray(lied.reshape(b * n, n, m)), np.repeat(w, n, 0))))
    sincere = np.asarray(mechanism(ballots_from_rankings(jnp.asarray(rankings), w)))
    return np.einsum("bvm,bvm->bv", utilities, probs.reshape(b, n, m).astype(np.float64) - sincere[:, None])


@functools.lru_cache(maxsize=None)
def exhaustive_search(name):
    """The exact best manipulations of the module's profiles under ``MECHANISMS[name]`` (shared by tests)."""
    return M.single_voter_manipulation(jax.jit(as_ranking_rule(MECHANISMS[name])), module_profiles())


def borda(rankings):
    m = rankings.shape[-1]
    return (m - 1 - np.argsort(rankings, -1)) / (m - 1)


def test_reported_ballots_are_real_and_gain_what_is_reported(profiles):
    mechanism = MECHANISMS["random_voting_net"]
    rng = np.random.default_rng(1)
    rankings = profiles
    utilities = rng.random(rankings.shape)
    weights = rng.integers(0, 3, rankings.shape[:2])
    weights[:, 0] = np.maximum(weights[:, 0], 1)  # every profile keeps a voter
    res = relaxed_manipulation(mechanism, rankings, utilities, weights, key=jax.random.key(0), search=FAST)
    assert res.best_ballots.shape == (B, N, 1, MM) and res.gain.shape == (B, N)
    ballots = res.best_ballots[:, :, 0]
    assert (np.sort(ballots, -1) == np.arange(MM)).all()  # every ballot is a permutation
    np.testing.assert_allclose(res.gain, reevaluate(mechanism, rankings, ballots, utilities, weights), atol=2e-6)
    assert (res.gain >= 0).all()  # the truthful ballot is always among the candidates
    silent = weights == 0  # zero-weight voters are not searched: truthful ballot, no gain
    assert (ballots[silent] == rankings[silent]).all() and (res.gain[silent] == 0).all()
    assert (res.manipulable == (res.gain > 1e-6).any(-1)).all()


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_never_beats_and_mostly_matches_the_exhaustive_search(name, profiles):
    mechanism = MECHANISMS[name]
    exhaustive = exhaustive_search(name)
    res = relaxed_manipulation(mechanism, profiles, key=jax.random.key(0), search=FAST)
    # every relaxed-search gain is a real manipulation, so the exhaustive search's best bounds it
    assert (res.gain <= exhaustive.gain + 1e-5).all()
    assert exhaustive.manipulable.sum() >= 5  # the comparison below is not vacuous
    manipulable_voters = exhaustive.gain > 1e-6
    # thresholds: measured 1.0 (voters and profiles) and >= 0.999 (gain ratio) on 5 seeds x 3 rules
    assert res.manipulable[exhaustive.manipulable].mean() >= 0.9
    assert (res.gain[manipulable_voters] > 1e-6).mean() >= 0.85
    assert np.maximum(res.gain, 0).sum() >= 0.9 * np.maximum(exhaustive.gain, 0).sum()


@pytest.mark.parametrize("name", ["softmax_borda_0.01", "random_voting_net"])
def test_gradient_path_alone_finds_manipulations(name, profiles):
    """Without structured ballots and local search the relaxed ascent + rounding must still work."""
    mechanism = MECHANISMS[name]
    exhaustive = exhaustive_search(name)
    res = relaxed_manipulation(mechanism, profiles, key=jax.random.key(0), search=GRADIENT_ONLY)
    assert (res.gain <= exhaustive.gain + 1e-5).all()
    manipulable_voters = exhaustive.gain > 1e-6
    # thresholds: measured >= 0.56 (voters), >= 0.70 (profiles), >= 0.61 (gain ratio) on 5 seeds x 3 rules
    assert (res.gain[manipulable_voters] > 1e-6).mean() >= 0.4
    assert res.manipulable[exhaustive.manipulable].mean() >= 0.55
    assert np.maximum(res.gain, 0).sum() >= 0.45 * np.maximum(exhaustive.gain, 0).sum()


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _softmax_borda_exact(rankings, temperature):
    """Exhaustive best gain under ``softmax_borda`` (all m! ballots, scored in closed form, float64)."""
    b, n, m = rankings.shape
    options = M.all_ballots(m)  # [a, m]
    ballot_points = borda(options)  # [a, m] Borda points each ballot gives each candidate
    points = borda(rankings)  # [b, n, m]; also the voters' (Borda) utilities
    best = np.empty((b, n))
    for p in range(b):
        truthful = _softmax(points[p].mean(0) / temperature)
        for v in range(n):
            lied = _softmax((points[p].sum(0) - points[p, v] + ballot_points) / n / temperature)  # [a, m]
            best[p, v] = (lied @ points[p, v]).max() - truthful @ points[p, v]
    return best


def test_runs_above_the_exhaustive_limit_and_finds_most_manipulations():
    m = 8
    assert m > M.MAX_CANDIDATES
    rankings = np.asarray(P.impartial_culture(jax.random.key(3), 3, N, m).rankings)
    mechanism = softmax_borda(0.02)
    res = relaxed_manipulation(mechanism, rankings, key=jax.random.key(1), search=FAST)
    ballots = res.best_ballots[:, :, 0]
    assert (np.sort(ballots, -1) == np.arange(m)).all()
    np.testing.assert_allclose(res.gain, reevaluate(mechanism, rankings, ballots, borda(rankings), None), atol=2e-6)
    exact = _softmax_borda_exact(rankings, 0.02)
    assert (res.gain <= exact + 1e-5).all()
    manipulable_voters = exact > 1e-6
    assert manipulable_voters.sum() >= 5
    # thresholds: measured 1.0 (voters) and >= 0.957 (gain ratio) on 5 seeds
    assert (res.gain[manipulable_voters] > 1e-6).mean() >= 0.8
    assert np.maximum(res.gain, 0).sum() >= 0.85 * np.maximum(exact, 0).sum()


def test_bad_settings_and_rankings_raise_before_compiling(profiles):
    mechanism = MECHANISMS["softmax_borda_0.05"]
    with pytest.raises(ConfigError, match="relaxed_search.restarts"):
        relaxed_manipulation(mechanism, profiles, key=jax.random.key(0), restarts=0)
    with pytest.raises(ConfigError, match="relaxed_search.temperature"):
        relaxed_manipulation(mechanism, profiles, key=jax.random.key(0), temperature=(1.0, 0.0))
    with pytest.raises(ConfigError, match="unknown setting"):
        relaxed_manipulation(mechanism, profiles, key=jax.random.key(0), stepz=3)
    with pytest.raises(DataError, match="utilities"):
        relaxed_manipulation(mechanism, profiles, np.ones((B, N, MM + 1)), key=jax.random.key(0), search=FAST)
    broken = profiles.copy()
    broken[0, 0] = 0
    with pytest.raises(DataError, match="permutation"):
        relaxed_manipulation(mechanism, broken, key=jax.random.key(0), search=FAST)
