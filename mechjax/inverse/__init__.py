"""Inverse mechanism learning: recover a payoff map from observed multi-agent learning.

``simulate(game, learner, key, episodes, steps)`` plays learners in a game;
``fit(actions, num_actions, learner, model=...)`` estimates the game by DIML (maximum
likelihood through the unrolled learners, trained by the shared trainer). The same estimate is
one config away: ``python experiments/train.py +experiment=diml_congestion`` (or
``problem.actions_path=<your .npz>``), and ``load(run_dir)`` returns the trained payoff map as a
game. ``metrics`` compares estimates in gauge-invariant terms; ``baselines`` holds the estimators
DIML is compared with; ``tables`` the DIML results tables.

DIML's pieces: ``problem.DIMLProblem`` (the likelihood, in windows), ``inner.HistoryReplay``
(the learners' replayed state), ``models`` (the payoff maps: the mechanisms), no constraint.
"""

from mechjax.inverse.data import load_actions, save_actions
from mechjax.inverse.dynamics import LogitQ, MultiplicativeWeights, log_likelihood, simulate
from mechjax.inverse.evaluate import InverseEvalConfig, evaluate_inverse
from mechjax.inverse.fit import FitConfig, FitResult, LearnedGame, fit, train
from mechjax.inverse.games import (
    AnonymousGame,
    CongestionTolls,
    DenseGame,
    Game,
    PublicGoods,
    TrivialGame,
    as_game,
    neural_mechanism,
)
from mechjax.inverse.inner import HistoryReplay
from mechjax.inverse.problem import DIMLProblem, Windows
from mechjax.inverse.trained import PayoffMapGame, load

__all__ = [
    "AnonymousGame",
    "CongestionTolls",
    "DIMLProblem",
    "DenseGame",
    "FitConfig",
    "FitResult",
    "Game",
    "HistoryReplay",
    "InverseEvalConfig",
    "LearnedGame",
    "LogitQ",
    "MultiplicativeWeights",
    "PayoffMapGame",
    "PublicGoods",
    "TrivialGame",
    "Windows",
    "as_game",
    "evaluate_inverse",
    "fit",
    "load",
    "load_actions",
    "log_likelihood",
    "neural_mechanism",
    "save_actions",
    "simulate",
    "train",
]
