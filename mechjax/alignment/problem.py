"""Alignment problems for the shared trainer: reward learning, batched exact BTL, EM mixtures, policies.

Each is a ``core.types.Problem`` (``num_agents``, ``sample``, ``loss_terms``) trained by
``core.trainer.make_train``:

* :class:`PreferenceProblem`: maximum likelihood of weighted judgements (Plackett-Luce / BTL, or a
  DPL head) on a fixed data set; ``sample(key, n)`` returns the whole set when ``n`` is its size
  (full-batch), else ``n`` judgements drawn with replacement.
* :class:`BatchedPairsProblem`: BTL fitted on the *exact* pairwise probabilities of P populations
  at once (the BTL = Borda study).
* :class:`MixtureProblem`: a T-type Plackett-Luce mixture by EM. The inner solver
  :class:`EStep` is the E-step (each annotator's posterior over types, held fixed); the outer
  step ascends the expected complete log-likelihood (a generalised M-step). Data are annotators,
  each with ``m`` judgements: a fixed set, or drawn from a known population (``trainer.train_size``
  then gives every seed replica its own data set).
* :class:`PolicyProblem`: a KL-regularised policy against T type rewards; egalitarian (the inner
  solver :class:`WorstType` picks the worst-off types: multiplicative weights on the dual) or
  utilitarian (fixed type weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment import likelihoods as lik
from mechjax.alignment.populations import _judge, _shown
from mechjax.core.types import Terms

LIKELIHOODS = ("plackett_luce", "mean_variance", "categorical")


class Judgements(NamedTuple):
    rankings: jax.Array  # [b, k]
    weights: jax.Array  # [b]


@dataclass(frozen=True, eq=False)
class PreferenceProblem:
    """Fit a reward model to weighted judgements.

    Attributes:
        rankings: ``[N, k]`` judgements (pairs for the DPL heads).
        weights: ``[N]`` judgement weights (0 for padding rows).
        likelihood: ``plackett_luce`` (BTL for pairs), ``mean_variance`` or ``categorical``.
        l2: weight of the mean squared point reward / mean (pins the free shift).
    """

    rankings: np.ndarray
    weights: np.ndarray
    likelihood: str = "plackett_luce"
    l2: float = 1e-4

    num_agents = 1

    def sample(self, key, batch_size: int) -> Judgements:
        rankings, weights = jnp.asarray(self.rankings), jnp.asarray(self.weights, jnp.float32)
        if batch_size == len(self.rankings):
            return Judgements(rankings, weights)
        index = jax.random.randint(key, (batch_size,), 0, len(self.rankings))
        return Judgements(rankings[index], weights[index])

    def log_likelihood(self, out: jax.Array, rankings: jax.Array) -> jax.Array:
        if self.likelihood == "plackett_luce":
            return lik.ranking_loglik(out[:, 0], rankings)
        if self.likelihood == "mean_variance":
            return lik.mean_variance_pairs(out[:, 0], out[:, 1], rankings)
        return lik.categorical_pairs(out, rankings)

    def loss_terms(self, outcome_fn, batch: Judgements, solution) -> Terms:
        out = outcome_fn(batch)
        ll = self.log_likelihood(out, batch.rankings)
        nll = -jnp.sum(batch.weights * ll) / jnp.maximum(jnp.sum(batch.weights), 1e-12)
        level = out[:, 0] if self.likelihood != "categorical" else jnp.zeros(1)
        objective = nll + self.l2 * jnp.mean(level ** 2)
        return Terms(objective, jnp.zeros(1), {"nll": nll})


class ExactPairs(NamedTuple):
    probs: jax.Array  # [P, K, K] P(i beats j)
    mask: jax.Array  # [P, K] real responses


@dataclass(frozen=True, eq=False)
class BatchedPairsProblem:
    """BTL on exact pairwise probabilities of P populations (padded to K responses by ``mask``)."""

    probs: np.ndarray
    mask: np.ndarray
    l2: float = 1e-6

    num_agents = 1

    def sample(self, key, batch_size: int) -> ExactPairs:
        return ExactPairs(jnp.asarray(self.probs, jnp.float32), jnp.asarray(self.mask))

    def loss_terms(self, outcome_fn, batch: ExactPairs, solution) -> Terms:
        r = outcome_fn(batch)  # [P, K]
        pair = batch.mask[:, :, None] & batch.mask[:, None, :] & ~jnp.eye(r.shape[1], dtype=bool)[None]
        nll = -jnp.sum(jnp.where(pair, batch.probs * jax.nn.log_sigmoid(r[:, :, None] - r[:, None, :]), 0.0), (1, 2))
        nll = nll / jnp.maximum(pair.sum((1, 2)), 1)
        objective = jnp.mean(nll + self.l2 * jnp.sum(jnp.where(batch.mask, r, 0.0) ** 2, -1))
        return Terms(objective, jnp.zeros(1), {"nll": jnp.mean(nll)})


class AnnotatorBatch(NamedTuple):
    rankings: jax.Array  # [b, m, k] each annotator's judgements
    valid: jax.Array  # [b, m] real judgements
    weight: jax.Array  # [b] 1 for real annotators, 0 for padding


def annotator_loglik(rewards, batch: AnnotatorBatch) -> jax.Array:
    """``[b, R, T]``: log-likelihood of each annotator's judgements under each restart's type rewards."""
    scores = rewards[..., batch.rankings]  # [R, T, b, m, k]
    ll = jnp.sum(jnp.where(batch.valid[None, None], lik.plackett_luce(scores), 0.0), -1)  # [R, T, b]
    return jnp.moveaxis(ll, -1, 0)


def posterior(rewards, log_weights, batch: AnnotatorBatch):
    """``(log posterior over types [b, R, T], marginal log-likelihood [b, R])``."""
    joint = log_weights[None] + annotator_loglik(rewards, batch)
    marginal = jax.nn.logsumexp(joint, -1)
    return joint - marginal[..., None], marginal


@dataclass(frozen=True, eq=False)
class MixtureProblem:
    """EM for a T-type Plackett-Luce mixture.

    Attributes:
        num_types: T.
        num_responses: K.
        data: fixed annotators (``AnnotatorBatch`` of numpy arrays), or None to draw annotators
            from ``utilities``/``log_weights`` (a known population) with ``judgements`` each of
            ``k`` shown responses.
        l2: weight of the mean squared reward (pins each type's free shift).
    """

    num_types: int
    num_responses: int
    data: Optional[AnnotatorBatch] = None
    utilities: Optional[np.ndarray] = None
    log_weights: Optional[np.ndarray] = None
    rationality: float = 1.0
    judgements: int = 1
    k: int = 2
    l2: float = 1e-4

    num_agents = 1

    def sample(self, key, batch_size: int) -> AnnotatorBatch:
        if self.data is not None:
            data = jax.tree.map(jnp.asarray, self.data)
            if batch_size == len(self.data.weight):
                return data
            index = jax.random.randint(key, (batch_size,), 0, len(self.data.weight))
            return jax.tree.map(lambda x: x[index], data)
        k_type, k_shown, k_judge = jax.random.split(key, 3)
        n = batch_size * self.judgements
        types = jnp.repeat(jax.random.categorical(k_type, jnp.asarray(self.log_weights, jnp.float32),
                                                  shape=(batch_size,)), self.judgements)
        shown = _shown(k_shown, n, self.num_responses, self.k)
        rankings = _judge(k_judge, jnp.asarray(self.utilities, jnp.float32), types, shown, self.rationality)
        return AnnotatorBatch(rankings.reshape(batch_size, self.judgements, self.k),
                              jnp.ones((batch_size, self.judgements), bool), jnp.ones(batch_size))

    def loss_terms(self, outcome_fn, batch: AnnotatorBatch, solution) -> Terms:
        rewards, log_weights = outcome_fn(batch)
        joint = log_weights[None] + annotator_loglik(rewards, batch)  # [b, R, T]
        expected = jnp.sum(jax.lax.stop_gradient(solution) * joint, -1)  # E-step posterior fixed
        w = batch.weight[:, None]
        count = jnp.maximum(jnp.sum(batch.weight), 1.0)
        objective = -jnp.sum(w * expected) / count + self.l2 * jnp.sum(jnp.mean(rewards ** 2, -1))
        marginal = jnp.sum(w * jax.nn.logsumexp(joint, -1), 0) / count  # [R]
        return Terms(objective, jnp.zeros(1), {"loglik": jnp.max(marginal)})


@dataclass(frozen=True)
class EStep:
    """The E-step as inner solver: each annotator's posterior over types (``hard``: its argmax)."""

    hard: bool = False

    def init(self, key, data):
        return ()

    def solve(self, outcome_fn, batch, carry, key, index):
        rewards, log_weights = outcome_fn(batch)
        logp, _ = posterior(rewards, log_weights, batch)
        resp = jax.nn.one_hot(jnp.argmax(logp, -1), logp.shape[-1]) if self.hard else jnp.exp(logp)
        return jax.lax.stop_gradient(resp), carry


class TypeRewards(NamedTuple):
    rewards: jax.Array  # [b, T, K] (the same table in every row)
    reference: jax.Array  # [b, K]


@dataclass(frozen=True, eq=False)
class PolicyProblem:
    """A policy ``pi`` scored by ``E_pi[r_t] - beta KL(pi || reference)`` for each type t.

    ``principle="utilitarian"``: maximise the ``weights``-average; ``"egalitarian"``: maximise the
    minimum over types, with the inner solver :class:`WorstType` supplying the weights on types.
    """

    rewards: np.ndarray  # [T, K]
    reference: np.ndarray  # [K]
    beta: float
    weights: np.ndarray  # [T]
    principle: str = "egalitarian"

    num_agents = 1

    def sample(self, key, batch_size: int) -> TypeRewards:
        r = jnp.asarray(self.rewards, jnp.float32)
        ref = jnp.asarray(self.reference, jnp.float32)
        return TypeRewards(jnp.broadcast_to(r, (batch_size,) + r.shape), jnp.broadcast_to(ref, (batch_size,) + ref.shape))

    def values(self, policy, batch: TypeRewards):
        kl = jnp.sum(policy * (jnp.log(policy + 1e-12) - jnp.log(batch.reference[0])))
        return batch.rewards[0] @ policy - self.beta * kl  # [T]

    def loss_terms(self, outcome_fn, batch: TypeRewards, solution) -> Terms:
        policy = outcome_fn(batch)
        values = self.values(policy, batch)
        lam = jnp.asarray(self.weights, jnp.float32) if solution is None else solution
        objective = -jnp.sum(lam * values)
        return Terms(objective, jnp.zeros(1), {"worst_type_value": jnp.min(values),
                                               "average_value": jnp.asarray(self.weights, jnp.float32) @ values})


@dataclass(frozen=True)
class WorstType:
    """Inner solver of egalitarian alignment: the adversary's weights ``lambda`` over types.

    ``max_pi min_t V_t(pi) = min_lambda max_pi sum_t lambda_t V_t(pi)`` and the inner max is
    ``pi_lambda ∝ reference exp(lambda.r / beta)``; each outer step the solver takes ``steps``
    exponentiated-gradient steps on that dual (gradient: each type's expected reward under
    ``pi_lambda``), warm-started from the previous ``lambda`` (the carry), so ``lambda`` moves
    weight onto the worst-off types. The policy then ascends ``sum_t lambda_t V_t``; at the fixed
    point it is the max-min policy and ``lambda`` the worst-type weights.
    """

    num_types: int
    beta: float
    lr: float = 0.5
    steps: int = 5

    def init(self, key, data):
        return jnp.full((self.num_types,), 1.0 / self.num_types), jnp.zeros((), jnp.float32)

    def solve(self, outcome_fn, batch, carry, key, index):
        rewards, log_ref = batch.rewards[0], jnp.log(batch.reference[0])
        scale = jnp.maximum(jnp.max(jnp.abs(rewards)), 1e-6)
        rate = self.lr * jnp.minimum(1.0, self.beta / scale ** 2)  # the dual gradient is (Var/beta)-Lipschitz

        def step(i, state):
            lam, t = state
            grad = rewards @ jax.nn.softmax(log_ref + lam @ rewards / self.beta)
            lam = lam * jnp.exp(-rate * (grad - grad.max()) / jnp.sqrt(1.0 + t / 100.0))
            return jnp.maximum(lam / lam.sum(), 1e-30), t + 1.0

        lam, t = jax.lax.fori_loop(0, self.steps, step, carry)
        return jax.lax.stop_gradient(lam), (lam, t)
