"""Reusable property checks for games, learners and payoff models of ``mechjax.inverse``.

Every new game or payoff model gets these for free:

* ``check_game_contract``: shapes, ``payoff`` consistent with ``counterfactual_payoffs``, and an
  agent's counterfactual payoffs independent of her own action;
* ``check_dense_agreement``: a small game agrees with its own dense tensor at random joint actions;
* ``gauge_shift``: a game that differs by ``c_i(a_-i)`` (or an agent-specific constant), which
  must have the same likelihood for every trajectory (``check_gauge_invariance``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.inverse.dynamics import log_likelihood
from mechjax.inverse.games import DenseGame, as_game

_counterfactual = jax.jit(lambda game, actions: game.counterfactual_payoffs(actions))
_payoff = jax.jit(lambda game, actions: game.payoff(actions))


def random_joint_actions(key, num_agents: int, num_actions: int, batch: int = 64) -> jax.Array:
    """``[batch, agents]`` uniformly random joint actions."""
    return jax.random.randint(key, (batch, num_agents), 0, num_actions, dtype=jnp.int32)


def check_game_contract(game, key, batch: int = 64, atol: float = 1e-5) -> None:
    """Asserts the vectorised game contract at random joint actions (batched and unbatched)."""
    game = as_game(game)
    n, num_actions = game.num_agents, game.num_actions
    k_actions, k_dev = jax.random.split(key)
    actions = random_joint_actions(k_actions, n, num_actions, batch)
    counterfactual = np.asarray(_counterfactual(game, actions))
    assert counterfactual.shape == (batch, n, num_actions)
    assert np.isfinite(counterfactual).all()
    payoff = np.asarray(_payoff(game, actions))
    assert payoff.shape == (batch, n)
    picked = np.take_along_axis(counterfactual, np.asarray(actions)[..., None], -1)[..., 0]
    np.testing.assert_allclose(payoff, picked, atol=atol)
    # Agent i's row must not depend on her own current action.
    deviations = jax.random.randint(k_dev, (batch,), 0, num_actions)
    for i in range(n):
        moved = actions.at[:, i].set(deviations)
        np.testing.assert_allclose(np.asarray(_counterfactual(game, moved))[:, i], counterfactual[:, i],
                                   atol=atol)
    # Leading batch axes are free: a single joint action works and agrees.
    np.testing.assert_allclose(np.asarray(_counterfactual(game, actions[0])), counterfactual[0], atol=atol)


def check_dense_agreement(game, key, batch: int = 64, atol: float = 1e-5) -> None:
    """Asserts that ``game.payoffs`` (dense) reproduces the game's own payoffs."""
    game = as_game(game)
    dense = DenseGame(game.payoffs)
    assert dense.payoffs.shape == (game.num_agents,) + (game.num_actions,) * game.num_agents
    actions = random_joint_actions(key, game.num_agents, game.num_actions, batch)
    np.testing.assert_allclose(np.asarray(_counterfactual(dense, actions)),
                               np.asarray(_counterfactual(game, actions)), atol=atol)
    table = np.asarray(game.payoffs)
    for a in np.asarray(actions[:8]):
        np.testing.assert_allclose(table[(slice(None),) + tuple(a)], np.asarray(_payoff(game, jnp.asarray(a))),
                                   atol=atol)


def gauge_shift(game, key, per_context: bool = True, scale: float = 3.0) -> DenseGame:
    """A dense game with the same payoff differences as ``game``.

    Args:
        game: a small game.
        key: PRNG key for the shift.
        per_context: shift by ``c_i(a_-i)`` (depends on the others' actions); otherwise by an
            agent-specific constant ``c_i``.
        scale: standard deviation of the shift.
    """
    game = as_game(game)
    table = game.payoffs
    n = game.num_agents
    if per_context:
        noise = scale * jax.random.normal(key, table.shape)
        # Averaging over each agent's own axis removes any dependence on her own action.
        shift = jnp.stack([jnp.broadcast_to(noise[i].mean(axis=i, keepdims=True), table.shape[1:])
                           for i in range(n)])
    else:
        shift = (scale * jax.random.normal(key, (n,))).reshape((n,) + (1,) * n)
    return DenseGame(table + shift)


def check_gauge_invariance(game, learner, actions, key, atol: float = 1e-4) -> None:
    """Asserts that gauge-shifted games give the same log-likelihood to ``actions``."""
    base = np.asarray(log_likelihood(game, learner, actions))
    for per_context in (False, True):
        shifted = gauge_shift(game, key, per_context=per_context)
        np.testing.assert_allclose(np.asarray(log_likelihood(shifted, learner, actions)), base, atol=atol)
