"""Axiom audits: how often a voting rule satisfies an axiom on sampled profiles.

A *rule* is any callable ``rule(rankings) -> outcome`` (or ``rule(rankings, weights)`` when
``weights`` are passed to the audit) whose outcome is either a ``bool [batch, candidates]`` winner
mask or ``float [batch, candidates]`` winner probabilities. Set-valued axioms read a probability
outcome as its set of modes (``p >= max p - atol``); participation reads a mask as the uniform
lottery over the winner set. Every audit returns an ``AxiomResult`` of per-profile
``applicable`` / ``satisfied`` flags; ``satisfaction = satisfied / applicable`` over the batch
(Hornischer and Terzopoulou 2025, Sec. 3.2). Sampled checks (anonymity, neutrality, monotonicity,
independence, participation) can only find violations, so their rates are upper bounds that
tighten with ``num_samples``.

With ``weights``, a row of ``rankings`` is a group of identical voters: permutations move the
row with its count, monotonicity lifts the candidate on the whole row, and participation removes
one voter from the row. Zero-weight rows (padding) are never chosen.

Audits are host-side evaluation, not traced code: perturbations are drawn with numpy from a
generator seeded by the JAX ``key`` (so results are reproducible from the key), and only the rule
runs in JAX, jitted, in chunks of ``chunk_size`` profiles.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import numpy as np
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from mechjax.errors import ConfigError
from mechjax.voting.rules import condorcet

AXIOMS = ("anonymity", "neutrality", "condorcet", "pareto", "monotonicity", "independence",
          "participation")


class AxiomResult(NamedTuple):
    """Per-profile outcome of one audit (numpy arrays).

    Attributes:
        applicable: ``[batch]`` the axiom applies to the profile.
        satisfied: ``[batch]`` it is satisfied (False where not applicable).
    """

    applicable: Bool[np.ndarray, " batch"]
    satisfied: Bool[np.ndarray, " batch"]

    @property
    def num_applicable(self) -> int:
        return int(np.asarray(self.applicable).sum())

    @property
    def rate(self) -> float:
        """Satisfied / applicable (NaN when never applicable)."""
        n = self.num_applicable
        return float(np.asarray(self.satisfied).sum() / n) if n else float("nan")


def winner_sets(outcome, atol: float = 1e-6) -> Bool[Array, "batch candidates"]:
    """A winner mask, or the modes of winner probabilities."""
    outcome = np.asarray(outcome)
    if outcome.dtype == np.bool_:
        return outcome
    return outcome >= outcome.max(-1, keepdims=True) - atol


def lotteries(outcome) -> Float[Array, "batch candidates"]:
    """Winner probabilities, or the uniform lottery over a winner mask (rows normalised)."""
    p = np.asarray(outcome).astype(np.float64)
    return p / np.maximum(p.sum(-1, keepdims=True), 1e-12)


def chunk_indices(total: int, size: int):
    """``(start, stop, index)`` chunks covering ``range(total)``, every ``index`` of one length (the
    last padded by repeating its final row); a total below ``size`` is padded to the next power of
    two only, so repeated calls with varying totals compile at most ``log2(size)`` shapes."""
    size = min(size, 1 << max(total - 1, 0).bit_length())
    for start in range(0, total, size):
        stop = min(start + size, total)
        yield start, stop, np.arange(start, start + size).clip(max=stop - 1)


def evaluate(rule: Callable, rankings, weights=None, chunk_size: int = 4096) -> np.ndarray:
    """``rule`` on a large batch in chunks of one size (bounded memory, few compilations).

    Batches smaller than ``chunk_size`` are padded (by repetition) to the next power of two, so
    repeated calls with varying sizes compile at most ``log2(chunk_size)`` shapes.
    """
    rankings = np.asarray(rankings)
    weights = None if weights is None else np.asarray(weights)
    outs = []
    for start, stop, idx in chunk_indices(rankings.shape[0], chunk_size):
        args = (rankings[idx],) if weights is None else (rankings[idx], weights[idx])
        outs.append(np.asarray(rule(*args))[: stop - start])
    return np.concatenate(outs)


def host_rng(key) -> np.random.Generator:
    """A numpy generator seeded by a JAX ``key``: host-side audits draw their perturbations from it."""
    return np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())


def _check_samples(name, value):
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"axioms.{name} must be an int >= 1, got {value!r}")


def _repeat(x, k):
    return None if x is None else np.repeat(x, k, axis=0)


def _weights(rankings, weights):
    return np.ones(rankings.shape[:2], np.int64) if weights is None else np.asarray(weights)


def _positions(rankings):
    return np.argsort(rankings, axis=-1)


def _random_perms(rng, shape):
    return np.argsort(rng.random(shape), axis=-1)


# ----------------------------------------------------------------------------- invariance

def anonymity(rule, rankings, key: PRNGKeyArray, weights=None, num_samples: int = 50,
              chunk_size: int = 4096) -> AxiomResult:
    """Always applicable; satisfied iff the winner set is unchanged under ``num_samples`` random
    permutations of the voters (rows move with their weights)."""
    _check_samples("num_samples", num_samples)
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    perm = _random_perms(host_rng(key), (b, num_samples, n))
    permuted = np.take_along_axis(rankings[:, None], perm[..., None], axis=2).reshape(-1, n, m)
    pw = None if weights is None else np.take_along_axis(np.asarray(weights)[:, None], perm, 2).reshape(-1, n)
    out = winner_sets(evaluate(rule, permuted, pw, chunk_size)).reshape(b, num_samples, m)
    return AxiomResult(np.ones(b, bool), (out == base[:, None]).all((-1, -2)))


def neutrality(rule, rankings, key: PRNGKeyArray, weights=None, num_samples: int = 50,
               chunk_size: int = 4096) -> AxiomResult:
    """Always applicable; satisfied iff renaming candidates by ``sigma`` renames the winners by
    ``sigma`` (``F(sigma P) = sigma F(P)``) for ``num_samples`` random ``sigma``."""
    _check_samples("num_samples", num_samples)
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    sigma = _random_perms(host_rng(key), (b, num_samples, m))  # candidate c is renamed sigma[c]
    renamed = np.take_along_axis(sigma[:, :, None, :], rankings[:, None], axis=-1).reshape(-1, n, m)
    out = winner_sets(evaluate(rule, renamed.astype(rankings.dtype), _repeat(weights, num_samples),
                               chunk_size)).reshape(b, num_samples, m)
    expected = np.take_along_axis(out, sigma, axis=-1)  # out[sigma[c]] must equal base[c]
    return AxiomResult(np.ones(b, bool), (expected == base[:, None]).all((-1, -2)))


# ----------------------------------------------------------------------------- majority axioms

def condorcet_consistency(rule, rankings, key=None, weights=None, chunk_size: int = 4096) -> AxiomResult:
    """Applicable iff a Condorcet winner ``x`` exists (strict majority over every other candidate;
    with one candidate it is that candidate); satisfied iff the winner set is exactly ``{x}``."""
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    cw = evaluate(condorcet, rankings, weights, chunk_size)
    applicable = cw.any(-1)
    return AxiomResult(applicable, applicable & (base == cw).all(-1))


def pareto(rule, rankings, key=None, weights=None, chunk_size: int = 4096) -> AxiomResult:
    """Applicable iff some ``y`` is Pareto-dominated (some ``x`` is ranked above ``y`` by every
    voter with positive weight); satisfied iff no dominated candidate is a winner."""
    rankings = np.asarray(rankings)
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    pos = _positions(rankings)
    voting = _weights(rankings, weights) > 0
    above = pos[..., :, None] < pos[..., None, :]  # [b, n, x, y]
    unanimous = (above | ~voting[..., None, None]).all(1)
    dominated = unanimous.any(-2)  # some x above y on every ballot that counts
    applicable = dominated.any(-1)
    return AxiomResult(applicable, applicable & ~(base & dominated).any(-1))


# ----------------------------------------------------------------------------- perturbations

def _lift(rankings, voter, cand, steps):
    """Moves ``cand`` up ``steps`` places on ballot ``voter`` of each profile; others keep order."""
    b, n, m = rankings.shape
    rows = np.arange(b)
    ballot = rankings[rows, voter]
    p = np.argmax(ballot == cand[:, None], -1)[:, None]
    q = np.arange(m)[None]
    target = p - steps[:, None]
    prev = np.concatenate([ballot[:, :1], ballot[:, :-1]], axis=-1)
    moved = np.where((q < target) | (q > p), ballot, np.where(q == target, cand[:, None], prev))
    out = rankings.copy()
    out[rows, voter] = moved
    return out


def monotonicity(rule, rankings, key: PRNGKeyArray, weights=None, num_samples: int = 20,
                 chunk_size: int = 4096) -> AxiomResult:
    """Applicable iff some winner ``x`` is not ranked first by some voter; each of ``num_samples``
    tries draws such a (winner, voter) pair uniformly and lifts ``x`` by a uniform number of places
    (1 .. its position) on that ballot, keeping the others' order. Satisfied iff ``x`` stays a winner
    in every try (the set-valued reading: improving a winner never removes it)."""
    _check_samples("num_samples", num_samples)
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    rng = host_rng(key)
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    pos = _positions(rankings)
    valid = (base[:, None, :] & (pos > 0) & (_weights(rankings, weights) > 0)[..., None]).reshape(b, n * m)
    applicable = valid.any(-1)
    # uniform choice among valid (voter, candidate) cells: the largest random key wins
    keys = np.where(valid[:, None], rng.random((b, num_samples, n * m)), -1.0)
    pick = keys.argmax(-1).reshape(-1)
    voter, cand = pick // m, pick % m
    depth = np.maximum(pos.reshape(b, n * m)[np.repeat(np.arange(b), num_samples), pick], 1)
    steps = 1 + np.floor(rng.random(depth.shape) * depth).astype(int)
    lifted = _lift(np.repeat(rankings, num_samples, 0), voter, cand, np.minimum(steps, depth))
    out = winner_sets(evaluate(rule, lifted, _repeat(weights, num_samples), chunk_size))
    kept = out[np.arange(cand.size), cand].reshape(b, num_samples)
    return AxiomResult(applicable, applicable & kept.all(-1))


def independence(rule, rankings, key: PRNGKeyArray, weights=None, samples_per_pair: int = 256,
                 chunk_size: int = 4096) -> AxiomResult:
    """Independence of irrelevant alternatives, as in Hornischer and Terzopoulou (2025).

    Applicable iff some candidate wins and some loses. For every winner ``x`` and loser ``y`` we
    draw ``samples_per_pair`` profiles in which every ballot is replaced by a uniformly random
    ranking keeping that voter's relative order of ``x`` and ``y``; satisfied iff ``y`` wins in none.
    """
    _check_samples("samples_per_pair", samples_per_pair)
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    rng = host_rng(key)
    base = winner_sets(evaluate(rule, rankings, weights, chunk_size))
    applicable = (~base).any(-1) & base.any(-1)
    violated = np.zeros(b, bool)
    if m < 2:
        return AxiomResult(applicable, applicable)
    pos = _positions(rankings)
    k = samples_per_pair
    pending, owners, pair_losers = [], [], []

    def flush():
        resampled = np.concatenate([p for p, _ in pending])
        w = None if weights is None else np.concatenate([pw for _, pw in pending])
        out = winner_sets(evaluate(rule, resampled, w, chunk_size)).reshape(-1, k, m)
        losers_win = out[np.arange(len(out)), :, np.concatenate(pair_losers)].any(-1)
        np.logical_or.at(violated, np.concatenate(owners), losers_win)
        pending.clear(), owners.clear(), pair_losers.clear()

    for b0 in np.nonzero(applicable)[0]:  # only the relevant (winner, loser) pairs are resampled
        xs, ys = np.nonzero(base[b0][:, None] & ~base[b0][None, :])
        fresh = _random_perms(rng, (xs.size, k, n, m))
        fx, fy = xs[:, None, None, None], ys[:, None, None, None]
        fresh_x_above = np.argmax(fresh == fx, -1) < np.argmax(fresh == fy, -1)  # [p, k, n]
        x_above = (pos[b0][:, xs] < pos[b0][:, ys]).T[:, None, :]  # [p, 1, n]
        swapped = np.where(fresh == fx, fy, np.where(fresh == fy, fx, fresh))
        resampled = np.where((fresh_x_above != x_above)[..., None], swapped, fresh)
        w = None if weights is None else np.repeat(np.asarray(weights)[b0][None], xs.size * k, 0)
        pending.append((resampled.reshape(-1, n, m).astype(rankings.dtype), w))
        owners.append(np.full(xs.size, b0))
        pair_losers.append(ys)
        if sum(len(o) for o in owners) * k >= chunk_size:
            flush()
    if pending:
        flush()
    return AxiomResult(applicable, applicable & ~violated)


def participation(rule, rankings, key=None, weights=None, utilities=None,
                  num_samples: int | None = None, atol: float = 1e-6,
                  chunk_size: int = 4096) -> AxiomResult:
    """No-show paradox check: applicable iff there are at least two voters.

    For each voter (or ``num_samples`` voters drawn with replacement), that voter abstains; the
    axiom is violated if the abstainer's expected utility of the outcome lottery strictly rises
    (by more than ``atol``). Masks are read as uniform lotteries over the winner set, i.e. uniform
    random tie-breaking; utilities default to the voter's Borda utilities ``(m-1-rank)/(m-1)``.
    Without ``weights`` the voter's row is deleted; with ``weights`` one unit of its count is.
    """
    rankings = np.asarray(rankings)
    b, n, m = rankings.shape
    util = (m - 1 - _positions(rankings)) / max(m - 1, 1) if utilities is None else np.asarray(utilities)
    w = _weights(rankings, weights)
    base = lotteries(evaluate(rule, rankings, weights, chunk_size))
    if num_samples is None:
        voters = np.broadcast_to(np.arange(n), (b, n))
    else:
        _check_samples("num_samples", num_samples)
        keys = np.where(w[:, None, :] > 0, host_rng(key).random((b, num_samples, n)), -1.0)
        voters = keys.argmax(-1)
    s = voters.shape[1]
    applicable = w.sum(-1) >= 2
    # a voter can only abstain from a row that has one, and not when it is the last voter
    active = (np.take_along_axis(w, voters, 1) > 0) & applicable[:, None]
    if weights is None:
        if n == 1:
            return AxiomResult(applicable, applicable)
        keep = np.array([[j for j in range(n) if j != i] for i in range(n)])
        reduced = np.take_along_axis(rankings[:, None], keep[voters][..., None], 2).reshape(-1, n - 1, m)
        after = lotteries(evaluate(rule, reduced, None, chunk_size))
    else:
        leave = (voters[..., None] == np.arange(n)) & active[..., None]
        reduced_w = (w[:, None] - leave).reshape(-1, n).astype(np.asarray(weights).dtype)
        after = lotteries(evaluate(rule, np.repeat(rankings, s, 0), reduced_w, chunk_size))
    gain = ((after.reshape(b, s, m) - base[:, None]) * np.take_along_axis(util, voters[..., None], 1)).sum(-1)
    return AxiomResult(applicable, applicable & ~(active & (gain > atol)).any(-1))


_AUDITS = {"anonymity": anonymity, "neutrality": neutrality, "condorcet": condorcet_consistency,
           "pareto": pareto, "monotonicity": monotonicity, "independence": independence,
           "participation": participation}


def audit(rule, rankings, key: PRNGKeyArray, weights=None, axioms=AXIOMS, **options) -> dict:
    """Runs several audits with independent keys; ``options[name]`` holds keyword arguments."""
    unknown = [a for a in axioms if a not in _AUDITS]
    if unknown:
        raise ConfigError(f"axioms must be among {AXIOMS}, got {unknown}")
    keys = jax.random.split(key, len(axioms))
    return {a: _AUDITS[a](rule, rankings, k, weights=weights, **options.get(a, {}))
            for a, k in zip(axioms, keys)}
