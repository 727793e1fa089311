"""DIML's inner solver: the learners' state at each window start, replayed from observed history.

The inner solver of a bilevel game is what the mechanism is trained against. In DIML it is the
agents' own learning: their Q-values (or log-weights) at the start of a training window, found by
replaying the observed joint actions before the window through the current payoff map. The
replay is held fixed in the outer step (``stop_gradient``: truncated backpropagation through time,
see ``problem``), so it carries no state between steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from mechjax.inverse.problem import DIMLProblem


@dataclass(frozen=True, eq=False)
class HistoryReplay:
    """``inner=history_replay``: warm-start every window by replaying the history before it.

    Attributes:
        problem: the ``DIMLProblem`` whose windows are replayed.
    """

    problem: DIMLProblem

    def init(self, key, data):
        return ()

    def solve(self, outcome_fn, batch, carry, key, index):
        """Returns the warm-start states ``[batch, agents, actions]`` and the (empty) carry."""
        return self.problem.warm_start(outcome_fn, batch), carry
