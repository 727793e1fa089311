"""Adversarial inner solver: projected gradient ascent on misreports, with restarts and warm starts.

The adversary knows nothing of auctions or ballots. It asks the problem three things:

* ``problem.deviation_utility(outcome_fn, batch, misreports) -> [restarts, batch, agents]``: the
  utility each agent gets when *she alone* reports ``misreports[r, b, i]`` and the others report
  truthfully;
* ``problem.project(misreports)``: the projection onto the report space;
* ``problem.random_reports(key, batch, restarts) -> [restarts, batch, agents, ...]``;
* optionally ``problem.report_scale``: the width of the report space (broadcastable to one
  agent's report), so that step sizes mean the same on U[0,1] and on U[4,16].

Training (RegretNet) keeps one buffer of misreports per training sample and warm-starts every
ascent from it, so a few ascent steps per outer step accumulate into a strong attack over epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from mechjax.errors import ConfigError


def ascend(
    utility_fn: Callable[[jax.Array], jax.Array],
    init: jax.Array,
    project: Callable[[jax.Array], jax.Array],
    steps: int,
    lr: float,
    scale=None,
) -> jax.Array:
    """Projected Adam ascent on ``utility_fn(x).sum()`` from ``init``; each entry moves independently.

    Because the summed utilities of different samples, agents and restarts do not interact, the
    gradient of the sum is the stack of per-entry gradients, and Adam's element-wise scaling keeps
    the entries independent too.

    Args:
        utility_fn: ``x -> utilities`` of any shape; ascended on the sum.
        init: starting misreports.
        project: projection onto the report space.
        steps: number of ascent steps (a Python int; the loop is a ``lax.scan``).
        lr: Adam step size, in units of ``scale``.
        scale: width of the report space (broadcastable to ``init``); ascent runs on ``x / scale``.

    Returns:
        The misreports after ``steps`` steps, projected.
    """
    if scale is not None:
        scale = jnp.asarray(scale)
        scale = scale.reshape((1,) * (init.ndim - scale.ndim) + scale.shape)  # explicit broadcasting
        return scale * ascend(lambda z: utility_fn(z * scale), init / scale,
                              lambda z: project(z * scale) / scale, steps, lr)
    tx, step = ascent_step(utility_fn, project, lr)
    (x, _), _ = jax.lax.scan(step, (init, tx.init(init)), None, length=steps)
    return x


def ascent_step(utility_fn: Callable[[jax.Array], jax.Array], project: Callable[[jax.Array], jax.Array],
                lr: float) -> tuple[optax.GradientTransformation, Callable]:
    """The optimiser and one step of :func:`ascend` (no rescaling): ``step((x, opt_state), _)``,
    a ``lax.scan`` body, for loops that check the ascent between steps."""
    tx = optax.adam(lr)
    grad_fn = jax.grad(lambda x: utility_fn(x).sum())

    def step(carry, _):
        x, opt_state = carry
        # Ascent: negate the gradient for optax's descent convention.
        updates, opt_state = tx.update(jax.tree.map(jnp.negative, grad_fn(x)), opt_state)
        return (project(optax.apply_updates(x, updates)), opt_state), None

    return tx, step


@dataclass(frozen=True)
class Adversary:
    """RegretNet's misreport search, usable by any problem that exposes deviation utilities.

    Attributes:
        problem: the problem (provides ``deviation_utility``, ``project``, ``random_reports``).
        steps: ascent steps per outer step.
        lr: ascent step size, relative to ``problem.report_scale`` when the problem has one.
        restarts: independent misreports per (sample, agent); the best one counts.
        warm_start: keep a misreport buffer per training sample and resume from it.
    """

    problem: Any
    steps: int = 25
    lr: float = 0.1
    restarts: int = 1
    warm_start: bool = True

    def __post_init__(self):
        if self.steps < 0:
            raise ConfigError(f"inner.steps must be >= 0, got {self.steps}")
        if self.restarts < 1:
            raise ConfigError(f"inner.restarts must be >= 1, got {self.restarts}")
        if not self.lr > 0:
            raise ConfigError(f"inner.lr must be > 0, got {self.lr}")

    def init(self, key, data):
        if not self.warm_start:
            return ()
        return self.problem.random_reports(key, data, self.restarts)

    def solve(self, outcome_fn, batch, carry, key, index):
        if self.warm_start:
            start = carry[:, index]
        else:
            start = self.problem.random_reports(key, batch, self.restarts)
        misreports = ascend(
            lambda x: self.problem.deviation_utility(outcome_fn, batch, x),
            start, self.problem.project, self.steps, self.lr, getattr(self.problem, "report_scale", None),
        )
        # The outer step differentiates the mechanism at fixed misreports (envelope argument):
        # the attacker's response is not a function of the parameters we differentiate.
        misreports = jax.lax.stop_gradient(misreports)
        if self.warm_start:
            carry = carry.at[:, index].set(misreports)
        return misreports, carry
