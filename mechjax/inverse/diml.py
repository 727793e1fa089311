"""DIML: differentiable inverse mechanism learning by maximum likelihood of observed learning.

Observed data are joint actions ``[episodes, steps + 1, agents]`` of full-information learners
(``dynamics.LogitQ`` or ``dynamics.MultiplicativeWeights``) with known hyper-parameters. A
candidate payoff map (an NNX module from ``models``) is scored by the log-likelihood of the
observed actions when the learners' recursion is replayed through it; the shared trainer
(``mechjax.core.trainer.make_train``) minimises the negative log-likelihood.

Truncated windows. Each training sample is a window of ``window`` consecutive joint actions of
one episode. The learners' state at the window's start is *warm-started by replaying the
observed history* before it through the current candidate map (all of it by default, or the last
``burn_in`` steps), and is then held fixed: gradients flow through the ``window`` steps only
(truncated backpropagation through time). Because the recursion is driven by observed actions,
the replayed state is exact (with ``burn_in=None``) and only the gradient is truncated. For
logit-Q the neglected gradient decays like ``(1 - alpha) ** window``; multiplicative weights
never forget, so fit them with ``window=None`` (whole trajectories, exact gradient).

The warm start is the DIML inner solver (``HistoryReplay``); with any other inner solver
(``NoInner``) ``loss_terms`` replays the history itself.

Identifiability: adding ``c_i(a_-i)`` to every payoff of agent ``i`` against ``a_-i`` moves all
of her Q-values (or log-weights) equally and changes no policy, so only payoff *differences*
``u_i(a, a_-i) - u_i(a', a_-i)`` are identified (when the inverse temperature is known).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jaxtyping import Array, Float, Int

from mechjax.core import loop
from mechjax.core.constraints import Unconstrained
from mechjax.core.trainer import TrainerConfig, make_train
from mechjax.core.types import Terms
from mechjax.errors import ConfigError
from mechjax.inverse import models
from mechjax.inverse.dynamics import check_learner, unroll, validate_actions
from mechjax.inverse.games import Game, game_pytree


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
        actions: ``[episodes, steps + 1, agents]`` observed joint actions (int).
        num_actions: size of every agent's action set.
        learner: the (known) learner that produced ``actions``.
        window: joint actions scored per sample; ``None`` scores whole trajectories.
        burn_in: history steps replayed to warm-start a window; ``None`` replays all of it.
    """

    actions: Int[Array, "episodes time agents"]
    num_actions: int
    learner: Any
    window: int | None = 16
    burn_in: int | None = None

    def __post_init__(self):
        check_learner(self.learner)
        object.__setattr__(self, "actions", validate_actions(self.actions, self.num_actions))
        if self.actions.shape[1] < 2:
            raise ConfigError("actions needs >= 2 time steps (steps >= 1) to say anything about payoffs")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"fit.window must be >= 1 or None, got {self.window}")
        if self.burn_in is not None and self.burn_in < 0:
            raise ConfigError(f"fit.burn_in must be >= 0 or None, got {self.burn_in}")

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

    def windows_at(self, episode: Int[Array, "batch"], start: Int[Array, "batch"]) -> Windows:
        """The windows of ``episode`` that begin at time ``start`` (with their replayed history)."""
        prefix = self.prefix_length
        history_time = start[:, None] - prefix + jnp.arange(prefix)  # [B, P]
        window_time = start[:, None] + jnp.arange(self.window_length)  # [B, W]
        return Windows(
            history=self.actions[episode[:, None], jnp.maximum(history_time, 0)],
            history_mask=(history_time >= 0).astype(jnp.float32),
            actions=self.actions[episode[:, None], window_time],
        )

    def warm_start(self, outcome_fn, batch: Windows) -> Float[Array, "batch agents actions"]:
        """The learners' state at each window start, replayed through ``outcome_fn`` (no gradient)."""
        n, num_actions = self.num_agents, self.num_actions
        state = jnp.broadcast_to(self.learner.init(n, num_actions), (batch.actions.shape[0], n, num_actions))
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


@dataclass(frozen=True, eq=False)
class HistoryReplay:
    """DIML's inner solver: the learners' state at each window start, replayed from history."""

    problem: DIMLProblem

    def init(self, key, data):
        return ()

    def solve(self, outcome_fn, batch, carry, key, index):
        return self.problem.warm_start(outcome_fn, batch), carry


@game_pytree(("params", "rest"), ("graphdef", "num_agents", "num_actions"))
@dataclasses.dataclass(frozen=True, eq=False)
class LearnedGame(Game):
    """A game whose counterfactual payoffs come from a trained payoff model (``nnx`` split)."""

    graphdef: Any
    params: Any
    rest: Any
    num_agents: int
    num_actions: int

    @classmethod
    def from_module(cls, module: nnx.Module, num_agents: int, num_actions: int) -> "LearnedGame":
        graphdef, params, rest = nnx.split(module, nnx.Param, ...)
        return cls(graphdef, params, rest, num_agents, num_actions)

    def module(self) -> nnx.Module:
        return nnx.merge(self.graphdef, self.params, self.rest)

    def counterfactual_payoffs(self, actions):
        return self.module()(actions, training=False)


@dataclass(frozen=True)
class FitConfig:
    """How ``fit`` trains.

    Attributes:
        steps: outer (Adam) steps.
        batch_size: windows per step.
        window: joint actions per window (``None``: whole trajectories).
        burn_in: history replayed before a window (``None``: all of it).
        learning_rate: Adam step size.
        weight_decay: decoupled weight decay (AdamW) when > 0, on network kernels and payoff
            tables only (``models.decay_mask``). The defaults (3e-3, 1.0) were chosen
            for the neural payoff map by held-out NLL on development seeds; without weight decay it
            overfits badly. Parametric families want little or none (e.g. ``weight_decay=0``).
        steps_per_chunk: steps per jitted chunk of the shared trainer.
        seed: seeds model initialisation and window sampling.
    """

    steps: int = 2000
    batch_size: int = 64
    window: int | None = 16
    burn_in: int | None = None
    learning_rate: float = 3e-3
    weight_decay: float = 1.0
    steps_per_chunk: int = 250
    seed: int = 0

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ConfigError(f"fit.learning_rate must be > 0, got {self.learning_rate}")
        if self.weight_decay < 0:
            raise ConfigError(f"fit.weight_decay must be >= 0, got {self.weight_decay}")
        if self.steps_per_chunk < 1 or self.steps % self.steps_per_chunk:
            raise ConfigError(
                f"fit.steps={self.steps} must be a positive multiple of fit.steps_per_chunk={self.steps_per_chunk}")


class FitResult(NamedTuple):
    """``game``: the estimate; ``history``: per-chunk metric rows; ``wall_s``: training seconds."""

    game: LearnedGame
    history: list[dict]
    wall_s: float


def train(actions, num_actions: int, learner, model="neural", config: FitConfig | None = None,
          run_dir: str | None = None, progress: bool = False, **overrides) -> FitResult:
    """``fit`` that also returns the training history and wall time (see ``fit``)."""
    known = {f.name for f in dataclasses.fields(FitConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"fit got unknown option(s) {unknown}; FitConfig fields are {sorted(known)}")
    config = dataclasses.replace(config or FitConfig(), **overrides)
    problem = DIMLProblem(actions, int(num_actions), learner, config.window, config.burn_in)
    key = jax.random.fold_in(jax.random.key(config.seed), 17)
    module = models.make_model(model, problem.num_agents, problem.num_actions, key)
    tx = optax.adam(config.learning_rate)
    if config.weight_decay:
        # Decay kernels and tables only: biases and parametric families carry payoff
        # differences averaged over contexts, and shrinking them biases every counterfactual alike.
        tx = optax.adamw(config.learning_rate, weight_decay=config.weight_decay, mask=models.decay_mask)
    trainer_cfg = TrainerConfig(steps=config.steps, batch_size=config.batch_size,
                                steps_per_chunk=config.steps_per_chunk, checkpoint_every=config.steps)
    trainer = make_train(problem, module, HistoryReplay(problem), Unconstrained(), tx, trainer_cfg)
    with tempfile.TemporaryDirectory(prefix="diml_") as scratch:
        result = loop.run(trainer, run_dir or scratch, config.seed, progress=progress)
    learned = LearnedGame.from_module(module, problem.num_agents, problem.num_actions)
    learned = dataclasses.replace(learned, params=loop.replica_params(result.state, 0))
    return FitResult(learned, result.history, result.wall_s)


def fit(actions: Int[Array, "episodes time agents"], num_actions: int, learner, model="neural",
        config: FitConfig | None = None, **overrides) -> LearnedGame:
    """Estimates the payoff map behind observed learning trajectories by maximum likelihood.

    Args:
        actions: ``[episodes, steps + 1, agents]`` observed joint actions (ints in ``[0, A)``).
        num_actions: ``A``, the size of every agent's action set.
        learner: the learner that generated ``actions`` (hyper-parameters assumed known), e.g.
            ``LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)``.
        model: a name in ``models.MODELS`` (``"neural"``, ``"tabular"``, ``"congestion"``,
            ``"public_goods"``, ``"anonymous"``, ``"anonymous_neural"``), an ``nnx.Module``
            mapping joint actions to counterfactual payoffs, or a factory ``(n, A, rngs=...)``.
        config: ``FitConfig``; keyword ``overrides`` replace its fields (e.g. ``steps=500``).

    Returns:
        A ``LearnedGame``; for small games ``.payoffs`` is the dense ``[n] + [A] * n`` tensor.
        Only payoff differences per (agent, others' actions) are meaningful.
    """
    return train(actions, num_actions, learner, model, config, **overrides).game
