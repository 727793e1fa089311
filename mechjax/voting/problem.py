"""The voting problem: elections to decide, an objective mixing mimicry, welfare and axioms, and
(optionally) per-voter manipulation regret against relaxed ballots.

A batch is a ``VotingBatch`` of padded profiles (``max_voters`` x ``max_candidates``; with
``variable_sizes`` each profile draws ``n ~ U{1..max_voters}`` and ``m ~ U{2..max_candidates}``)
plus everything the objective needs, precomputed once per batch by the classical rules (target
winners, Condorcet winner, dominated candidates) and the random permutations / abstainers of the
axiom losses. A mechanism is an NNX module mapping ``Ballots`` to winner probabilities
(``nets.VotingNet``).

Manipulation: the report space of a voter is the set of relaxed ballots (doubly-stochastic
candidate x position matrices; a real ballot is a permutation matrix). ``deviation_utility`` is
what ``core.adversary.Adversary`` ascends, ``project`` is a Sinkhorn normalisation, and the
violations are each voter's regret, i.e. the best expected-utility gain from misreporting.
Training-time regret against relaxed ballots is not a result: evaluate with the exhaustive
search over all m! real ballots (``manipulation.single_voter_manipulation`` on ``nets.as_rule``),
or above ``manipulation.MAX_CANDIDATES`` with ``relaxed_search.relaxed_manipulation`` (real
ballots only, a lower bound).
For m <= 5 the inner solver ``ExhaustiveBallots`` replaces the relaxed search by that exact one,
inside the jitted step (``all_misreports``): training then prices the exact regret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from mechjax.core.types import Terms
from mechjax.errors import ConfigError
from mechjax.voting import losses
from mechjax.voting.nets import Ballots, ballots_from_rankings
from mechjax.voting.profiles import CultureConfig, pairwise_support
from mechjax.voting.relaxed_search import deviation_utility
from mechjax.voting.rules import RULES, condorcet

MISREPORT_SEARCHES = ("adversary", "exhaustive_ballots")


class VotingBatch(NamedTuple):
    """One batch of elections with everything the objective needs (all batch-first)."""

    ballots: Ballots
    rankings: Int[Array, "b n m"]
    utilities: Float[Array, "b n m"]
    target: Bool[Array, "b m"]  # classical rule's winners (all False without a target)
    condorcet: Bool[Array, "b m"]
    dominated: Bool[Array, "b m"]
    voter_perm: Int[Array, "b n"]
    candidate_perm: Int[Array, "b m"]  # candidate c is renamed candidate_perm[c]
    abstainer: Int[Array, " b"]
    # independence loss only (None otherwise): a pair (x, y) of real candidates and a profile that
    # keeps every voter's x-vs-y comparison but reshuffles everything else
    iia_pair: Optional[Int[Array, "b 2"]] = None
    iia_ballots: Optional[Ballots] = None


def _rename(ballots: Ballots, sigma) -> Ballots:
    """Candidate c becomes sigma[c] (rows of ``ranks`` and the mask move accordingly)."""
    inverse = jnp.argsort(sigma, axis=-1)
    ranks = jnp.take_along_axis(ballots.ranks, inverse[:, None, :, None], axis=2)
    return Ballots(ranks, ballots.weights, jnp.take_along_axis(ballots.candidate_mask, inverse, axis=-1))


def _reshuffle_keeping_pair(key, rankings, mask):
    """``(pair [b, 2], rankings')``: a random pair of real candidates per profile, and rankings in
    which every voter orders the real candidates at random except that x and y keep their order."""
    b, n, m = rankings.shape
    k_pair, k_perm = jax.random.split(key)
    pair = jax.lax.top_k(jnp.where(mask, jax.random.uniform(k_pair, (b, m)), -1.0), 2)[1]  # [b, 2]
    noise = jnp.where(mask[:, None], jax.random.uniform(k_perm, (b, n, m)), 2.0 + jnp.arange(m))
    new_pos = jnp.argsort(jnp.argsort(noise, -1), -1)  # padding keeps the bottom places, in index order
    old_pos = jnp.argsort(rankings, -1)
    x, y = pair[:, None, 0:1], pair[:, None, 1:2]  # [b, 1, 1]
    take = lambda pos, c: jnp.take_along_axis(pos, jnp.broadcast_to(c, (b, n, 1)), -1)  # noqa: E731
    flip = (take(old_pos, x) < take(old_pos, y)) != (take(new_pos, x) < take(new_pos, y))  # [b, n, 1]
    cand = jnp.arange(m)[None, None]
    swapped = jnp.where(cand == x, take(new_pos, y), jnp.where(cand == y, take(new_pos, x), new_pos))
    return pair, jnp.argsort(jnp.where(flip, swapped, new_pos), -1)


def sinkhorn(x, allowed, iterations: int):
    """Approximately doubly-stochastic matrices from non-negative ``x`` on the ``allowed`` entries."""
    x = (jnp.maximum(x, 0.0) + 1e-6) * allowed

    def step(_, x):  # a loop, not unrolled: keeps the adversary's compiled graph small
        x = x / jnp.maximum(x.sum(-1, keepdims=True), 1e-12)
        return x / jnp.maximum(x.sum(-2, keepdims=True), 1e-12)

    return jax.lax.fori_loop(0, iterations, step, x)


@dataclass(frozen=True)
class VotingProblem:
    """Learning a voting rule.

    Attributes:
        culture: the sampling culture (its sizes are the maxima).
        loss: weights of the objective terms.
        target: classical rule to mimic (a key of ``rules.RULES``), required when
            ``loss.mimicry > 0``.
        variable_sizes: draw n and m per profile (padding) instead of using the maxima.
        manipulation: report per-voter regret against the inner solver's relaxed ballots.
        sinkhorn_iterations: iterations of the relaxed-ballot projection.
    """

    culture: CultureConfig = field(default_factory=CultureConfig)
    loss: losses.LossWeights = field(default_factory=losses.LossWeights)
    target: Optional[str] = "borda"
    variable_sizes: bool = False
    manipulation: bool = False
    sinkhorn_iterations: int = 30

    def __post_init__(self):
        if self.target is not None and self.target not in RULES:
            raise ConfigError(f"problem.target must be one of {sorted(RULES)} or null, got {self.target!r}")
        if self.loss.mimicry > 0 and self.target is None:
            raise ConfigError("problem.target is required when problem.loss.mimicry > 0")
        if self.culture.num_candidates < 2:
            raise ConfigError("problem.culture.num_candidates must be >= 2 to learn a rule")
        if self.sinkhorn_iterations < 1:
            raise ConfigError(f"problem.sinkhorn_iterations must be >= 1, got {self.sinkhorn_iterations}")

    def check_inner(self, kind: str) -> None:
        """Called by the config layer: a misreport search is only meaningful with manipulation regret."""
        if self.manipulation and kind not in MISREPORT_SEARCHES:
            raise ConfigError(f"problem.manipulation=true needs inner=adversary (relaxed ballots, gradient) or "
                              f"inner=exhaustive_ballots (all m! ballots), got inner.kind={kind!r}")
        if not self.manipulation and kind in MISREPORT_SEARCHES:
            raise ConfigError(f"inner={kind} has nothing to attack with problem.manipulation=false; "
                              f"use inner=none constraint=none (or set problem.manipulation=true)")

    @property
    def num_agents(self) -> int:
        return self.culture.num_voters

    @property
    def num_candidates(self) -> int:
        return self.culture.num_candidates

    # ------------------------------------------------------------------ sampling

    def sample(self, key, batch_size: int) -> VotingBatch:
        n, m = self.culture.num_voters, self.culture.num_candidates
        k_prof, k_n, k_m, k_perm, k_sigma, k_abs = jax.random.split(key, 6)
        profile = self.culture.sample(k_prof, batch_size)
        rankings = profile.rankings
        utilities = profile.utilities
        if self.variable_sizes:
            real_n = jax.random.randint(k_n, (batch_size, 1), 1, n + 1)
            real_m = jax.random.randint(k_m, (batch_size, 1, 1), 2, m + 1)
            # restrict each ballot to the first m candidates; the rest go below in index order
            place = jnp.where(rankings < real_m, jnp.arange(m)[None, None], m + rankings)
            rankings = jnp.take_along_axis(rankings, jnp.argsort(place, axis=-1), -1)
            weights = (jnp.arange(n)[None] < real_n).astype(jnp.int32)
            mask = jnp.arange(m)[None] < real_m[:, 0]
        else:
            weights = jnp.ones((batch_size, n), jnp.int32)
            mask = jnp.ones((batch_size, m), bool)
        if utilities is None:  # ordinal cultures: Borda utilities (m_real - 1 - pos) / (m_real - 1)
            real_m = mask.sum(-1)[:, None, None]
            pos = jnp.argsort(rankings, axis=-1)
            utilities = jnp.maximum(real_m - 1 - pos, 0) / jnp.maximum(real_m - 1, 1)
        # padding candidates never win; zero utility keeps every welfare term finite
        utilities = jnp.where(mask[:, None], utilities, 0.0)
        target = (RULES[self.target](rankings, weights) if self.target is not None
                  else jnp.zeros((batch_size, m), bool))
        support = pairwise_support(rankings, weights)
        dominated = (support == weights.sum(-1)[:, None, None]).any(-2) & mask
        iia_pair = iia_ballots = None
        if self.loss.independence > 0:  # its own key stream: other fields stay as without it
            iia_pair, iia_rankings = _reshuffle_keeping_pair(jax.random.fold_in(key, 7), rankings, mask)
            iia_ballots = ballots_from_rankings(iia_rankings, weights, mask)
        return VotingBatch(
            iia_pair=iia_pair, iia_ballots=iia_ballots,
            ballots=ballots_from_rankings(rankings, weights, mask),
            rankings=rankings, utilities=utilities.astype(jnp.float32), target=target,
            condorcet=condorcet(rankings, weights) & mask, dominated=dominated,
            voter_perm=jnp.argsort(jax.random.uniform(k_perm, (batch_size, n)), axis=-1),
            candidate_perm=jnp.argsort(jax.random.uniform(k_sigma, (batch_size, m)), axis=-1),
            abstainer=jax.random.categorical(k_abs, jnp.where(weights > 0, 0.0, -jnp.inf)),
        )

    # ------------------------------------------------------------------ objective

    def loss_terms(self, outcome_fn, batch: VotingBatch, solution) -> Terms:
        probs = outcome_fn(batch.ballots)
        ballots, w = batch.ballots, batch.ballots.weights
        weights = self.loss.active()
        values = {}
        if "mimicry" in weights:
            values["mimicry"] = losses.mimicry(probs, batch.target)
        for name in ("utilitarian", "egalitarian", "nash"):
            if name in weights:  # welfare is maximised: its loss is the negative
                values[name] = -getattr(losses, name)(probs, batch.utilities, w)
        if "condorcet" in weights:
            values["condorcet"] = losses.condorcet(probs, batch.condorcet)
        if "pareto" in weights:
            values["pareto"] = losses.pareto(probs, batch.dominated)
        if "anonymity" in weights:
            perm = batch.voter_perm
            permuted = Ballots(jnp.take_along_axis(ballots.ranks, perm[:, :, None, None], 1),
                               jnp.take_along_axis(w, perm, 1), ballots.candidate_mask)
            values["anonymity"] = losses.anonymity(probs, outcome_fn(permuted))
        if "neutrality" in weights:
            values["neutrality"] = losses.neutrality(probs, outcome_fn(_rename(ballots, batch.candidate_perm)),
                                                     batch.candidate_perm)
        if "independence" in weights:
            values["independence"] = losses.independence(probs, outcome_fn(batch.iia_ballots), batch.iia_pair)
        if "participation" in weights:
            leave = jax.nn.one_hot(batch.abstainer, w.shape[1]) * (w.sum(-1, keepdims=True) >= 2)
            without = outcome_fn(Ballots(ballots.ranks, w - leave, ballots.candidate_mask))
            u = jnp.take_along_axis(batch.utilities, batch.abstainer[:, None, None], 1)[:, 0]
            values["participation"] = losses.participation(probs, without, u)
        objective = sum(weights[k] * jnp.mean(v) for k, v in values.items())
        metrics = {f"loss_{k}": jnp.mean(v) for k, v in values.items()}
        if self.target is not None:  # the most likely candidate is one of the target's winners
            top = jax.nn.one_hot(jnp.argmax(probs, -1), probs.shape[-1], dtype=bool)
            metrics["accuracy"] = jnp.mean((top & batch.target).any(-1))
        metrics["utilitarian_welfare"] = jnp.mean(losses.utilitarian(probs, batch.utilities, w))
        if self.manipulation and solution is not None:
            regret = self.regret(outcome_fn, batch, solution, probs)
            violations = regret.mean(0)
            metrics["regret"] = jnp.mean(violations)
        else:
            violations = jnp.zeros(self.num_agents)
        return Terms(objective=objective, violations=violations, metrics=metrics)

    # ------------------------------------------------------------------ manipulation (adversary API)

    def _allowed(self, batch: VotingBatch):
        """Real candidates on real positions, padding candidates on padding positions: [b, 1, m, m]."""
        mask = batch.ballots.candidate_mask
        real_m = mask.sum(-1)[:, None]
        real_position = jnp.arange(self.num_candidates)[None] < real_m
        return (mask[:, :, None] == real_position[:, None, :])[:, None].astype(jnp.float32)

    def project(self, reports, batch: Optional[VotingBatch] = None):
        """Sinkhorn normalisation onto (approximately) doubly-stochastic relaxed ballots."""
        allowed = 1.0 if batch is None else self._allowed(batch)[None]
        return sinkhorn(reports, allowed, self.sinkhorn_iterations)

    def random_reports(self, key, batch: VotingBatch, restarts: int) -> Float[Array, "r b n m m"]:
        b, n, m, _ = batch.ballots.ranks.shape
        noise = jax.random.uniform(key, (restarts, b, n, m, m))
        return sinkhorn(noise, self._allowed(batch)[None], self.sinkhorn_iterations)

    def deviation_utility(self, outcome_fn, batch: VotingBatch, misreports) -> Float[Array, "r b n"]:
        """Expected utility of voter i when she alone reports the relaxed ballot ``misreports[r, b, i]``."""
        misreports = sinkhorn(misreports, self._allowed(batch)[None], self.sinkhorn_iterations)
        return deviation_utility(outcome_fn, batch.ballots, batch.utilities, misreports)

    def all_misreports(self, batch: VotingBatch) -> Float[Array, "a b n m m"]:
        """Every real ballot, for every voter: ``[m!, b, n, m, m]`` one-hot position matrices.

        Ballot ``a`` is permutation ``a`` of the candidates restricted to the profile's real ones
        (padding candidates stay below, in index order), so profiles with fewer candidates see
        each of their ballots, some more than once. With these as misreports, ``regret`` is exact.
        """
        from mechjax.voting.manipulation import all_ballots  # host-side table of the m! permutations

        b, n, m, _ = batch.ballots.ranks.shape
        perms = jnp.asarray(all_ballots(m))  # [a, m]
        real_m = batch.ballots.candidate_mask.sum(-1)[:, None, None]  # [b, 1, 1]
        place = jnp.where(perms[None] < real_m, jnp.arange(m), m + perms[None])  # [b, a, m]
        rankings = jnp.take_along_axis(jnp.broadcast_to(perms[None], place.shape), jnp.argsort(place, -1), -1)
        ranks = ballots_from_rankings(rankings).ranks  # [b, a, m, m]
        return jnp.broadcast_to(jnp.moveaxis(ranks, 1, 0)[:, :, None], (perms.shape[0], b, n, m, m))

    def regret(self, outcome_fn, batch: VotingBatch, misreports, probs=None) -> Float[Array, "b n"]:
        """Best gain of each real voter over the given relaxed misreports (>= 0)."""
        probs = outcome_fn(batch.ballots) if probs is None else probs
        truthful = jnp.einsum("bm,bnm->bn", probs, batch.utilities)
        best = self.deviation_utility(outcome_fn, batch, misreports).max(0)
        return jax.nn.relu(best - truthful) * (batch.ballots.weights > 0)


@dataclass(frozen=True)
class ExhaustiveBallots:
    """Inner solver for voting: every voter tries every one of the m! real ballots (exact regret).

    The search is forward-only: all ``m!`` deviations of every voter are scored without gradients
    and each voter's best ballot is returned (``[1, b, n, m, m]``); the outer step differentiates
    the mechanism at those best responses (the envelope argument, as for the adversary). The cost
    is ``m!`` rule evaluations per voter and profile, so it is meant for m <= 5 (120 ballots);
    above that use the relaxed-ballot ``Adversary``.
    """

    problem: VotingProblem

    def init(self, key, data):
        return ()

    def solve(self, outcome_fn, batch, carry, key, index):
        candidates = self.problem.all_misreports(batch)  # [a, b, n, m, m]
        utility = jax.lax.stop_gradient(self.problem.deviation_utility(outcome_fn, batch, candidates))
        best = jnp.argmax(utility, axis=0)  # [b, n]
        chosen = jnp.take_along_axis(candidates, best[None, :, :, None, None], axis=0)
        return jax.lax.stop_gradient(chosen), carry
