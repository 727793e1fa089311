"""Inverse mechanism learning: recover a payoff map from observed multi-agent learning.

``simulate(game, learner, key, episodes, steps)`` plays learners in a game;
``fit(actions, num_actions, learner, model=...)`` estimates the game by DIML (maximum
likelihood through the unrolled learners, trained by the shared trainer). ``metrics`` compares
estimates in gauge-invariant terms; ``baselines`` holds the estimators DIML is compared with.
"""

from mechjax.inverse.diml import DIMLProblem, FitConfig, HistoryReplay, LearnedGame, fit, train
from mechjax.inverse.dynamics import LogitQ, MultiplicativeWeights, log_likelihood, simulate
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

__all__ = [
    "AnonymousGame",
    "CongestionTolls",
    "DIMLProblem",
    "DenseGame",
    "FitConfig",
    "Game",
    "HistoryReplay",
    "LearnedGame",
    "LogitQ",
    "MultiplicativeWeights",
    "PublicGoods",
    "TrivialGame",
    "as_game",
    "fit",
    "log_likelihood",
    "neural_mechanism",
    "simulate",
    "train",
]
