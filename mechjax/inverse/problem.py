"""DIML's problem: the likelihood of observed learning trajectories, in windows.

Observed data are joint actions ``[episodes, steps + 1, agents]`` of full-information learners
(``dynamics.LogitQ`` or ``dynamics.MultiplicativeWeights``) with known hyper-parameters. A
candidate payoff map (an NNX module from ``models``, the *mechanism*) is scored by the
log-likelihood of the observed actions when the learners' recursion is replayed through it; the
shared trainer (``mechjax.core.trainer.make_train``) minimises the negative log-likelihood.

Truncated windows. Each training sample is a window of ``window`` consecutive joint actions of
one episode. The learners' state at the window's start is *warm-started by replaying the
observed history* before it through the current candidate map (all of it by default, or the last
``burn_in`` steps), and is then held fixed: gradients flow through the ``window`` steps only
(truncated backpropagation through time). Because the recursion is driven by observed actions,
the replayed state is exact (with ``burn_in=None``) and only the gradient is truncated. For
logit-Q the neglected gradient decays like ``(1 - alpha) ** window``; multiplicative weights
never forget, so fit them with ``window=None`` (whole trajectories, exact gradient).

The warm start is the DIML inner solver (``inner.HistoryReplay``); with any other inner solver
(``NoInner``) ``loss_terms`` replays the history itself. DIML has no misreports: it does not
implement ``core.types.MisreportProblem``, so ``inner=adversary`` is refused.

Identifiability: adding ``c_i(a_-i)`` to every payoff of agent ``i`` against ``a_-i`` moves all
of her Q-values (or log-weights) equally and changes no policy, so only payoff *differences*
``u_i(a, a_-i) - u_i(a', a_-i)`` are identified (when the inverse temperature is known).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from mechjax.core.types import Terms
from mechjax.errors import ConfigError, DataError
from mechjax.inverse.dynamics import check_learner, unroll, validate_actions


class Windows(NamedTuple):
    """A batch of training windows.

    Attributes:
        history: ``[batch, prefix, agents]`` observed joint actions before each window.
        history_mask: ``[batch, prefix]`` 1 where the history step exists (not before t = 0).
        actions: ``[batch, window, agents]`` the joint actions the likelihood scores.
    """

    history: Int[Array, "batch prefix agents"]
    history_mask: Float[Array, "batch prefix"]
    actions: Int[Array, "batch window agents"]


@dataclass(frozen=True, eq=False)
class DIMLProblem:
    """The likelihood of observed learning trajectories, as a ``core.types.Problem``.

    Attributes:
        actions: ``[episodes, steps + 1, agents]`` observed joint actions (int), the training data.
        num_actions: size of every agent's action set.
        learner: the (known) learner that produced ``actions``.
        window: joint actions scored per sample; ``None`` scores whole trajectories.
        burn_in: history steps replayed to warm-start a window; ``None`` replays all of it.
        heldout: ``[episodes', steps' + 1, agents]`` held-out trajectories for evaluation, or None.
        truth: the game that generated the data when it is known (a ``games.Game``), else None;
            evaluation compares the estimate with it (as an auction problem's known optimum).
    """

    actions: Int[Array, "episodes time agents"]
    num_actions: int
    learner: Any
    window: Optional[int] = 16
    burn_in: Optional[int] = None
    heldout: Optional[Int[Array, "heldout time agents"]] = None
    truth: Any = None

    def __post_init__(self):
        check_learner(self.learner)
        object.__setattr__(self, "actions", validate_actions(self.actions, self.num_actions))
        if self.actions.shape[1] < 2:
            raise ConfigError("actions needs >= 2 time steps (steps >= 1) to say anything about payoffs")
        if self.actions.shape[2] < 2:
            raise DataError(f"actions must hold >= 2 agents, got {self.actions.shape[2]}")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"window must be >= 1 or None, got {self.window}")
        if self.burn_in is not None and self.burn_in < 0:
            raise ConfigError(f"burn_in must be >= 0 or None, got {self.burn_in}")
        if self.heldout is not None:
            object.__setattr__(self, "heldout", validate_actions(self.heldout, self.num_actions, self.num_agents))
        if self.truth is not None and (self.truth.num_agents, self.truth.num_actions) != (
                self.num_agents, self.num_actions):
            raise ConfigError(f"the true game has {self.truth.num_agents} agents x {self.truth.num_actions} actions, "
                              f"the data {self.num_agents} x {self.num_actions}")

    @property
    def num_agents(self) -> int:
        return self.actions.shape[2]

    @property
    def window_length(self) -> int:
        length = self.actions.shape[1]
        return length if self.window is None else min(self.window, length)

    @property
    def prefix_length(self) -> int:
        latest_start = self.actions.shape[1] - self.window_length
        return latest_start if self.burn_in is None else min(self.burn_in, latest_start)

    def sample(self, key: jax.Array, batch_size: int) -> Windows:
        """Draws ``batch_size`` windows: a uniform episode and a uniform feasible start."""
        k_episode, k_start = jax.random.split(key)
        episodes, length = self.actions.shape[:2]
        episode = jax.random.randint(k_episode, (batch_size,), 0, episodes)
        start = jax.random.randint(k_start, (batch_size,), 0, length - self.window_length + 1)
        return self.windows_at(episode, start)

    def windows_at(self, episode: Int[Array, " batch"], start: Int[Array, " batch"]) -> Windows:
        """The windows of ``episode`` that begin at time ``start`` (with their replayed history)."""
        prefix = self.prefix_length
        history_time = start[:, None] - prefix + jnp.arange(prefix)[None, :]  # [B, P]
        window_time = start[:, None] + jnp.arange(self.window_length)[None, :]  # [B, W]
        return Windows(
            history=self.actions[episode[:, None], jnp.maximum(history_time, 0)],
            history_mask=(history_time >= 0).astype(jnp.float32),
            actions=self.actions[episode[:, None], window_time],
        )

    def warm_start(self, outcome_fn, batch: Windows) -> Float[Array, "batch agents actions"]:
        """The learners' state at each window start, replayed through ``outcome_fn`` (no gradient)."""
        n, num_actions = self.num_agents, self.num_actions
        state = jnp.broadcast_to(self.learner.init(n, num_actions)[None], (batch.actions.shape[0], n, num_actions))
        if batch.history.shape[1]:
            state = unroll(outcome_fn, self.learner, state, batch.history, batch.history_mask)[0]
        return jax.lax.stop_gradient(state)

    def loss_terms(self, outcome_fn, batch: Windows, solution) -> Terms:
        """Mean negative log-likelihood per agent-step of the windows; violations are zeros.

        Args:
            outcome_fn: joint actions ``[..., agents]`` -> counterfactual payoffs ``[..., agents, A]``.
            batch: ``Windows``.
            solution: warm-start states ``[batch, agents, actions]`` from ``HistoryReplay``, or
                ``None`` to replay here.
        """
        start = self.warm_start(outcome_fn, batch) if solution is None else jax.lax.stop_gradient(solution)
        _, log_probs = unroll(outcome_fn, self.learner, start, batch.actions)
        nll = -jnp.mean(log_probs)
        return Terms(objective=nll, violations=jnp.zeros((self.num_agents,)), metrics={"nll": nll})
