"""The shapes every learner in mechjax shares: a Problem, an InnerSolver and a Constraint.

A system is a bilevel game. The *problem* samples private information and scores outcomes; the
*mechanism* (a Flax NNX module) maps reports to outcomes; the *inner solver* is what the mechanism
is trained against (an adversary searching misreports, or unrolled agent learning); the
*constraint* turns per-agent violations into one scalar loss. Nothing here knows a domain.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

import jax

PyTree = Any
OutcomeFn = Callable[..., Any]  # reports -> outcome (e.g. (allocations, payments))


class Terms(NamedTuple):
    """What a problem reports for one batch.

    Attributes:
        objective: scalar to minimise (e.g. negative revenue, cross-entropy, NLL).
        violations: ``[agents]`` non-negative mean violation per agent (e.g. regret); zeros if none.
        metrics: scalars to log (means over the batch).
    """

    objective: jax.Array
    violations: jax.Array
    metrics: dict[str, jax.Array]


class Problem(Protocol):
    """A setting: samples private information and scores a mechanism's outcomes."""

    num_agents: int

    def sample(self, key: jax.Array, batch_size: int) -> PyTree:
        """A batch-first pytree of private information (types, profiles, windows, ...)."""

    def loss_terms(self, outcome_fn: OutcomeFn, batch: PyTree, solution: PyTree) -> Terms:
        """Scores ``outcome_fn`` on ``batch`` given the inner solver's ``solution``."""


@runtime_checkable
class MisreportProblem(Protocol):
    """What an adversary (``core.adversary.Adversary``) needs from a problem to search misreports.

    A problem whose agents report something continuous (bids, relaxed ballots) declares this; one
    whose "reports" are observed data (DIML) does not, and ``inner=adversary`` refuses it. A problem
    may also carry ``report_scale`` (the width of the report space) for scale-free step sizes.
    """

    def deviation_utility(self, outcome_fn: OutcomeFn, batch: PyTree, misreports: jax.Array) -> jax.Array:
        """``[restarts, batch, agents]``: each agent's utility when she alone reports ``misreports[r, b, i]``."""

    def project(self, reports: jax.Array) -> jax.Array:
        """The projection of ``reports`` onto the report space."""

    def random_reports(self, key: jax.Array, batch: PyTree, restarts: int) -> jax.Array:
        """``[restarts, batch, agents, ...]`` random reports (the adversary's starts)."""


class InnerSolver(Protocol):
    """What the mechanism is trained against."""

    def init(self, key: jax.Array, data: PyTree) -> PyTree:
        """Carry for the whole training set ``data`` (batch-first), e.g. a misreport buffer."""

    def solve(
        self, outcome_fn: OutcomeFn, batch: PyTree, carry: PyTree, key: jax.Array, index: jax.Array
    ) -> tuple[PyTree, PyTree]:
        """Returns ``(solution, new_carry)``; ``index`` ``[batch]`` locates ``batch`` in ``data``."""


class Constraint(Protocol):
    """How per-agent violations enter the outer loss."""

    def init(self, num_agents: int) -> PyTree: ...

    def combine(self, terms: Terms, cstate: PyTree) -> jax.Array:
        """Scalar loss to minimise."""

    def update(self, terms: Terms, cstate: PyTree, step: jax.Array) -> PyTree:
        """New multipliers / penalty weights after an outer step (inside jit)."""

    def metrics(self, cstate: PyTree) -> dict[str, jax.Array]:
        """Scalars worth logging (e.g. mean multiplier, rho)."""


class NoInner:
    """An inner solver that does nothing: mimicry, welfare training, DSIC-by-construction menus."""

    def init(self, key, data):
        return ()

    def solve(self, outcome_fn, batch, carry, key, index):
        return None, carry
