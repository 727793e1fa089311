"""Games of mechjax.inverse: the vectorised contract, closed-form references, dense tensors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.errors import ConfigError, DataError
from mechjax.inverse import (
    AnonymousGame,
    CongestionTolls,
    DenseGame,
    LogitQ,
    PublicGoods,
    TrivialGame,
    as_game,
    log_likelihood,
    neural_mechanism,
    simulate,
)
from mechjax.testing.inverse import check_dense_agreement, check_game_contract, random_joint_actions

SEEDS = range(2)


def _games(seed):
    key = jax.random.key(seed)
    return [
        CongestionTolls.random(key, num_agents=4, num_resources=5),
        PublicGoods.random(key, num_agents=3, num_actions=7),
        AnonymousGame.random(key, num_agents=4, num_actions=3),
        neural_mechanism(key, num_agents=3, num_actions=4),
        DenseGame(jax.random.normal(key, (2, 3, 3))),
        TrivialGame(3, 4),
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_small_game_meets_the_contract_and_matches_its_dense_tensor(seed):
    for index, game in enumerate(_games(seed)):
        key = jax.random.fold_in(jax.random.key(100 + seed), index)
        check_game_contract(game, key)
        check_dense_agreement(game, key)


def _congestion_reference(game, joint):
    n = len(joint)
    linear, quadratic, tolls = (np.asarray(x, np.float64) for x in (game.linear, game.quadratic, game.tolls))
    rebate = sum(tolls[r] for r in joint) / n
    out = []
    for r in joint:
        load = sum(1 for s in joint if s == r)
        out.append(-(linear[r] * load + quadratic[r] * load**2) - tolls[r] + rebate)
    return out


def _public_goods_reference(game, joint):
    levels = np.linspace(0.0, 1.0, game.num_actions)
    total = sum(levels[a] for a in joint)
    v, s, k = np.asarray(game.valuations, np.float64), float(game.subsidy), float(game.curvature)
    return [v[i] * np.log(1 + 2 * total) - (1 - s) * levels[a] - k * levels[a] ** 2 for i, a in enumerate(joint)]


def _anonymous_reference(game, joint):
    n, num_actions = len(joint), game.num_actions
    base, w, crowd = (np.asarray(x, np.float64) for x in (game.base, game.interaction, game.crowding))
    out = []
    for i, a in enumerate(joint):
        x = np.zeros(num_actions)
        for j, b in enumerate(joint):
            if j != i:
                x[b] += 1.0 / (n - 1)
        out.append(base[a] + w[a] @ x - crowd[a] * x[a] ** 2)
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("make, reference, n, num_actions", [
    (lambda k, n, a: CongestionTolls.random(k, n, a), _congestion_reference, 4, 5),
    (lambda k, n, a: PublicGoods.random(k, n, a), _public_goods_reference, 3, 7),
    (lambda k, n, a: AnonymousGame.random(k, n, a), _anonymous_reference, 9, 4),
])
def test_built_in_payoffs_match_their_written_formulas(seed, make, reference, n, num_actions):
    game = make(jax.random.key(seed), n, num_actions)
    joints = np.asarray(random_joint_actions(jax.random.key(50 + seed), n, num_actions, 20))
    got = np.asarray(game.payoff(jnp.asarray(joints)))
    want = np.array([reference(game, list(j)) for j in joints])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_congestion_rebate_balances_the_budget():
    # Tolls are redistributed, so summed over agents they cancel: welfare is minus latency.
    game = CongestionTolls.random(jax.random.key(3))
    untolled = CongestionTolls(game.linear, game.quadratic, jnp.zeros_like(game.tolls), game.num_agents)
    joints = random_joint_actions(jax.random.key(4), 4, 5, 100)
    np.testing.assert_allclose(np.asarray(game.payoff(joints).sum(-1)), np.asarray(untolled.payoff(joints).sum(-1)),
                               rtol=1e-5, atol=1e-5)


def test_large_anonymous_game_works_from_counts_and_refuses_a_dense_tensor():
    game = AnonymousGame.random(jax.random.key(0), num_agents=300, num_actions=5)
    check_game_contract(game, jax.random.key(1), batch=4)
    with pytest.raises(ConfigError, match="too many"):
        _ = game.payoffs
    actions = simulate(game, LogitQ(), jax.random.key(2), episodes=2, steps=3)
    assert actions.shape == (2, 4, 300)


def test_a_dense_array_works_wherever_a_game_does():
    game = CongestionTolls.random(jax.random.key(7))
    table = np.asarray(game.payoffs)
    learner = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)
    from_game = simulate(game, learner, jax.random.key(8), 16, 20)
    from_array = simulate(table, learner, jax.random.key(8), 16, 20)
    assert (np.asarray(from_game) == np.asarray(from_array)).mean() > 0.99
    np.testing.assert_allclose(np.asarray(log_likelihood(table, learner, from_game)),
                               np.asarray(log_likelihood(game, learner, from_game)), atol=1e-4)
    assert isinstance(as_game(table), DenseGame)


@pytest.mark.parametrize("bad, error", [
    (np.zeros((3, 4, 4)), DataError),  # 3 agents need 3 action axes
    (np.zeros((2, 3, 4)), DataError),  # unequal action sets
    (np.zeros((2, 1, 1)), DataError),  # a single action
    (np.full((2, 3, 3), np.nan), DataError),
])
def test_malformed_payoff_tensors_are_rejected(bad, error):
    with pytest.raises(error, match="payoffs"):
        as_game(bad)


def test_bad_game_configs_name_the_field():
    with pytest.raises(ConfigError, match="game"):
        as_game("congestion")
    with pytest.raises(ConfigError, match="num_agents"):
        CongestionTolls(jnp.ones(3), jnp.ones(3), jnp.ones(3), num_agents=1)
    with pytest.raises(ConfigError, match="interaction"):
        AnonymousGame(jnp.ones(3), jnp.ones((2, 2)), jnp.ones(3), 10)


def test_games_are_pytrees_that_jit_without_retracing_on_new_parameters():
    traces = []

    @jax.jit
    def total(game, actions):
        traces.append(1)
        return game.payoff(actions).sum()

    actions = random_joint_actions(jax.random.key(0), 4, 5, 8)
    first = total(CongestionTolls.random(jax.random.key(1)), actions)
    second = total(CongestionTolls.random(jax.random.key(2)), actions)
    assert len(traces) == 1 and first != second
