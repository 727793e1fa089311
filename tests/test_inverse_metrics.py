"""Gauge-invariant comparison metrics and the baseline estimators."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError
from mechjax.inverse import CongestionTolls, DenseGame, LogitQ, PublicGoods, TrivialGame, baselines, metrics, simulate
from mechjax.testing.inverse import gauge_shift

LEARNER = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)


@pytest.mark.parametrize("seed", range(3))
def test_gauge_equivalent_games_are_equal_under_every_metric(seed):
    key = jax.random.key(seed)
    game = DenseGame(PublicGoods.random(key).payoffs)  # dense: every comparison shares one compilation
    contexts = simulate(game, LEARNER, jax.random.fold_in(key, 1), 8, 10)
    for per_context in (False, True):
        shifted = gauge_shift(game, jax.random.fold_in(key, 2), per_context=per_context)
        assert float(jnp.abs(shifted.payoffs - game.payoffs).max()) > 0.1  # not the same tensor
        assert metrics.payoff_difference_mse(game, shifted) < 1e-8
        assert metrics.payoff_difference_mse(game, shifted, contexts) < 1e-8
        assert metrics.equivalent(game, shifted)
        assert metrics.visitation_kl(game, shifted, LEARNER, jax.random.key(3), episodes=16, steps=10) < 1e-6
    moved = DenseGame(game.payoffs.at[0, 1, 0, 0].add(0.5))
    assert not metrics.equivalent(game, moved)
    assert metrics.payoff_difference_mse(game, moved) > 0


def test_payoff_difference_mse_matches_the_pairwise_definition():
    # mean over (a, a') of squared difference errors = 2 A/(A-1) * (our gauge-fixed MSE) over a != a'.
    game = CongestionTolls.random(jax.random.key(0))
    other = DenseGame(jax.random.normal(jax.random.key(1), game.payoffs.shape))
    true_t, est_t = np.asarray(game.payoffs, np.float64), np.asarray(other.payoffs, np.float64)
    err = true_t - est_t  # [n, a1..an]
    total, count = 0.0, 0
    for i in range(4):
        e = np.moveaxis(err[i], i, -1).reshape(-1, 5)  # contexts x own action
        diffs = e[:, :, None] - e[:, None, :]
        total += (diffs**2).sum()
        count += e.shape[0] * 5 * 4
    pairwise = total / count
    np.testing.assert_allclose(metrics.payoff_difference_mse(game, other) * 2 * 5 / 4, pairwise, rtol=1e-4)


def test_trivial_estimator_scores_uniform_play_and_the_size_of_the_incentives():
    game = CongestionTolls.random(jax.random.key(5))
    held_out = simulate(game, LEARNER, jax.random.key(6), 16, 20)
    trivial = baselines.trivial(4, 5)
    np.testing.assert_allclose(metrics.heldout_nll(trivial, LEARNER, held_out), np.log(5), rtol=1e-5)
    fixed = metrics.gauge_fixed_payoffs(game, held_out.reshape(-1, 4))
    np.testing.assert_allclose(metrics.payoff_difference_mse(game, trivial, held_out), float(jnp.mean(fixed**2)),
                               rtol=1e-5)
    assert metrics.heldout_nll(game, LEARNER, held_out) < np.log(5)


def test_visitation_kl_separates_different_mechanisms_from_sampling_noise():
    game = DenseGame(CongestionTolls.random(jax.random.key(7)).payoffs)
    trivial = DenseGame(jnp.zeros_like(game.payoffs))
    nearby = DenseGame(game.payoffs + 0.05 * jax.random.normal(jax.random.key(9), game.payoffs.shape))
    shifted_learner = LogitQ(alpha=0.5, beta=5.0, epsilon=0.02)
    key = jax.random.key(8)
    assert metrics.visitation_kl(game, game, shifted_learner, key, episodes=128, steps=20) == 0.0
    noise = metrics.visitation_noise_floor(game, shifted_learner, key, episodes=128, steps=20)
    close = metrics.visitation_kl(game, nearby, shifted_learner, key, episodes=128, steps=20)
    wrong = metrics.visitation_kl(game, trivial, shifted_learner, key, episodes=128, steps=20)
    assert wrong > 10 * max(noise, close)
    shares = metrics.visitation_kl(game, trivial, shifted_learner, key, 128, 20, kind="shares")
    assert shares > 0
    with pytest.raises(ConfigError, match="kind"):
        metrics.visitation_kl(game, game, shifted_learner, key, 4, 4, kind="marginal")


def test_behaviour_cloning_probabilities_normalise_and_beat_uniform_in_sample():
    game = CongestionTolls.random(jax.random.key(9))
    actions = simulate(game, LEARNER, jax.random.key(10), 64, 30)
    clone = baselines.behaviour_cloning(actions, 5)
    # Probabilities of all of agent 2's actions at step t (the previous step left untouched).
    for t in (0, 1, 17, 30):
        totals = sum(np.exp(np.asarray(clone.log_probs(actions.at[:, t, 2].set(b)))[:, t, 2]) for b in range(5))
        np.testing.assert_allclose(totals, 1.0, atol=1e-5)
    assert clone.nll(actions) < np.log(5)


def test_behaviour_cloning_inverts_a_memoryless_logit_response():
    # With alpha = 1 the learner's Q is last step's counterfactual payoff, so the action given the
    # others' previous actions is exactly a static logit: inversion is consistent.
    learner = LogitQ(alpha=1.0, beta=2.0, epsilon=0.1)
    game = DenseGame(jax.random.normal(jax.random.key(11), (2, 3, 3)))
    actions = simulate(game, learner, jax.random.key(12), 400, 50)
    estimate = baselines.behaviour_cloning(actions, 3).game(learner)
    mse = metrics.payoff_difference_mse(game, estimate)
    assert mse < 0.02 * metrics.payoff_difference_mse(game, TrivialGame(2, 3))


def test_baselines_reject_bad_configs():
    actions = np.zeros((2, 5, 3), np.int32)
    with pytest.raises(ConfigError, match="family"):
        baselines.parametric_mle(actions, 4, LEARNER, family="auction")
    with pytest.raises(ConfigError, match="smoothing"):
        baselines.behaviour_cloning(actions, 4, smoothing=0.0)
    with pytest.raises(ConfigError, match="too many"):
        baselines.behaviour_cloning(np.zeros((2, 5, 40), np.int32), 5)


def test_expected_joint_visitation_has_each_agents_policy_as_its_marginal():
    rng = np.random.default_rng(0)
    policies = rng.dirichlet(np.ones(3), size=(5, 7, 4))  # [episodes, time, agents, actions]
    joint = metrics.visitation(policies).reshape((3,) * 4)
    np.testing.assert_allclose(joint.sum(), 5 * 7)
    for i in range(4):
        others = tuple(j for j in range(4) if j != i)
        np.testing.assert_allclose(joint.sum(axis=others), policies[:, :, i].sum(axis=(0, 1)), rtol=1e-10)
    # One deterministic state: all the mass sits on that joint action, in row-major order.
    point = np.zeros((1, 1, 4, 3))
    point[0, 0, [0, 1, 2, 3], [2, 0, 1, 2]] = 1.0
    assert np.argmax(metrics.visitation(point)) == 2 * 27 + 0 * 9 + 1 * 3 + 2


def test_payoff_difference_correlation_is_scale_free_and_gauge_invariant():
    game = DenseGame(CongestionTolls.random(jax.random.key(8)).payoffs)
    shifted = gauge_shift(game, jax.random.key(9))
    assert metrics.payoff_difference_correlation(game, shifted) == pytest.approx(1.0, abs=1e-5)
    doubled = DenseGame(2.0 * game.payoffs)  # what a fit assuming half the true beta learns
    assert metrics.payoff_difference_correlation(game, doubled) == pytest.approx(1.0, abs=1e-5)
    assert metrics.payoff_difference_mse(game, doubled) > 1e-3
    assert metrics.payoff_difference_correlation(game, DenseGame(-game.payoffs)) == pytest.approx(-1.0, abs=1e-5)
    assert metrics.payoff_difference_correlation(game, TrivialGame(4, 5)) == 0.0
    noise = DenseGame(jax.random.normal(jax.random.key(10), game.payoffs.shape))
    assert abs(metrics.payoff_difference_correlation(game, noise)) < 0.2
