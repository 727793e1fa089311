"""DIML: the windowed likelihood, its gradient, and fit() through the shared trainer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mechjax.errors import ConfigError, DataError
from mechjax.inverse import (
    CongestionTolls,
    DIMLProblem,
    LogitQ,
    MultiplicativeWeights,
    fit,
    log_likelihood,
    metrics,
    models,
    simulate,
)
from mechjax.inverse.fit import train as fit_train
from mechjax.testing.inverse import gauge_shift

LEARNER = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)


@pytest.fixture(scope="module")
def congestion_data():
    game = CongestionTolls.random(jax.random.key(0))
    return game, simulate(game, LEARNER, jax.random.key(1), episodes=48, steps=30)


def _window_log_probs(problem, outcome_fn, episode, start):
    batch = problem.windows_at(jnp.asarray(episode), jnp.asarray(start))
    from mechjax.inverse.dynamics import unroll

    return unroll(outcome_fn, problem.learner, problem.warm_start(outcome_fn, batch), batch.actions)[1]


@pytest.mark.parametrize("learner", [LEARNER, MultiplicativeWeights(eta=0.5, epsilon=0.05)], ids=["logitq", "hedge"])
def test_windows_warm_started_by_full_replay_score_exactly_like_the_whole_trajectory(congestion_data, learner):
    game, _ = congestion_data
    actions = simulate(game, learner, jax.random.key(2), episodes=12, steps=30)
    exact = np.asarray(log_likelihood(game, learner, actions))
    problem = DIMLProblem(actions, 5, learner, window=7, burn_in=None)
    rng = np.random.default_rng(0)
    episode, start = rng.integers(0, 12, 40), rng.integers(0, 31 - 7 + 1, 40)
    got = np.asarray(_window_log_probs(problem, game.counterfactual_payoffs, episode, start))
    want = exact[episode[:, None], start[:, None] + np.arange(7)]
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_a_burn_in_approximates_logit_q_within_its_forgetting_factor(congestion_data):
    # Starting the replay B steps early from Q = 0 misplaces Q_s by at most (1 - alpha)^B max|u|,
    # and log-softmax(beta Q) moves by at most 2 beta times that.
    game, actions = congestion_data
    exact = np.asarray(log_likelihood(game, LEARNER, actions))
    largest_payoff = float(jnp.abs(game.payoffs).max())
    episode, start = np.arange(48), np.full(48, 20)
    errors = {}
    for burn_in in (2, 16):
        problem = DIMLProblem(actions, 5, LEARNER, window=5, burn_in=burn_in)
        got = np.asarray(_window_log_probs(problem, game.counterfactual_payoffs, episode, start))
        errors[burn_in] = np.abs(got - exact[:, 20:25]).max()
        assert errors[burn_in] <= 2 * LEARNER.beta * (1 - LEARNER.alpha) ** burn_in * largest_payoff + 1e-5
    assert errors[16] < 0.1 * errors[2]


def test_loss_terms_whole_trajectories_equal_the_exact_nll(congestion_data):
    game, actions = congestion_data
    problem = DIMLProblem(actions, 5, LEARNER, window=None)
    batch = problem.windows_at(jnp.arange(48), jnp.zeros(48, jnp.int32))
    terms = problem.loss_terms(game.counterfactual_payoffs, batch, None)
    np.testing.assert_allclose(float(terms.objective), -float(log_likelihood(game, LEARNER, actions).mean()), rtol=1e-5)
    assert terms.violations.shape == (4,) and float(jnp.abs(terms.violations).max()) == 0.0


def test_loss_is_gauge_invariant_and_the_truth_beats_the_trivial_map(congestion_data):
    game, actions = congestion_data
    problem = DIMLProblem(actions, 5, LEARNER, window=10)
    batch = problem.sample(jax.random.key(3), 256)
    truth = float(problem.loss_terms(game.counterfactual_payoffs, batch, None).objective)
    shifted = gauge_shift(game, jax.random.key(4))
    assert abs(float(problem.loss_terms(shifted.counterfactual_payoffs, batch, None).objective) - truth) < 1e-4
    trivial = float(problem.loss_terms(lambda a: jnp.zeros(a.shape + (5,)), batch, None).objective)
    np.testing.assert_allclose(trivial, np.log(5), rtol=1e-5)  # constant payoffs: uniform play
    assert truth < trivial - 0.02


@pytest.mark.parametrize("name", ["neural", "tabular"])
def test_gradient_through_the_unrolled_learners_is_finite_and_descends(congestion_data, name):
    _, actions = congestion_data
    problem = DIMLProblem(actions, 5, LEARNER, window=8, burn_in=8)
    batch = problem.sample(jax.random.key(5), 16)
    module = models.make_model(name, 4, 5, jax.random.key(6))
    graphdef, params = nnx.split(module, nnx.Param)

    def loss(p):
        model = nnx.merge(graphdef, p)
        return problem.loss_terms(lambda a: model(a, training=True), batch, None).objective

    value, grads = jax.value_and_grad(loss)(params)
    flat = jnp.concatenate([g.reshape(-1) for g in jax.tree.leaves(grads)])
    assert jnp.isfinite(flat).all() and float(jnp.linalg.norm(flat)) > 0
    stepped = jax.tree.map(lambda p, g: p - 1e-2 * g / (jnp.linalg.norm(flat) + 1e-12), params, grads)
    assert float(loss(stepped)) < float(value)


def test_fit_through_the_trainer_recovers_congestion_payoff_differences(congestion_data):
    game, actions = congestion_data
    # 300 steps in chunks of 200: the last chunk is shorter (no multiple required).
    result = fit_train(np.asarray(actions), 5, LEARNER, model="congestion", steps=300, steps_per_chunk=200,
                       burn_in=12, learning_rate=3e-2, weight_decay=0.0)
    assert [row["step"] for row in result.history][-1] == 300
    learned = result.game
    held_out = simulate(game, LEARNER, jax.random.key(7), episodes=32, steps=30)
    mse = metrics.payoff_difference_mse(game, learned, held_out)
    trivial = metrics.payoff_difference_mse(game, np.zeros((4,) + (5,) * 4), held_out)
    assert mse < trivial / 4
    assert metrics.heldout_nll(learned, LEARNER, held_out) < metrics.heldout_nll(game, LEARNER, held_out) + 0.01
    # The estimate is a game like any other: dense tensor with the contract's shape, playable.
    assert learned.payoffs.shape == (4, 5, 5, 5, 5)
    assert simulate(learned.payoffs, LEARNER, jax.random.key(0), episodes=2, steps=3).shape == (2, 4, 4)


def test_fit_rejects_bad_inputs_before_compiling(congestion_data):
    _, actions = congestion_data
    with pytest.raises(ConfigError, match="model"):
        fit(actions, 5, LEARNER, model="transformer")
    with pytest.raises(ConfigError, match="fit.window"):
        fit(actions, 5, LEARNER, window=0)
    with pytest.raises(ConfigError, match="unknown option"):
        fit(actions, 5, LEARNER, epochs=3)
    with pytest.raises(ConfigError, match="fit.steps"):
        fit(actions, 5, LEARNER, steps=0)
    with pytest.raises(ConfigError, match="fit.steps_per_chunk"):
        fit(actions, 5, LEARNER, steps_per_chunk=0)
    with pytest.raises(DataError, match="actions"):
        fit(actions, 3, LEARNER)  # actions up to 4 do not fit 3 actions
    with pytest.raises(ConfigError, match="learner"):
        fit(actions, 5, "logit-q")


@pytest.mark.parametrize("name, decayed", [
    ("neural", {"kernel"}), ("tabular", {"table"}), ("congestion", set()), ("public_goods", set()),
    ("anonymous", {"interaction"}), ("anonymous_neural", {"kernel"}),
])
def test_weight_decay_touches_only_matrices(name, decayed):
    # kernels, payoff tables and the anonymous family's interaction matrix; never biases or per-action vectors
    module = models.make_model(name, 3, 4, jax.random.key(0))
    params = nnx.split(module, nnx.Param)[1]
    for path, flag in jax.tree_util.tree_flatten_with_path(models.decay_mask(params))[0]:
        names = {getattr(entry, "key", None) for entry in path}
        assert flag == bool(names & decayed), jax.tree_util.keystr(path)
