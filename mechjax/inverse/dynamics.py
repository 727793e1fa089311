"""Agent learning dynamics in repeated normal-form games, and their exact likelihood.

A learner is a configured, hashable object with three pure functions on a per-agent state
``[..., agents, actions]``: ``init``, ``log_policy`` and ``update(state, counterfactual_payoffs)``.
Both learners here are *full-information*: every own action's value moves toward the payoff it
would have earned against the others' realised actions. That makes the state a deterministic
function of the observed joint actions and the payoff map, so the likelihood of a trajectory
needs no latent variables: replay the observed actions through the map (``unroll``).

Time convention: the action at ``t = 0`` is drawn from the initial policy, then ``steps`` updates
follow, so a trajectory holds ``steps + 1`` joint actions.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from mechjax.errors import ConfigError, DataError
from mechjax.inverse.games import as_game

CounterfactualFn = Callable[[jax.Array], jax.Array]  # actions [..., n] -> payoffs [..., n, A]


def _mixed_log_policy(logits, epsilon):
    """``log((1 - eps) * softmax(logits) + eps / A)``, stable in log space."""
    log_soft = jax.nn.log_softmax(logits, axis=-1)
    if epsilon == 0.0:
        return log_soft
    uniform = jnp.log(epsilon / logits.shape[-1])
    return jnp.logaddexp(jnp.log1p(-epsilon) + log_soft, uniform)


def _check_epsilon(epsilon):
    if not 0.0 <= epsilon < 1.0:
        raise ConfigError(f"learner.epsilon must be in [0, 1), got {epsilon}")


@dataclass(frozen=True)
class LogitQ:
    """Logit Q-learning with exploration.

    ``Q_{t+1}(a) = (1 - alpha) Q_t(a) + alpha * u_i(a, a_-i^t)`` for every own action ``a``;
    the policy is ``(1 - epsilon) * softmax(beta * Q) + epsilon / A``.

    Attributes:
        alpha: step size in (0, 1].
        beta: inverse temperature (> 0).
        epsilon: uniform exploration mass in [0, 1).
        initial_q: the value every ``Q_0(a)`` starts at.
    """

    alpha: float = 0.25
    beta: float = 3.0
    epsilon: float = 0.06
    initial_q: float = 0.0

    def __post_init__(self):
        if not 0.0 < self.alpha <= 1.0:
            raise ConfigError(f"learner.alpha must be in (0, 1], got {self.alpha}")
        if not self.beta > 0.0:
            raise ConfigError(f"learner.beta must be > 0, got {self.beta}")
        _check_epsilon(self.epsilon)

    def init(self, num_agents: int, num_actions: int) -> Float[Array, "agents actions"]:
        return jnp.full((num_agents, num_actions), self.initial_q, jnp.float32)

    def log_policy(self, q: Float[Array, "... agents actions"]) -> Float[Array, "... agents actions"]:
        return _mixed_log_policy(self.beta * q, self.epsilon)

    def update(self, q, counterfactual_payoffs):
        return (1.0 - self.alpha) * q + self.alpha * counterfactual_payoffs

    def replace(self, **changes) -> "LogitQ":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class MultiplicativeWeights:
    """Hedge: log-weights accumulate ``eta * u_i(a, a_-i^t)``; the policy mixes in ``epsilon``.

    ``L_{t+1}(a) = L_t(a) + eta * u_i(a, a_-i^t)``, policy ``(1 - epsilon) softmax(L) + epsilon / A``.

    Attributes:
        eta: learning rate (> 0); it plays the role of an inverse temperature.
        epsilon: uniform exploration mass in [0, 1).
    """

    eta: float = 0.3
    epsilon: float = 0.0

    def __post_init__(self):
        if not self.eta > 0.0:
            raise ConfigError(f"learner.eta must be > 0, got {self.eta}")
        _check_epsilon(self.epsilon)

    def init(self, num_agents: int, num_actions: int) -> Float[Array, "agents actions"]:
        return jnp.zeros((num_agents, num_actions), jnp.float32)

    def log_policy(self, log_weights):
        return _mixed_log_policy(log_weights, self.epsilon)

    def update(self, log_weights, counterfactual_payoffs):
        updated = log_weights + self.eta * counterfactual_payoffs
        # Recentring changes no policy and keeps long runs from overflowing.
        return updated - updated.max(axis=-1, keepdims=True)

    def replace(self, **changes) -> "MultiplicativeWeights":
        return dataclasses.replace(self, **changes)


LEARNERS = (LogitQ, MultiplicativeWeights)
LEARNER_NAMES = {"logit_q": LogitQ, "multiplicative_weights": MultiplicativeWeights}


def learner_from_config(section, field: str = "learner"):
    """A learner from a config mapping ``{name: logit_q | multiplicative_weights, <its fields>}``.

    Errors name ``field`` (e.g. ``problem.learner.beta``).
    """
    if not isinstance(section, dict):
        raise ConfigError(f"{field} must be a mapping with a name ({sorted(LEARNER_NAMES)}), got {section!r}")
    section = dict(section)
    name = section.pop("name", None)
    if name not in LEARNER_NAMES:
        raise ConfigError(f"{field}.name must be one of {sorted(LEARNER_NAMES)}, got {name!r}")
    cls = LEARNER_NAMES[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in section.items():
        if key not in fields:
            raise ConfigError(f"{field}.{key} is not a setting of {name}; expected one of {sorted(fields)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ConfigError(f"{field}.{key} must be a finite number, got {value!r}")
    try:
        return cls(**{k: float(v) for k, v in section.items()})
    except ConfigError as err:  # the learner names its fields "learner.<x>"
        message = str(err)
        raise ConfigError(field + message[len("learner"):] if message.startswith("learner") else message) from None


def learner_to_config(learner) -> dict:
    """The config mapping of ``learner`` (inverse of ``learner_from_config``)."""
    check_learner(learner)
    name = next(k for k, v in LEARNER_NAMES.items() if isinstance(learner, v))
    return {"name": name, **dataclasses.asdict(learner)}


def check_learner(learner) -> None:
    """Raises ConfigError unless ``learner`` is one of the library's configured learners."""
    if not isinstance(learner, LEARNERS):
        raise ConfigError(f"learner must be LogitQ or MultiplicativeWeights, got {type(learner).__name__}")


def simulate(
    game, learner, key: PRNGKeyArray, episodes: int, steps: int
) -> Int[Array, "episodes steps_plus_one agents"]:
    """Plays ``episodes`` independent runs of ``learner`` in ``game``.

    Args:
        game: a ``Game`` or a dense payoff tensor ``[n] + [A] * n``.
        learner: e.g. ``LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)``.
        key: PRNG key.
        episodes: number of runs (vectorised).
        steps: learning updates per run.

    Returns:
        ``actions [episodes, steps + 1, agents]`` (int32); ``actions[:, 0]`` comes from the
        initial policy.
    """
    game = as_game(game)
    check_learner(learner)
    if int(episodes) < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    if int(steps) < 0:
        raise ConfigError(f"steps must be >= 0, got {steps}")
    return _simulate(game, learner, key, int(episodes), int(steps))


@functools.partial(jax.jit, static_argnames=("learner", "episodes", "steps"))
def _simulate(game, learner, key, episodes, steps):
    def one_episode(episode_key):
        keys = jax.random.split(episode_key, steps + 1)

        def step(state, k):
            actions = jax.random.categorical(k, learner.log_policy(state)).astype(jnp.int32)
            return learner.update(state, game.counterfactual_payoffs(actions)), actions

        state, actions = jax.lax.scan(step, learner.init(game.num_agents, game.num_actions), keys[:steps])
        last = jax.random.categorical(keys[steps], learner.log_policy(state)).astype(jnp.int32)
        return jnp.concatenate([actions, last[None]], axis=0)

    return jax.vmap(one_episode)(jax.random.split(key, episodes))


def unroll(
    counterfactual_fn: CounterfactualFn,
    learner,
    state: Float[Array, "batch agents actions"],
    actions: Int[Array, "batch time agents"],
    mask: Float[Array, "batch time"] | None = None,
) -> tuple[Float[Array, "batch agents actions"], Float[Array, "batch time agents"]]:
    """Replays observed joint actions through a payoff map, scoring each under the current policy.

    At each time ``t`` the observed ``actions[:, t]`` is scored under ``learner.log_policy(state)``
    and then the state moves with ``counterfactual_fn(actions[:, t])``. Where ``mask`` is 0 the
    step is skipped (state unchanged), which lets windows of different start share one scan.

    Returns:
        ``(final_state, log_probs [batch, time, agents])``.
    """
    time_major = jnp.swapaxes(actions, 0, 1)
    if mask is None:
        mask = jnp.ones(actions.shape[:2], jnp.float32)
    mask_tm = jnp.swapaxes(mask, 0, 1)

    def step(state, inputs):
        joint, keep = inputs
        log_probs = jnp.take_along_axis(learner.log_policy(state), joint[..., None], axis=-1)[..., 0]
        new_state = learner.update(state, counterfactual_fn(joint))
        new_state = jnp.where(keep[:, None, None] > 0, new_state, state)
        return new_state, log_probs

    final, log_probs = jax.lax.scan(step, state, (time_major, mask_tm))
    return final, jnp.swapaxes(log_probs, 0, 1)


def log_likelihood(game, learner, actions: Int[Array, "episodes time agents"]) -> Float[Array, "episodes time agents"]:
    """Exact log-probability of every observed action under ``learner`` playing ``game``.

    Args:
        game: a ``Game`` or dense payoff tensor.
        learner: the learner assumed to have generated ``actions``.
        actions: ``[episodes, steps + 1, agents]`` observed joint actions.

    Returns:
        ``[episodes, steps + 1, agents]`` log-probabilities (``t = 0`` under the initial policy).
    """
    game = as_game(game)
    check_learner(learner)
    actions = validate_actions(actions, game.num_actions, game.num_agents)
    return _log_likelihood(game, learner, actions)


@functools.partial(jax.jit, static_argnames=("learner",))
def _log_likelihood(game, learner, actions):
    state = jnp.broadcast_to(
        learner.init(game.num_agents, game.num_actions), (actions.shape[0], game.num_agents, game.num_actions)
    )
    return unroll(game.counterfactual_payoffs, learner, state, actions)[1]


def policy_trace(
    game, learner, actions: Int[Array, "episodes time agents"]
) -> Float[Array, "episodes time agents actions"]:
    """The learners' full log-policy before every observed joint action (replayed through ``game``)."""
    game = as_game(game)
    check_learner(learner)
    actions = validate_actions(actions, game.num_actions, game.num_agents)
    return _policy_trace(game, learner, actions)


@functools.partial(jax.jit, static_argnames=("learner",))
def _policy_trace(game, learner, actions):
    def step(state, joint):
        return learner.update(state, game.counterfactual_payoffs(joint)), learner.log_policy(state)

    state = jnp.broadcast_to(
        learner.init(game.num_agents, game.num_actions), (actions.shape[0], game.num_agents, game.num_actions)
    )
    return jnp.swapaxes(jax.lax.scan(step, state, jnp.swapaxes(actions, 0, 1))[1], 0, 1)


def validate_actions(actions, num_actions: int, num_agents: int | None = None) -> jax.Array:
    """Checks observed trajectories before anything is compiled; DataError names the field ``actions``."""
    arr = np.asarray(actions)
    if arr.ndim != 3:
        raise DataError(f"actions must be [episodes, steps + 1, agents], got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"actions must be integers, got dtype {arr.dtype}")
    if num_agents is not None and arr.shape[2] != num_agents:
        raise DataError(f"actions has {arr.shape[2]} agents but the game has {num_agents}")
    if arr.size and (arr.min() < 0 or arr.max() >= num_actions):
        raise DataError(f"actions must lie in [0, num_actions={num_actions}), got range [{arr.min()}, {arr.max()}]")
    return jnp.asarray(arr, jnp.int32)
