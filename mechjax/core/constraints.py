"""How per-agent violations (regret) enter the outer loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mechjax.core.types import Terms
from mechjax.errors import ConfigError


class LagrangianState(NamedTuple):
    multipliers: jax.Array  # [agents]
    rho: jax.Array  # scalar penalty weight
    window_sum: jax.Array  # [agents] violations summed since the last multiplier update
    window_count: jax.Array  # scalar


@dataclass(frozen=True)
class AugmentedLagrangian:
    """RegretNet's augmented Lagrangian on per-agent violations ``g_i >= 0``.

    ``loss = objective + sum_i lambda_i g_i + rho / 2 * sum_i g_i ** 2``. Every ``update_every``
    outer steps the multipliers move by ``rho`` times the violations averaged over that window
    (averaging rather than using the last batch keeps the dual step from chasing noise); every
    ``rho_every`` steps ``rho`` grows by ``rho_increment``, up to ``rho_max``.

    Attributes:
        lambda_init: initial multiplier of every agent.
        rho_init: initial penalty weight.
        rho_increment: additive growth of ``rho``.
        rho_every: steps between increases of ``rho``.
        rho_max: cap on ``rho``.
        update_every: steps between multiplier updates.
    """

    lambda_init: float = 5.0
    rho_init: float = 1.0
    rho_increment: float = 1.0
    rho_every: int = 2000
    rho_max: float = 100.0
    update_every: int = 100

    def __post_init__(self):
        for name in ("lambda_init", "rho_increment"):
            if getattr(self, name) < 0:
                raise ConfigError(f"constraint.{name} must be >= 0, got {getattr(self, name)}")
        if not self.rho_init > 0:
            raise ConfigError(f"constraint.rho_init must be > 0, got {self.rho_init}")
        if self.rho_max < self.rho_init:
            raise ConfigError("constraint.rho_max must be >= constraint.rho_init")
        for name in ("rho_every", "update_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"constraint.{name} must be >= 1, got {getattr(self, name)}")

    def init(self, num_agents: int) -> LagrangianState:
        return LagrangianState(
            multipliers=jnp.full((num_agents,), self.lambda_init, jnp.float32),
            rho=jnp.asarray(self.rho_init, jnp.float32),
            window_sum=jnp.zeros((num_agents,), jnp.float32),
            window_count=jnp.zeros((), jnp.float32),
        )

    def combine(self, terms: Terms, c: LagrangianState) -> jax.Array:
        g = terms.violations
        return terms.objective + jnp.sum(c.multipliers * g) + 0.5 * c.rho * jnp.sum(g**2)

    def update(self, terms: Terms, c: LagrangianState, step: jax.Array) -> LagrangianState:
        window_sum = c.window_sum + jax.lax.stop_gradient(terms.violations)
        window_count = c.window_count + 1
        done = (step + 1) % self.update_every == 0
        multipliers = jnp.where(done, c.multipliers + c.rho * window_sum / window_count, c.multipliers)
        grow = (step + 1) % self.rho_every == 0
        rho = jnp.where(grow, jnp.minimum(c.rho + self.rho_increment, self.rho_max), c.rho)
        return LagrangianState(
            multipliers=multipliers,
            rho=rho,
            window_sum=jnp.where(done, 0.0, window_sum),
            window_count=jnp.where(done, 0.0, window_count),
        )

    def metrics(self, c: LagrangianState) -> dict[str, jax.Array]:
        return {"lagrange_multiplier": c.multipliers.mean(), "rho": c.rho}


class BudgetState(NamedTuple):
    dual: jax.Array  # scalar


@dataclass(frozen=True)
class RegretBudget:
    """Minimise the objective subject to mean violation <= ``budget`` (RegretFormer's formulation).

    ``loss = objective + dual * (mean_i g_i - budget)`` with dual ascent
    ``dual <- max(0, dual + dual_lr * (mean_i g_i - budget))`` after every step. Unlike the
    augmented Lagrangian, the researcher chooses how much regret to trade for revenue.

    Attributes:
        budget: allowed mean per-agent violation.
        dual_init: initial dual variable.
        dual_lr: dual ascent step size.
    """

    budget: float = 1e-3
    dual_init: float = 1.0
    dual_lr: float = 1.0

    def __post_init__(self):
        if self.budget < 0:
            raise ConfigError(f"constraint.budget must be >= 0, got {self.budget}")
        if self.dual_init < 0 or not self.dual_lr > 0:
            raise ConfigError("constraint.dual_init must be >= 0 and constraint.dual_lr > 0")

    def init(self, num_agents: int) -> BudgetState:
        return BudgetState(dual=jnp.asarray(self.dual_init, jnp.float32))

    def combine(self, terms: Terms, c: BudgetState) -> jax.Array:
        excess = jnp.mean(terms.violations) - self.budget
        return terms.objective + c.dual * excess

    def update(self, terms: Terms, c: BudgetState, step: jax.Array) -> BudgetState:
        excess = jax.lax.stop_gradient(jnp.mean(terms.violations)) - self.budget
        return BudgetState(dual=jnp.maximum(0.0, c.dual + self.dual_lr * excess))

    def metrics(self, c: BudgetState) -> dict[str, jax.Array]:
        return {"budget_dual": c.dual}


@dataclass(frozen=True)
class Unconstrained:
    """The objective alone: mimicry, welfare training, mechanisms that are DSIC by construction."""

    def init(self, num_agents: int):
        return ()

    def combine(self, terms: Terms, c) -> jax.Array:
        return terms.objective

    def update(self, terms: Terms, c, step):
        return c

    def metrics(self, c) -> dict[str, jax.Array]:
        return {}
