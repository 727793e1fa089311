"""Trained payoff maps as games: what ``mechjax.load(run_dir)`` hands back for an inverse run."""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from mechjax.errors import ConfigError, DataError
from mechjax.inverse.dynamics import validate_actions
from mechjax.inverse.games import Game, game_pytree


@game_pytree((), ("payoff_map", "num_agents", "num_actions"))
@dataclasses.dataclass(frozen=True, eq=False)
class PayoffMapGame(Game):
    """A game whose counterfactual payoffs come from a function (e.g. a trained mechanism).

    A ``Game`` like any other (``simulate``, ``log_likelihood``, ``metrics`` take it; small games
    have ``.payoffs``) and callable: ``game(actions [..., agents]) -> [..., agents, actions]``,
    with the actions checked first (outside jit).

    Attributes:
        payoff_map: joint actions ``[..., agents]`` -> counterfactual payoffs ``[..., agents, A]``.
        num_agents: n.
        num_actions: A.
    """

    payoff_map: Callable
    num_agents: int
    num_actions: int

    def counterfactual_payoffs(self, actions):
        return self.payoff_map(actions)

    def __call__(self, actions):
        return self.payoff_map(check_joint_actions(actions, self.num_agents, self.num_actions))


def check_joint_actions(actions, num_agents: int, num_actions: int):
    """Joint actions ``[..., agents]`` as int32, or a DataError naming what is wrong."""
    arr = np.asarray(actions)
    if arr.ndim < 1 or arr.shape[-1] != num_agents:
        raise DataError(f"actions must be [..., agents={num_agents}], got shape {arr.shape}")
    flat = arr.reshape((1, -1, num_agents)) if arr.size else arr.reshape((1, 0, num_agents))
    return validate_actions(flat, num_actions, num_agents).reshape(arr.shape)


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> PayoffMapGame:
    """The payoff map trained in ``run_dir`` (``experiments/train.py +experiment=diml_...``).

    Args:
        run_dir: the run directory.
        replica: which seed replica (0 = the run's ``seed``).
        step: which checkpoint (default: the latest).

    Returns:
        A ``PayoffMapGame``: ``game(actions [..., agents]) -> counterfactual payoffs [..., agents, A]``,
        usable wherever a game is (``simulate``, ``metrics``, ``.payoffs`` for small games).
        Only payoff differences per (agent, others' actions) are meaningful.
    """
    from mechjax import experiment  # late: the front door imports every domain
    from mechjax.inverse.problem import DIMLProblem

    mechanism, problem = experiment.load(run_dir, replica, step)
    if not isinstance(problem, DIMLProblem):
        raise ConfigError(f"{run_dir} holds a {type(problem).__name__} run, not an inverse (DIML) run; "
                          "use mechjax.load(run_dir)")
    return as_payoff_game(mechanism, problem)


def as_payoff_game(mechanism, problem) -> PayoffMapGame:
    """The ``PayoffMapGame`` of ``mechanism`` (a payoff map, or a game already) on ``problem``'s sizes."""
    if isinstance(mechanism, Game):
        return mechanism
    return PayoffMapGame(mechanism, problem.num_agents, problem.num_actions)
