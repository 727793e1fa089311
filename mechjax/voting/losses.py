"""Differentiable objectives for learned voting rules, mixable by weights.

Every function takes winner probabilities ``probs [batch, candidates]`` (a lottery over the real
candidates) and returns a per-profile value ``[batch]``; ``LossWeights`` says how much of each goes
into the training objective (``VotingProblem.loss_terms``).

* mimicry: cross-entropy to a classical rule's winner set, read as a uniform lottery;
* welfare, on expected utilities ``EU_v = sum_c p_c u_vc`` (weighted by ballot counts):
  utilitarian (mean EU), egalitarian (smallest EU of a real voter) and Nash (mean log EU);
* axioms (Hornischer and Terzopoulou 2025, Sec. 4.4, adapted to lotteries): Condorcet
  (-log p of the Condorcet winner where one exists), Pareto (probability on dominated
  candidates), anonymity / neutrality (KL between the outcome and the outcome under a permutation,
  mapped back; zero for the equivariant nets), independence (the x-vs-y order of winning
  probability must survive reshuffling every other candidate on every ballot), participation
  (expected-utility gain of a voter from abstaining, the probabilistic no-show paradox of Matone
  et al. 2024).

There is no "no winner" term: its set-valued form penalises rules that may elect nobody, and a
lottery over the real candidates (a softmax) always elects someone, so the term would be zero.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from mechjax.errors import ConfigError

_EPS = 1e-9


@dataclass(frozen=True)
class LossWeights:
    """Weights of the objective terms (all >= 0; at least one > 0)."""

    mimicry: float = 1.0
    utilitarian: float = 0.0
    egalitarian: float = 0.0
    nash: float = 0.0
    condorcet: float = 0.0
    pareto: float = 0.0
    anonymity: float = 0.0
    neutrality: float = 0.0
    independence: float = 0.0
    participation: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"problem.loss.{f.name} must be a number >= 0, got {value!r}")
        if not any(getattr(self, f.name) > 0 for f in fields(self)):
            raise ConfigError("problem.loss needs at least one weight > 0")

    def active(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) > 0}


def mimicry(probs: Float[Array, "b m"], target: Bool[Array, "b m"]) -> Float[Array, " b"]:
    """Cross-entropy from the uniform lottery over ``target`` winners to ``probs``."""
    t = target / jnp.maximum(target.sum(-1, keepdims=True), 1)
    return -(t * jnp.log(probs + _EPS)).sum(-1)


def expected_utilities(probs: Float[Array, "b m"], utilities: Float[Array, "b n m"]) -> Float[Array, "b n"]:
    return jnp.einsum("bm,bnm->bn", probs, utilities)


def utilitarian(probs, utilities, weights) -> Float[Array, " b"]:
    """Mean expected utility over voters (counts as weights)."""
    eu = expected_utilities(probs, utilities)
    return (eu * weights).sum(-1) / jnp.maximum(weights.sum(-1), _EPS)


def egalitarian(probs, utilities, weights) -> Float[Array, " b"]:
    """Smallest expected utility of a real voter (a subgradient flows to the worst-off)."""
    eu = expected_utilities(probs, utilities)
    return jnp.where(weights > 0, eu, jnp.inf).min(-1)


def nash(probs, utilities, weights) -> Float[Array, " b"]:
    """Mean log expected utility (log Nash welfare); utilities should be positive."""
    eu = expected_utilities(probs, utilities)
    return (jnp.log(eu + _EPS) * weights).sum(-1) / jnp.maximum(weights.sum(-1), _EPS)


def condorcet(probs, condorcet_winner: Bool[Array, "b m"]) -> Float[Array, " b"]:
    """``-log p(x)`` for the Condorcet winner ``x``; 0 where there is none."""
    has = condorcet_winner.any(-1)
    return jnp.where(has, -jnp.log((probs * condorcet_winner).sum(-1) + _EPS), 0.0)


def pareto(probs, dominated: Bool[Array, "b m"]) -> Float[Array, " b"]:
    """Probability on Pareto-dominated candidates."""
    return (probs * dominated).sum(-1)


def kl(p, q) -> Float[Array, " b"]:
    return (p * (jnp.log(p + _EPS) - jnp.log(q + _EPS))).sum(-1)


def anonymity(probs, probs_permuted_voters) -> Float[Array, " b"]:
    """KL between the outcome and the outcome after permuting the voters."""
    return kl(probs, probs_permuted_voters)


def neutrality(probs, probs_renamed, sigma) -> Float[Array, " b"]:
    """KL between the outcome and the renamed profile's outcome mapped back (``sigma[c]`` = new name of c)."""
    return kl(probs, jnp.take_along_axis(probs_renamed, sigma, axis=-1))


def independence(probs, probs_reshuffled, pair: Int[Array, "b 2"]) -> Float[Array, " b"]:
    """Flips of the x-vs-y order of winning probability when only the rest of the ballots change.

    ``probs_reshuffled`` is the outcome of a profile in which every voter keeps her x-vs-y comparison
    (``pair = (x, y)``) and reorders everything else. Independence of irrelevant alternatives for
    a lottery, read ordinally: whichever of x and y is more likely must stay more likely. The loss
    is the log-odds by which the order flips, in both directions (zero when it does not flip).
    """
    def log_odds(p):
        px, py = (jnp.take_along_axis(p, pair[:, i:i + 1], -1)[:, 0] for i in (0, 1))
        return jnp.log(px + _EPS) - jnp.log(py + _EPS)

    d, d_new = log_odds(probs), log_odds(probs_reshuffled)
    sign, sign_new = jax.lax.stop_gradient(jnp.sign(d)), jax.lax.stop_gradient(jnp.sign(d_new))
    return jax.nn.relu(-sign * d_new) + jax.nn.relu(-sign_new * d)


def participation(probs, probs_without, abstainer_utilities: Float[Array, "b m"]) -> Float[Array, " b"]:
    """Expected-utility gain of a voter from abstaining (0 when voting is at least as good)."""
    return jax.nn.relu(((probs_without - probs) * abstainer_utilities).sum(-1))
