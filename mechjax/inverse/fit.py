"""``fit``: DIML from arrays in one call, built from the same pieces as ``experiments/train.py``.

``fit(actions, num_actions, learner, model=...)`` assembles the problem (``problem.DIMLProblem``),
the mechanism (a payoff model from ``models``, as ``mechanism=payoff_<model>`` builds it), the
inner solver (``inner.HistoryReplay``), no constraint, the shared optimiser
(``mechjax.config.OptimConfig``) and the shared trainer (``make_train`` + ``loop.run``). A config
``problem=inverse/...`` trained by ``experiments/train.py`` goes through exactly these pieces, so
the two give the same estimate for the same data and settings.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

from flax import nnx
from jaxtyping import Array, Int

from mechjax.core import loop
from mechjax.core.constraints import Unconstrained
from mechjax.core.trainer import TrainerConfig, make_train, template
from mechjax.errors import ConfigError
from mechjax.inverse import models
from mechjax.inverse.games import Game, game_pytree
from mechjax.inverse.inner import HistoryReplay
from mechjax.inverse.problem import DIMLProblem


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
    """How ``fit`` trains (each field maps onto a section of the front door's config).

    Attributes:
        steps: outer steps (``trainer.steps``).
        batch_size: windows per step (``trainer.batch_size``).
        window: joint actions per window, ``None``: whole trajectories (``problem.window``).
        burn_in: history replayed before a window, ``None``: all of it (``problem.burn_in``).
        learning_rate: Adam step size (``optim.lr``; constant schedule).
        weight_decay: decoupled weight decay (AdamW, ``optim.weight_decay``) when > 0, on
            parameters with >= 2 dimensions only (``optim.decay_mask=matrices``: kernels and payoff
            tables). The defaults (3e-3, 1.0) were chosen for the neural payoff map by held-out NLL
            on development seeds; without weight decay it overfits badly. Parametric families want
            little or none (e.g. ``weight_decay=0``).
        steps_per_chunk: steps per jitted chunk of the shared trainer (``trainer.steps_per_chunk``).
        seed: seeds model initialisation and window sampling (``seed``).
    """

    steps: int = 2000
    batch_size: int = 64
    window: Optional[int] = 16
    burn_in: Optional[int] = None
    learning_rate: float = 3e-3
    weight_decay: float = 1.0
    steps_per_chunk: int = 250
    seed: int = 0

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ConfigError(f"fit.learning_rate must be > 0, got {self.learning_rate}")
        if self.weight_decay < 0:
            raise ConfigError(f"fit.weight_decay must be >= 0, got {self.weight_decay}")
        if self.steps < 1:
            raise ConfigError(f"fit.steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ConfigError(f"fit.batch_size must be >= 1, got {self.batch_size}")
        if self.steps_per_chunk < 1:
            raise ConfigError(f"fit.steps_per_chunk must be >= 1, got {self.steps_per_chunk}")
        if self.window is not None and self.window < 1:
            raise ConfigError(f"fit.window must be >= 1 or None, got {self.window}")
        if self.burn_in is not None and self.burn_in < 0:
            raise ConfigError(f"fit.burn_in must be >= 0 or None, got {self.burn_in}")

    def optim(self):
        """The shared optimiser settings (``mechjax.config.OptimConfig``) this fit trains with."""
        from mechjax.config import OptimConfig  # late: the config layer imports every domain

        return OptimConfig(name="adamw" if self.weight_decay else "adam", lr=self.learning_rate,
                           schedule="constant", weight_decay=self.weight_decay, decay_mask="matrices")

    def trainer(self) -> TrainerConfig:
        """The shared trainer settings this fit trains with (a fresh window batch every step)."""
        return TrainerConfig(steps=self.steps, batch_size=self.batch_size, steps_per_chunk=self.steps_per_chunk,
                             checkpoint_every=self.steps, train_size=0)


class FitResult(NamedTuple):
    """``game``: the estimate; ``history``: per-chunk metric rows; ``wall_s``: training seconds."""

    game: LearnedGame
    history: list[dict]
    wall_s: float


def learned_game(mechanism, params, num_agents: int, num_actions: int) -> LearnedGame:
    """The ``LearnedGame`` of trained ``params`` of ``mechanism`` (a module or factory ``rngs -> module``)."""
    if isinstance(mechanism, nnx.Module):
        graphdef, _, rest = nnx.split(mechanism, nnx.Param, ...)
    else:
        graphdef, rest = template(mechanism)
    return LearnedGame(graphdef, params, rest, num_agents, num_actions)


def train(actions, num_actions: int, learner, model="neural", config: FitConfig | None = None,
          run_dir: str | None = None, progress: bool = False, **overrides) -> FitResult:
    """``fit`` that also returns the training history and wall time (see ``fit``).

    Args:
        run_dir: keep checkpoints and ``metrics.jsonl`` there (resumable); default a scratch folder.
        progress: show a progress bar.
    """
    known = {f.name for f in dataclasses.fields(FitConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"fit got unknown option(s) {unknown}; FitConfig fields are {sorted(known)}")
    config = dataclasses.replace(config or FitConfig(), **overrides)
    problem = DIMLProblem(actions, int(num_actions), learner, config.window, config.burn_in)
    mechanism = models.factory(model, problem.num_agents, problem.num_actions)
    trainer = make_train(problem, mechanism, HistoryReplay(problem), Unconstrained(),
                         config.optim().build(config.steps), config.trainer())
    with tempfile.TemporaryDirectory(prefix="diml_") as scratch:
        result = loop.run(trainer, run_dir or scratch, config.seed, progress=progress)
    game = learned_game(mechanism, loop.replica_params(result.state, 0), problem.num_agents, problem.num_actions)
    return FitResult(game, result.history, result.wall_s)


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

