"""Objective terms of learned rules: each is minimised exactly where its principle holds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError
from mechjax.voting import losses as L
from mechjax.voting import profiles as P

KEY = jax.random.key(0)


def random_lotteries(key, b=64, m=5):
    return jax.nn.softmax(3 * jax.random.normal(key, (b, m)), -1)


def test_mimicry_is_minimised_by_the_uniform_lottery_on_the_target():
    target = jax.random.bernoulli(KEY, 0.4, (64, 5)).at[:, 0].set(True)
    uniform = target / target.sum(-1, keepdims=True)
    best = L.mimicry(uniform, target)
    assert np.allclose(best, np.log(np.asarray(target.sum(-1))), atol=1e-5)  # entropy of the target
    assert (np.asarray(L.mimicry(random_lotteries(jax.random.key(1)), target)) >= np.asarray(best) - 1e-6).all()
    grad = jax.grad(lambda p: L.mimicry(p, target).sum())(uniform)
    # on the simplex the gradient is constant over the target's support: a stationary point
    g = np.asarray(grad)
    t = np.asarray(target)
    assert all(np.ptp(g[b][t[b]]) < 1e-4 for b in range(64))


def test_welfare_terms_by_hand():
    probs = random_lotteries(KEY, 8, 4)
    u = jax.random.uniform(jax.random.key(2), (8, 3, 4))
    w = jnp.array([[1, 2, 0]] * 8, jnp.float32)
    eu = np.einsum("bm,bnm->bn", np.asarray(probs), np.asarray(u))
    assert np.allclose(L.utilitarian(probs, u, w), (eu[:, 0] + 2 * eu[:, 1]) / 3, atol=1e-6)
    assert np.allclose(L.egalitarian(probs, u, w), eu[:, :2].min(-1), atol=1e-6)  # voter 3 is padding
    assert np.allclose(L.nash(probs, u, w), (np.log(eu[:, 0]) + 2 * np.log(eu[:, 1])) / 3, atol=1e-5)


def test_axiom_terms_vanish_exactly_when_satisfied():
    m = 4
    cw = jax.nn.one_hot(jnp.array([0, 1, 2, 3]), m, dtype=bool).at[3].set(False)  # last: no CW
    on_cw = jax.nn.one_hot(jnp.array([0, 1, 2, 0]), m)
    assert np.allclose(L.condorcet(on_cw, cw), 0, atol=1e-6)
    assert (np.asarray(L.condorcet(jnp.full((4, m), 1 / m), cw))[:3] > 1.0).all()
    dominated = jnp.array([[False, True, True, False]] * 4)
    assert np.allclose(L.pareto(jnp.array([[0.5, 0, 0, 0.5]] * 4), dominated), 0)
    assert np.allclose(L.pareto(jnp.array([[0.5, 0.25, 0, 0.25]] * 4), dominated), 0.25)


def test_invariance_terms():
    p, q = random_lotteries(KEY), random_lotteries(jax.random.key(3))
    assert np.allclose(L.anonymity(p, p), 0, atol=1e-6) and (np.asarray(L.anonymity(p, q)) > 0).all()
    sigma = jnp.argsort(jax.random.uniform(jax.random.key(4), p.shape), -1)
    renamed = jnp.zeros_like(p).at[jnp.arange(p.shape[0])[:, None], sigma].set(p)  # p[c] moves to sigma[c]
    assert np.allclose(L.neutrality(p, renamed, sigma), 0, atol=1e-6)
    assert (np.asarray(L.neutrality(p, p, sigma)) >= -1e-7).all()


def test_participation_counts_only_gains_from_abstaining():
    before = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    after = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    u = jnp.array([[0.0, 1.0], [0.0, 1.0]])  # the abstainer prefers candidate 1
    assert np.allclose(L.participation(before, after, u), [1.0, 0.0])


def test_loss_weights_validation():
    assert L.LossWeights(mimicry=0.0, pareto=2.0).active() == {"pareto": 2.0}
    with pytest.raises(ConfigError, match="problem.loss.nash"):
        L.LossWeights(nash=-1.0)
    with pytest.raises(ConfigError, match="at least one"):
        L.LossWeights(mimicry=0.0)


def test_reshuffle_keeps_each_voters_pair_comparison_and_padding():
    from mechjax.voting.problem import _reshuffle_keeping_pair
    b, n, m = 256, 7, 5
    rankings = P.impartial_culture(jax.random.key(11), b, n, m).rankings
    real = jax.random.randint(jax.random.key(12), (b, 1, 1), 2, m + 1)
    place = jnp.where(rankings < real, jnp.arange(m), m + rankings)  # padding candidates go last
    rankings = jnp.take_along_axis(rankings, jnp.argsort(place, -1), -1)
    mask = jnp.arange(m)[None] < real[:, 0]
    pair, new = map(np.asarray, _reshuffle_keeping_pair(jax.random.key(13), rankings, mask))
    old_pos, new_pos = np.argsort(np.asarray(rankings), -1), np.argsort(new, -1)
    assert (np.sort(new, -1) == np.arange(m)).all()
    x, y = pair[:, 0], pair[:, 1]
    assert (x != y).all() and np.asarray(mask)[np.arange(b), x].all() and np.asarray(mask)[np.arange(b), y].all()
    rows = np.arange(b)[:, None]
    assert ((old_pos[rows, :, x[:, None]] < old_pos[rows, :, y[:, None]])
            == (new_pos[rows, :, x[:, None]] < new_pos[rows, :, y[:, None]])).all()
    assert (new_pos[~np.broadcast_to(np.asarray(mask)[:, None], new_pos.shape)]
            >= np.asarray(real).repeat(n, 1).repeat(m, 2)[~np.broadcast_to(np.asarray(mask)[:, None], new_pos.shape)]).all()
    # the rest really is reshuffled: most ballots change
    assert (new != np.asarray(rankings)).any(-1).mean() > 0.5


def test_independence_loss_is_zero_for_pairwise_majority_odds_and_positive_for_borda():
    from mechjax.voting.problem import VotingProblem
    from mechjax.voting.profiles import CultureConfig
    prob = VotingProblem(culture=CultureConfig("ic", 9, 5), loss=L.LossWeights(mimicry=0.0, independence=1.0),
                         target=None, variable_sizes=True)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(14), 512)
    def pairwise(ballots):  # x-vs-y odds set by the x-vs-y majority alone: independent by design
        from mechjax.voting.nets import majority_fractions
        frac = majority_fractions(ballots)
        logits = jnp.zeros(frac.shape[:2])
        x, y = batch.iia_pair[:, 0], batch.iia_pair[:, 1]
        fxy = jnp.take_along_axis(jnp.take_along_axis(frac, x[:, None, None], 1)[:, 0], y[:, None], 1)[:, 0]
        logits = logits.at[jnp.arange(512), x].set(10 * fxy).at[jnp.arange(512), y].set(10 * (1 - fxy))
        return jax.nn.softmax(jnp.where(ballots.candidate_mask, logits, -jnp.inf), -1)
    zero = L.independence(pairwise(batch.ballots), pairwise(batch.iia_ballots), batch.iia_pair)
    assert float(jnp.abs(zero).max()) < 1e-5
    borda = lambda ballots: jax.nn.softmax(jnp.where(
        ballots.candidate_mask, -5 * (ballots.ranks * jnp.arange(5)[None, None, None]).sum(-1).mean(1), -jnp.inf), -1)
    flips = L.independence(borda(batch.ballots), borda(batch.iia_ballots), batch.iia_pair)
    assert float((flips > 0).mean()) > 0.05 and float(flips.min()) >= 0
