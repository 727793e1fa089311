"""Learning a delegation rule: maximise the probability of a correct decision under a power cap.

A batch is a set of random networks (``family``) whose voters have true competences
``U[competence_low, competence_high]`` and see noisy estimates of them (``estimate_noise``). A
mechanism maps ``DelegationInputs`` (estimates, network) to a policy ``D [b, n, n]``
(``rules``), delegating only upward so that no vote is lost.

Objective: the probability that the weighted majority is correct, averaged over the delegation
graphs the policy draws. For a drawn graph it is exact (``accuracy``'s dynamic program); its
gradient in the policy is the score-function (REINFORCE) estimate over ``draws`` graphs per network
with a leave-one-out baseline, unbiased for the exact expected accuracy. The draws use uniforms
stored in the batch, so ``loss_terms`` is a pure function of the batch.

Constraint: every voter's *expected* weight under the policy (exact, ``policy.expected_weight``)
must stay <= ``cap - cap_margin``; the per-agent violation of voter slot j is the batch mean of
``relu(E[weight_j] - cap + cap_margin)``, which ``constraint=augmented_lagrangian`` prices.

Deployment (``repair``, on by default): a bound on expected weights does not bound a single drawn
graph, so every drawn graph passes through the cap repair (``repair.py``) before it is resolved,
in training as in evaluation. Every realised caster then holds at most ``cap`` votes, and the
objective is the accuracy of the graphs actually deployed (the repair is a deterministic function
of the draw, so the score-function gradient stays unbiased for it); the constraint keeps the
policy where the repair rarely has to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from mechjax.core.types import Terms
from mechjax.delegation.graphs import FAMILIES, sample_graphs
from mechjax.delegation.policy import draw_accuracy, expected_weight, weights_of
from mechjax.delegation.repair import repair_delegates
from mechjax.delegation.rules import DelegationInputs
from mechjax.errors import ConfigError


class DelegationBatch(NamedTuple):
    """Networks to delegate on (batch-first)."""

    inputs: DelegationInputs
    competence: Float[Array, "b n"]
    uniforms: Float[Array, "b k n"]  # drives the ``k`` delegation draws per network


def draw_from_uniforms(policy, uniforms):
    """``int [b, k, n]``: inverse-CDF draws of every voter's choice from ``policy [b, n, n]``."""
    cdf = jnp.cumsum(policy, -1)
    n = policy.shape[-1]
    choice = jnp.sum(cdf[:, None, :, :] < uniforms[..., None] * cdf[:, None, :, -1:], -1)
    return jnp.minimum(choice, n - 1).astype(jnp.int32)


@dataclass(frozen=True)
class DelegationProblem:
    """Random networks with competences, and the capped accuracy objective.

    Attributes:
        num_voters: voters per network (``n``).
        family: graph family (``graphs.FAMILIES``).
        edge_prob: Erdos-Renyi edge probability.
        attach: preferential-attachment links per new voter.
        competence_low, competence_high: true competences are ``U[low, high]``.
        estimate_noise: standard deviation of the Gaussian noise on the estimates (clipped to [0, 1]).
        cap: the largest expected weight any voter may hold.
        cap_margin: training prices weights above ``cap - cap_margin`` (a safety margin, so that
            the cap also holds on networks the rule never saw); the evaluator checks ``cap`` itself.
        draws: delegation graphs drawn per network for the score-function gradient.
        repair: pass every drawn graph through the cap repair (``repair.py``) before resolving it,
            so that every realised caster holds at most ``cap`` votes.
    """

    num_voters: int = 31
    family: str = "erdos_renyi"
    edge_prob: float = 0.25
    attach: int = 2
    competence_low: float = 0.3
    competence_high: float = 0.8
    estimate_noise: float = 0.05
    cap: float = 5.0
    cap_margin: float = 0.0
    draws: int = 8
    repair: bool = True

    def __post_init__(self):
        if not isinstance(self.num_voters, int) or self.num_voters < 2:
            raise ConfigError(f"problem.num_voters must be an integer >= 2, got {self.num_voters!r}")
        if self.family not in FAMILIES:
            raise ConfigError(f"problem.family must be one of {FAMILIES}, got {self.family!r}")
        if not 0 <= self.edge_prob <= 1:
            raise ConfigError(f"problem.edge_prob must be in [0, 1], got {self.edge_prob}")
        if not isinstance(self.attach, int) or self.attach < 1:
            raise ConfigError(f"problem.attach must be a positive integer, got {self.attach!r}")
        for name in ("competence_low", "competence_high"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"problem.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.competence_low > self.competence_high:
            raise ConfigError("problem.competence_low must be <= problem.competence_high")
        if self.estimate_noise < 0:
            raise ConfigError(f"problem.estimate_noise must be >= 0, got {self.estimate_noise}")
        if not self.cap >= 1:
            raise ConfigError(f"problem.cap must be >= 1 (a caster holds at least her own vote), got {self.cap}")
        if not 0 <= self.cap_margin < self.cap:
            raise ConfigError(f"problem.cap_margin must be in [0, problem.cap), got {self.cap_margin}")
        if not isinstance(self.draws, int) or self.draws < 2:
            raise ConfigError(f"problem.draws must be an integer >= 2 (the baseline leaves one out), got {self.draws!r}")
        if not isinstance(self.repair, bool):
            raise ConfigError(f"problem.repair must be true or false, got {self.repair!r}")

    @property
    def num_agents(self) -> int:
        return self.num_voters

    def sample(self, key, batch_size: int) -> DelegationBatch:
        k_graph, k_comp, k_noise, k_draw = jax.random.split(key, 4)
        n = self.num_voters
        adjacency = sample_graphs(k_graph, self.family, batch_size, n, self.edge_prob, self.attach)
        competence = jax.random.uniform(k_comp, (batch_size, n), minval=self.competence_low,
                                        maxval=self.competence_high)
        estimate = jnp.clip(competence + self.estimate_noise * jax.random.normal(k_noise, (batch_size, n)), 0.0, 1.0)
        uniforms = jax.random.uniform(k_draw, (batch_size, self.draws, n))
        return DelegationBatch(DelegationInputs(estimate, adjacency), competence, uniforms)

    def realise(self, delegates, estimate):
        """``(graphs, rejected)``: drawn ``delegates [.., n]`` as deployed (cap-repaired if ``repair``)."""
        if self.repair:
            return repair_delegates(delegates, estimate, self.cap)
        return delegates, jnp.zeros(delegates.shape, bool)

    def loss_terms(self, outcome_fn, batch: DelegationBatch, solution) -> Terms:
        policy = outcome_fn(batch.inputs)  # [b, n, n]
        delegates = draw_from_uniforms(jax.lax.stop_gradient(policy), batch.uniforms)  # [b, k, n]
        realised, rejected = self.realise(delegates, batch.inputs.estimate[:, None, :])
        weights = weights_of(realised)
        acc = draw_accuracy(jnp.swapaxes(weights, 0, 1), batch.competence).T  # [b, k]
        log_prob = jnp.sum(jnp.log(jnp.maximum(
            jnp.take_along_axis(policy[:, None], delegates[..., None], -1)[..., 0], 1e-30)), -1)  # [b, k]
        k = self.draws
        baseline = (acc.sum(-1, keepdims=True) - acc) / (k - 1)
        surrogate = jnp.mean(jax.lax.stop_gradient(acc - baseline) * log_prob)
        load = expected_weight(policy, method="iterate")  # [b, n]
        violations = jnp.mean(jax.nn.relu(load - (self.cap - self.cap_margin)), 0)
        metrics = {
            "accuracy": acc.mean(),
            "max_expected_weight": load.max(-1).mean(),
            "cast_prob": jnp.diagonal(policy, axis1=-2, axis2=-1).mean(),
            "cap_violation": violations.max(),
            "repair_rate": rejected.any(-1).astype(jnp.float32).mean(),
        }
        return Terms(objective=-surrogate, violations=violations, metrics=metrics)
