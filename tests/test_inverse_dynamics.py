"""Learners and simulation: shapes, the recursion against a plain numpy reference, calibration."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError, DataError
from mechjax.inverse import CongestionTolls, DenseGame, LogitQ, MultiplicativeWeights, log_likelihood, simulate
from mechjax.inverse.dynamics import policy_trace
from mechjax.testing.inverse import check_gauge_invariance


def _reference_log_likelihood(table, learner, actions):
    """Loop-by-loop numpy replay of the learner's recursion (float64)."""
    table = np.asarray(table, np.float64)
    n, num_actions = table.shape[0], table.shape[1]
    out = np.zeros(actions.shape)
    for e in range(actions.shape[0]):
        state = np.zeros((n, num_actions))
        if isinstance(learner, LogitQ):
            state[:] = learner.initial_q
        for t in range(actions.shape[1]):
            joint = actions[e, t]
            for i in range(n):
                logits = learner.beta * state[i] if isinstance(learner, LogitQ) else state[i]
                soft = np.exp(logits - logits.max())
                soft /= soft.sum()
                policy = (1 - learner.epsilon) * soft + learner.epsilon / num_actions
                out[e, t, i] = np.log(policy[joint[i]])
            payoffs = np.zeros((n, num_actions))
            for i in range(n):
                for b in range(num_actions):
                    deviation = list(joint)
                    deviation[i] = b
                    payoffs[i, b] = table[(i,) + tuple(deviation)]
            if isinstance(learner, LogitQ):
                state = (1 - learner.alpha) * state + learner.alpha * payoffs
            else:
                state = state + learner.eta * payoffs
    return out


LEARNERS = [
    LogitQ(alpha=0.25, beta=3.0, epsilon=0.06),
    LogitQ(alpha=0.7, beta=1.0, epsilon=0.0, initial_q=0.5),
    MultiplicativeWeights(eta=0.4, epsilon=0.05),
]


@pytest.mark.parametrize("learner", LEARNERS, ids=["logitq", "logitq-greedyish", "hedge"])
@pytest.mark.parametrize("seed", range(2))
def test_likelihood_matches_a_numpy_replay_of_the_recursion(learner, seed):
    key = jax.random.key(seed)
    table = jax.random.normal(key, (3, 3, 3, 3))
    actions = simulate(table, learner, jax.random.fold_in(key, 1), episodes=3, steps=12)
    got = np.asarray(log_likelihood(table, learner, actions))
    np.testing.assert_allclose(got, _reference_log_likelihood(table, learner, np.asarray(actions)), atol=2e-4)


@pytest.mark.parametrize("learner", LEARNERS[::2], ids=["logitq", "hedge"])
def test_simulated_actions_are_calibrated_to_the_policy_the_likelihood_replays(learner):
    # If simulate draws each action from the policy that the replay reconstructs, the mean of
    # (one-hot action - policy) is zero up to sampling noise, for every action.
    game = CongestionTolls.random(jax.random.key(11))
    actions = simulate(game, learner, jax.random.key(12), episodes=400, steps=15)
    policies = np.exp(np.asarray(policy_trace(game, learner, actions)))  # [E, T, n, A]
    np.testing.assert_allclose(policies.sum(-1), 1.0, atol=1e-5)
    chosen = np.take_along_axis(np.log(policies), np.asarray(actions)[..., None], -1)[..., 0]
    np.testing.assert_allclose(chosen, np.asarray(log_likelihood(game, learner, actions)), atol=1e-5)
    residual = (np.eye(5)[np.asarray(actions)] - policies).reshape(-1, 5)
    standard_error = residual.std(axis=0) / np.sqrt(residual.shape[0])
    assert np.all(np.abs(residual.mean(axis=0)) < 4.5 * standard_error + 1e-6)


def test_first_actions_come_from_the_initial_policy():
    # Q_0 = 0 gives a uniform first action whatever the game.
    game = CongestionTolls.random(jax.random.key(0))
    actions = np.asarray(simulate(game, LogitQ(), jax.random.key(1), episodes=4000, steps=1))
    counts = np.bincount(actions[:, 0].reshape(-1), minlength=5)
    expected = actions[:, 0].size / 5
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 18.5  # 4 dof, p ~ 0.001


@pytest.mark.parametrize("learner", LEARNERS, ids=["logitq", "logitq-greedyish", "hedge"])
def test_simulate_shapes_ranges_and_exploration_floor(learner):
    # Same shapes as the reference test, so the compiled simulation is reused.
    game = DenseGame(5.0 * jax.random.normal(jax.random.key(2), (3, 3, 3, 3)))
    actions = simulate(game, learner, jax.random.key(3), episodes=3, steps=12)
    assert actions.shape == (3, 13, 3) and actions.dtype == jnp.int32
    assert int(actions.min()) >= 0 and int(actions.max()) < 3
    log_probs = np.asarray(log_likelihood(game, learner, actions))
    assert np.all(log_probs <= 1e-6)
    if learner.epsilon > 0:
        assert np.all(log_probs >= np.log(learner.epsilon / 3) - 1e-5)


def test_zero_steps_gives_only_the_initial_action():
    assert simulate(np.zeros((2, 3, 3)), LogitQ(), jax.random.key(0), episodes=5, steps=0).shape == (5, 1, 2)


@pytest.mark.parametrize("learner", LEARNERS, ids=["logitq", "logitq-greedyish", "hedge"])
def test_likelihood_is_invariant_to_the_payoff_gauge(learner):
    for seed in range(3):
        key = jax.random.key(seed)
        table = jax.random.normal(key, (3, 3, 3, 3))
        actions = simulate(table, learner, jax.random.fold_in(key, 1), episodes=3, steps=12)
        check_gauge_invariance(table, learner, actions, jax.random.fold_in(key, 2))


def test_different_payoff_differences_change_the_likelihood():
    key = jax.random.key(4)
    table = jax.random.normal(key, (3, 3, 3, 3))
    other = table.at[0, 1, 0, 0].add(1.0)  # moves a difference for agent 0
    learner = LEARNERS[0]
    actions = simulate(table, learner, key, episodes=3, steps=12)
    assert not np.allclose(np.asarray(log_likelihood(table, learner, actions)),
                           np.asarray(log_likelihood(other, learner, actions)), atol=1e-3)


@pytest.mark.parametrize("make, field", [
    (lambda: LogitQ(alpha=0.0), "alpha"),
    (lambda: LogitQ(beta=-1.0), "beta"),
    (lambda: LogitQ(epsilon=1.0), "epsilon"),
    (lambda: MultiplicativeWeights(eta=0.0), "eta"),
])
def test_bad_learner_configs_name_the_field(make, field):
    with pytest.raises(ConfigError, match=f"learner.{field}"):
        make()


def test_bad_simulation_and_data_inputs_are_rejected():
    table = np.zeros((2, 3, 3))
    with pytest.raises(ConfigError, match="episodes"):
        simulate(table, LogitQ(), jax.random.key(0), episodes=0, steps=3)
    with pytest.raises(ConfigError, match="learner"):
        simulate(table, "logit", jax.random.key(0), episodes=1, steps=3)
    with pytest.raises(DataError, match="actions"):
        log_likelihood(table, LogitQ(), np.full((1, 4, 2), 3))  # action 3 of 3
    with pytest.raises(DataError, match="actions"):
        log_likelihood(table, LogitQ(), np.zeros((1, 4, 3), np.int32))  # 3 agents, game has 2
