"""How well an estimated mechanism matches the true one, in gauge-invariant terms.

Only payoff differences ``u_i(a, a_-i) - u_i(a', a_-i)`` are identified from behaviour, so every
comparison here first removes, for each agent and each of the others' joint actions (a
*context*), the mean over the agent's own actions. Two games that differ by ``c_i(a_-i)`` (in
particular by an agent-specific constant) are therefore equal under every metric.

* ``payoff_difference_mse``: mean squared error of gauge-fixed payoffs over contexts, agents and
  own actions; contexts are joint actions (e.g. those visited in held-out trajectories) or, for
  small games, all of them. It is a fixed multiple of the MSE over action pairs, so ratios
  between estimators are the same under either.
* ``payoff_difference_correlation``: the correlation of gauge-fixed payoffs, a scale-free
  companion of the MSE (payoffs learned up to a positive factor score 1).
* ``heldout_nll``: negative log-likelihood per agent-step of held-out trajectories (``t >= 1``:
  the first action comes from the initial policy, which no payoff map changes).
* ``visitation_kl``: KL(true || learned) between joint-action visitation frequencies when a
  (possibly shifted) learner plays the true and the learned mechanism — the counterfactual test.
  Visitation is Rao-Blackwellised (expected from the policies along simulated runs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from mechjax.errors import ConfigError
from mechjax.inverse.dynamics import check_learner, log_likelihood, policy_trace, simulate
from mechjax.inverse.games import all_joint_actions, as_game

MAX_JOINT_BINS = 100_000  # above this, visitation is compared through per-step action shares


def gauge_fixed_payoffs(game, contexts: Int[Array, "contexts agents"]) -> Float[Array, "contexts agents actions"]:
    """``u_i(a, a_-i) - mean_b u_i(b, a_-i)`` for every context, agent and own action ``a``."""
    return _gauge_fixed(as_game(game), jnp.asarray(contexts, jnp.int32))


@jax.jit
def _gauge_fixed(game, contexts):
    payoffs = game.counterfactual_payoffs(contexts)
    return payoffs - payoffs.mean(axis=-1, keepdims=True)


@jax.jit
def _compare(game_a, game_b, contexts):
    # One compiled comparison per pair of game types serves every metric below.
    a, b = _gauge_fixed(game_a, contexts), _gauge_fixed(game_b, contexts)
    error = a - b
    # Gauge-fixed payoffs average zero in every context, so these are centred moments already.
    moments = jnp.sum(a * b), jnp.sum(a * a), jnp.sum(b * b)
    return (jnp.mean(error**2), jnp.max(jnp.abs(error))) + moments


def _contexts(game, contexts):
    game = as_game(game)
    if contexts is None:
        return all_joint_actions(game.num_agents, game.num_actions)
    contexts = jnp.asarray(contexts, jnp.int32)
    return contexts.reshape(-1, contexts.shape[-1])


def payoff_difference_mse(true_game, estimate, contexts: Int[Array, "... agents"] | None = None) -> float:
    """Mean squared error of gauge-fixed payoffs.

    Args:
        true_game: the mechanism that generated the data (``Game`` or dense tensor).
        estimate: the estimated mechanism (``Game`` or dense tensor).
        contexts: joint actions ``[..., agents]`` to evaluate at (e.g. held-out trajectories;
            each agent's own entry is ignored); ``None`` uses every joint action.

    Returns:
        The MSE (a Python float).
    """
    contexts = _contexts(true_game, contexts)
    return float(_compare(as_game(true_game), as_game(estimate), contexts)[0])


def payoff_difference_correlation(true_game, estimate, contexts: Int[Array, "... agents"] | None = None) -> float:
    """Correlation (uncentred: gauge-fixed payoffs average zero per context) of gauge-fixed payoffs.

    Scale-free, unlike ``payoff_difference_mse``: 1 when the estimate's payoff differences are a
    positive multiple of the truth's (e.g. fitted with a misspecified inverse temperature), 0 when
    they carry no signal. An estimate with no payoff differences at all (the trivial one) scores 0.

    Args:
        true_game: the mechanism that generated the data.
        estimate: the estimated mechanism.
        contexts: joint actions ``[..., agents]`` to evaluate at; ``None`` uses every joint action.

    Returns:
        A Python float in ``[-1, 1]``.
    """
    contexts = _contexts(true_game, contexts)
    cross, true_sq, est_sq = (float(x) for x in _compare(as_game(true_game), as_game(estimate), contexts)[2:])
    if true_sq <= 0.0 or est_sq <= 0.0:
        return 0.0
    return float(np.clip(cross / np.sqrt(true_sq * est_sq), -1.0, 1.0))


def equivalent(game_a, game_b, contexts=None, atol: float = 1e-4) -> bool:
    """Whether two mechanisms have the same payoff differences (identical likelihood for all data)."""
    contexts = _contexts(game_a, contexts)
    return bool(_compare(as_game(game_a), as_game(game_b), contexts)[1] <= atol)


def heldout_nll(game, learner, actions: Int[Array, "episodes time agents"]) -> float:
    """Negative log-likelihood per agent-step (``t >= 1``) of ``actions`` under ``learner`` in ``game``."""
    log_probs = log_likelihood(game, learner, actions)
    return float(-jnp.mean(log_probs[:, 1:]))


def _visitation_kind(game, kind):
    if kind is None:
        return "joint" if game.num_actions**game.num_agents <= MAX_JOINT_BINS else "shares"
    if kind not in ("joint", "shares"):
        raise ConfigError(f"kind must be 'joint' or 'shares', got {kind!r}")
    return kind


def visitation(policies: Float[Array, "episodes time agents actions"], kind: str = "joint") -> np.ndarray:
    """Expected visitation counts of simulated runs, from the policies along them.

    Rao-Blackwellised: at each simulated state the joint action is distributed as the product of
    the agents' policies, so averaging that product over states estimates visitation with far
    less noise than counting the sampled actions, and no cell is empty.

    Args:
        policies: ``[episodes, time, agents, A]`` policy probabilities (``exp`` of ``policy_trace``).
        kind: ``"joint"``: ``[A ** n]`` joint-action counts pooled over episodes and time (row-major
            like the dense tensor); ``"shares"``: ``[time, A]`` action counts at each step pooled
            over episodes and agents (for games too large to histogram joint actions).
    """
    policies = np.asarray(policies, np.float64)
    if kind == "shares":
        return policies.sum(axis=(0, 2))
    n, num_actions = policies.shape[-2:]
    rows = policies.reshape(-1, n, num_actions)
    total = np.zeros(num_actions**n)
    for chunk in np.array_split(rows, max(1, rows.shape[0] * num_actions**n // 4_000_000)):
        product = chunk[:, 0]
        for i in range(1, n):
            product = (product[:, :, None] * chunk[:, i][:, None, :]).reshape(len(chunk), -1)
        total += product.sum(axis=0)
    return total


def _kl(p_counts, q_counts, smoothing):
    p = (p_counts + smoothing) / (p_counts + smoothing).sum(-1, keepdims=True)
    q = (q_counts + smoothing) / (q_counts + smoothing).sum(-1, keepdims=True)
    return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=-1)))


def _simulated_visitation(game, learner, key, episodes, steps, kind):
    actions = simulate(game, learner, key, episodes, steps)
    return visitation(np.exp(np.asarray(policy_trace(game, learner, actions))), kind)


def visitation_kl(true_game, estimate, learner, key: PRNGKeyArray, episodes: int = 512, steps: int = 60,
                  kind: str | None = None, smoothing: float = 1e-9) -> float:
    """KL(true || learned) between expected visitations of ``learner`` playing each mechanism.

    Both runs use the same key (common random numbers), so identical mechanisms give 0.

    Args:
        true_game: the true mechanism.
        estimate: the estimated mechanism.
        learner: the learner to simulate (e.g. with shifted alpha, beta, epsilon).
        key: PRNG key shared by both simulations.
        episodes: simulated runs per mechanism.
        steps: updates per run.
        kind: ``"joint"`` or ``"shares"`` (see ``visitation``); ``None`` picks by game size.
        smoothing: pseudo-count added to every cell of both (guards log 0 when epsilon = 0).

    Returns:
        The KL divergence in nats (``shares``: averaged over time steps).
    """
    true_game, estimate = as_game(true_game), as_game(estimate)
    check_learner(learner)
    kind = _visitation_kind(true_game, kind)
    p = _simulated_visitation(true_game, learner, key, episodes, steps, kind)
    q = _simulated_visitation(estimate, learner, key, episodes, steps, kind)
    return _kl(p, q, smoothing)


def visitation_noise_floor(true_game, learner, key: PRNGKeyArray, episodes: int = 512, steps: int = 60,
                           kind: str | None = None, smoothing: float = 1e-9) -> float:
    """``visitation_kl`` of the true mechanism against itself with independent keys: sampling noise."""
    true_game = as_game(true_game)
    check_learner(learner)
    kind = _visitation_kind(true_game, kind)
    k1, k2 = jax.random.split(key)
    p = _simulated_visitation(true_game, learner, k1, episodes, steps, kind)
    q = _simulated_visitation(true_game, learner, k2, episodes, steps, kind)
    return _kl(p, q, smoothing)
