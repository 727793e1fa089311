"""DIML, by its pieces: kept as one import path for earlier code.

The pieces live in their own files: ``problem`` (``DIMLProblem``, ``Windows``), ``inner``
(``HistoryReplay``), ``models`` (the payoff maps: the mechanisms) and ``fit`` (``fit``, ``train``,
``FitConfig``, ``LearnedGame``).
"""

from mechjax.inverse.fit import FitConfig, FitResult, LearnedGame, fit, train
from mechjax.inverse.inner import HistoryReplay
from mechjax.inverse.problem import DIMLProblem, Windows

__all__ = ["DIMLProblem", "FitConfig", "FitResult", "HistoryReplay", "LearnedGame", "Windows", "fit", "train"]
