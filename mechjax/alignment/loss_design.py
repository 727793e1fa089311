"""Loss design is rule design: three trainable objectives on the tournament of responses, audited
with the voting module.

The tournament ``P [K, K]`` holds the share of annotators preferring ``i`` to ``j``. Each loss turns
it into response scores ``s [K]`` (the reward model), fitted by the shared trainer:

* ``btl``: ``-sum_{i != j} P_ij log sigmoid(s_i - s_j)``. Its optimum orders responses by Borda score
  (``social_choice``), so its top can miss a Condorcet winner (the 60/40 example).
* ``soft_copeland``: the same BTL loss on the tempered majority tournament
  ``M_ij = sigmoid((P_ij - 1/2) / tau)``. By the same first-order argument its optimum orders
  responses by ``sum_j M_ij``, a soft Copeland score: Borda-like for large ``tau`` (``M`` is then
  affine in ``P``), Copeland as ``tau -> 0`` (``M`` is then the majority relation), and Copeland
  elects the Condorcet winner whenever there is one.
* ``soft_kemeny``: ``-sum_{i != j} P_ij sigmoid((z_i - z_j) / tau)`` with ``z`` the standardised
  scores: the expected pairwise agreement of a soft ranking. As ``tau -> 0`` it is the Kemeny score
  of the order of ``s`` (whose top is the Condorcet winner when one exists); for large ``tau`` it is
  linear in ``z`` and again Borda-like. It is not convex: each temperature starts from the previous
  (larger) temperature's fit, the largest from the BTL fit, with random restarts beside it, and the
  candidate with the highest objective (the untrained warm start included) is kept.

Audits: :func:`learned_rule` wraps the fitted scores as a voting rule, so
``mechjax.voting.axioms.condorcet_consistency`` audits it on the profiles it was fitted to;
:func:`majority_criterion` audits the majority criterion the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np

from mechjax.alignment.fit import train_once
from mechjax.core.types import NoInner, Terms
from mechjax.errors import ConfigError
from mechjax.voting.axioms import AxiomResult, evaluate, winner_sets

LOSSES = ("btl", "soft_copeland", "soft_kemeny")


class Tournaments(NamedTuple):
    probs: jax.Array  # [P, K, K] share preferring i to j
    mask: jax.Array  # [P, K] real responses


@dataclass(frozen=True, eq=False)
class TournamentLossProblem:
    """One of :data:`LOSSES` on P tournaments at once (padded to K responses by ``mask``).

    Attributes:
        probs: ``[P, K, K]``.
        mask: ``bool [P, K]``.
        loss: ``btl``, ``soft_copeland`` or ``soft_kemeny``.
        temperature: ``tau`` of the soft losses (> 0).
        l2: weight of the mean squared score (pins the free shift of the BTL forms).
    """

    probs: np.ndarray
    mask: np.ndarray
    loss: str = "btl"
    temperature: float = 1.0
    l2: float = 1e-6

    num_agents = 1

    def sample(self, key, batch_size: int) -> Tournaments:
        return Tournaments(jnp.asarray(self.probs, jnp.float32), jnp.asarray(self.mask))

    def loss_terms(self, outcome_fn, batch: Tournaments, solution) -> Terms:
        s = outcome_fn(batch)
        objective = tournament_loss(s, batch.probs, batch.mask, self.loss, self.temperature)
        penalty = self.l2 * jnp.sum(jnp.where(batch.mask, s, 0.0) ** 2, -1)
        return Terms(jnp.mean(objective + penalty), jnp.zeros(1), {"loss": jnp.mean(objective)})


def _pairs(mask):
    k = mask.shape[-1]
    return mask[..., :, None] & mask[..., None, :] & ~jnp.eye(k, dtype=bool)[None]


def tournament_loss(scores, probs, mask, loss: str, temperature: float):
    """``[P]``: each tournament's loss of ``scores [P, K]`` (mean over its real ordered pairs)."""
    pair = _pairs(mask)
    count = jnp.maximum(pair.sum((-2, -1)), 1)
    diff = scores[..., :, None] - scores[..., None, :]
    if loss == "soft_kemeny":
        n = jnp.maximum(mask.sum(-1, keepdims=True), 1)
        mean = jnp.sum(jnp.where(mask, scores, 0.0), -1, keepdims=True) / n
        std = jnp.sqrt(jnp.sum(jnp.where(mask, (scores - mean) ** 2, 0.0), -1, keepdims=True) / n + 1e-12)
        z = diff / std[..., None]
        return -jnp.sum(jnp.where(pair, probs * jax.nn.sigmoid(z / temperature), 0.0), (-2, -1)) / count
    target = probs if loss == "btl" else jax.nn.sigmoid((probs - 0.5) / temperature)
    return -jnp.sum(jnp.where(pair, target * jax.nn.log_sigmoid(diff), 0.0), (-2, -1)) / count


class ScoreTable(nnx.Module):
    """``module(batch) -> scores [P, K]`` starting from ``init [P, K]``."""

    def __init__(self, init, *, rngs: nnx.Rngs):
        self.scores = nnx.Param(jnp.asarray(init, jnp.float32))

    def __call__(self, batch=None, training: bool = False) -> jax.Array:
        return self.scores.value


def _pad_rows(x, size):
    return np.concatenate([x, np.repeat(x[:1], size - len(x), 0)]) if size > len(x) else x


def _train(probs, mask, loss, temperature, init, steps, lr):
    p = len(probs)
    size = -(-p // jax.device_count()) * jax.device_count()
    problem = TournamentLossProblem(_pad_rows(probs, size).astype(np.float32), _pad_rows(mask, size), loss,
                                    float(temperature))
    trainer, state = train_once(problem, lambda rngs: ScoreTable(_pad_rows(init, size), rngs=rngs), NoInner(), steps,
                                size, lr)
    s = np.asarray(trainer.outcome_fn(jax.tree.map(lambda x: x[0], state.params))(None))[:p]
    return np.where(mask, s, -np.inf)


def fit_tournament_scores(probs, mask, loss: str = "btl", temperatures=(1.0,), *, steps: int = 1500,
                          lr: float = 0.05, restarts: int = 4, seed: int = 0) -> np.ndarray:
    """Scores of P tournaments under one loss at each temperature.

    Args:
        probs: ``[P, K, K]`` share preferring ``i`` to ``j`` (``P_ij + P_ji = 1``).
        mask: ``bool [P, K]`` real responses.
        loss: one of :data:`LOSSES`.
        temperatures: ``tau`` values (positive; ignored by ``btl``), fitted in the given order
            (``soft_kemeny`` warm-starts each from the previous one: give them decreasing).
        steps, lr: Adam steps (full batch, cosine decay) and rate per temperature.
        restarts: ``soft_kemeny`` random restarts beside the warm start.

    Returns:
        ``scores [len(temperatures), P, K]`` (``-inf`` on padding).
    """
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {loss!r}")
    temperatures = tuple(float(t) for t in temperatures)
    if not temperatures or min(temperatures) <= 0:
        raise ConfigError(f"temperatures must be positive, got {temperatures}")
    probs, mask = np.asarray(probs, np.float64), np.asarray(mask, bool)
    if probs.ndim != 3 or probs.shape[1:] != (mask.shape[1],) * 2 or mask.shape[0] != probs.shape[0]:
        raise ConfigError(f"probs must be [P, K, K] and mask [P, K], got {probs.shape} and {mask.shape}")
    zeros = np.zeros(mask.shape)
    if loss != "soft_kemeny":
        return np.stack([_train(probs, mask, loss, t, zeros, steps, lr) for t in temperatures])
    rng = np.random.default_rng(seed)
    start = np.where(mask, _train(probs, mask, "btl", 1.0, zeros, steps, lr), 0.0)
    out = []
    for t in temperatures:
        inits = [start] + [rng.normal(size=mask.shape) for _ in range(restarts)]
        fits = _train(np.concatenate([probs] * len(inits)), np.concatenate([mask] * len(inits)), loss, t,
                      np.concatenate(inits), steps, lr).reshape((len(inits),) + mask.shape)
        # the warm start itself stays a candidate: at a small temperature Adam's normalised steps
        # can move scores along an almost flat objective, so training is never allowed to lose ground
        fits = np.concatenate([np.where(mask, start, -np.inf)[None], fits])
        value = np.stack([np.asarray(tournament_loss(jnp.asarray(np.where(mask, f, 0.0)), jnp.asarray(probs),
                                                     jnp.asarray(mask), loss, t)) for f in fits])
        best = fits[np.argmin(value, 0), np.arange(len(probs))]
        out.append(best)
        start = np.where(mask, best, 0.0)
    return np.stack(out)


# ----------------------------------------------------------------------------- profiles and audits


def profile_tournaments(rankings, weights=None) -> np.ndarray:
    """``[B, m, m]`` share of the (weighted) voters ranking ``x`` above ``y`` (voting conventions)."""
    from mechjax.voting.profiles import pairwise_support, voter_weights

    support = np.asarray(pairwise_support(rankings, weights), np.float64)
    total = np.asarray(voter_weights(rankings, weights), np.float64).sum(-1)
    return support / total[:, None, None]


class LearnedRule:
    """A voting rule that answers with the top response of fitted scores, looked up by profile.

    ``rule(rankings, weights=None) -> bool [batch, m]`` for profiles it was fitted on (the audits
    call it on chunks, padded by repetition); an unknown profile raises ``KeyError``.
    """

    def __init__(self, rankings, weights, scores):
        rankings = np.asarray(rankings)
        weights = np.ones(rankings.shape[:2], np.int64) if weights is None else np.asarray(weights)
        self._table = {}
        for r, w, s in zip(rankings, weights, np.asarray(scores)):
            m = r.shape[-1]
            self._table[self._key(r, w)] = np.asarray(s[:m]) >= np.max(s[:m])

    @staticmethod
    def _key(r, w):
        return np.asarray(r, np.int64).tobytes() + b"|" + np.asarray(w, np.int64).tobytes()

    def __call__(self, rankings, weights=None):
        rankings = np.asarray(rankings)
        weights = np.ones(rankings.shape[:2], np.int64) if weights is None else np.asarray(weights)
        return np.stack([self._table[self._key(r, w)] for r, w in zip(rankings, weights)])


def learned_rule(rankings, weights, scores) -> LearnedRule:
    """``rankings [B, n, m]``, ``weights [B, n]`` or None, ``scores [B, >= m]`` -> a rule for the audits."""
    return LearnedRule(rankings, weights, scores)


def majority_winner(rankings, weights=None) -> np.ndarray:
    """``bool [B, m]``: the response ranked first by more than half the (weighted) voters, if any."""
    rankings = np.asarray(rankings)
    w = np.ones(rankings.shape[:2]) if weights is None else np.asarray(weights, np.float64)
    first = np.zeros((rankings.shape[0], rankings.shape[2]))
    np.add.at(first, (np.repeat(np.arange(rankings.shape[0]), rankings.shape[1]), rankings[:, :, 0].ravel()),
              w.ravel())
    return 2 * first > w.sum(-1, keepdims=True)


def majority_criterion(rule, rankings, weights=None, chunk_size: int = 4096) -> AxiomResult:
    """Applicable iff some response is ranked first by a strict majority; satisfied iff the winner
    set is exactly that response (the voting module's ``AxiomResult`` convention)."""
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    maj = majority_winner(rankings, weights)
    applicable = maj.any(-1)
    return AxiomResult(applicable, applicable & (base == maj).all(-1))


# ----------------------------------------------------------------------------- the study

SIXTY_FORTY = (np.array([[0, 1, 2], [1, 2, 0]], np.int32), np.array([60, 40], np.int32))  # A>B>C, B>C>A


def random_condorcet_profiles(seed: int, count: int, num_candidates: int, num_voters: int) -> tuple:
    """``count`` impartial-culture profiles that have a Condorcet winner (voting module), as
    ``(rankings [count, n, m], weights None)``."""
    from mechjax.voting.profiles import impartial_culture
    from mechjax.voting.rules import condorcet

    key = jax.random.fold_in(jax.random.key(seed), 1000 * num_candidates + num_voters)
    kept, draws = [], 0
    while sum(len(k) for k in kept) < count:
        if draws > 50:
            raise ConfigError(f"too few profiles with a Condorcet winner for m={num_candidates}, n={num_voters}")
        r = np.asarray(impartial_culture(jax.random.fold_in(key, draws), 4 * count, num_voters, num_candidates).rankings)
        kept.append(r[np.asarray(evaluate(condorcet, r)).any(-1)])
        draws += 1
    return np.concatenate(kept)[:count], None


def loss_design_study(seed: int = 0, count: int = 200, candidates=(3, 4, 5, 6), voters: int = 9,
                      temperatures=(1.0, 0.3, 0.1, 0.03, 0.01), steps: int = 1500) -> dict:
    """Each loss fitted on random profiles with a Condorcet winner (and the 60/40 profile), audited.

    Returns:
        ``{"rows": [{loss, temperature, condorcet: (satisfied, applicable), majority: (...),
        borda_top, copeland_top, kemeny_top, sixty_forty_top}], "profiles": ...}``.
    """
    from mechjax.voting.axioms import condorcet_consistency
    from mechjax.voting.rules import borda, copeland, kemeny

    groups = [random_condorcet_profiles(seed, count, m, voters)[0] for m in candidates]
    groups.append(np.broadcast_to(SIXTY_FORTY[0], (1,) + SIXTY_FORTY[0].shape).copy())
    group_weights = [None] * len(candidates) + [SIXTY_FORTY[1][None]]
    kmax = max(g.shape[-1] for g in groups)
    probs, mask = [], []
    for g, w in zip(groups, group_weights):
        t = profile_tournaments(g, w)
        m = g.shape[-1]
        padded = np.full((len(g), kmax, kmax), 0.5)
        padded[:, :m, :m] = t
        probs.append(padded)
        mask.append(np.broadcast_to(np.arange(kmax) < m, (len(g), kmax)))
    probs, mask = np.concatenate(probs), np.concatenate(mask)
    offsets = np.cumsum([0] + [len(g) for g in groups])
    reference = {name: [np.asarray(evaluate(rule, g, w)) for g, w in zip(groups, group_weights)]
                 for name, rule in (("borda", borda), ("copeland", copeland), ("kemeny", kemeny))}
    rows = []
    for loss in LOSSES:
        temps = (1.0,) if loss == "btl" else temperatures
        scores = fit_tournament_scores(probs, mask, loss, temps, steps=steps, seed=seed)
        for t, s in zip(temps, scores):
            row = {"loss": loss, "temperature": None if loss == "btl" else t}
            cond = maj = np.zeros(2, int)
            same = {name: 0 for name in reference}
            for i, (g, w) in enumerate(zip(groups, group_weights)):
                part = s[offsets[i]:offsets[i + 1]]
                rule = learned_rule(g, w, part)
                c, a = condorcet_consistency(rule, g, weights=w), majority_criterion(rule, g, w)
                if i < len(candidates):  # the random profiles; 60/40 is reported on its own
                    cond = cond + [int(c.satisfied.sum()), c.num_applicable]
                    maj = maj + [int(a.satisfied.sum()), a.num_applicable]
                    top = np.argmax(part[:, :g.shape[-1]], -1)
                    for name, winners in reference.items():
                        same[name] += int(winners[i][np.arange(len(g)), top].sum())
                else:
                    row["sixty_forty_top"] = "ABC"[int(np.argmax(part[0, :3]))]
            total = sum(len(g) for g in groups[:len(candidates)])
            row.update(condorcet=cond.tolist(), majority=maj.tolist(),
                       **{f"top_is_{name}_winner": same[name] / total for name in reference})
            rows.append(row)
    return {"rows": rows, "profiles": sum(len(g) for g in groups[:len(candidates)]), "voters": voters,
            "candidates": list(candidates)}
