"""Reusable property checks for voting rules.

Any ``rule: rankings [batch, voters, candidates] (, weights) -> winner mask or probabilities``
(a classical rule from ``mechjax.voting.rules`` or a trained network wrapped as a function) can be
checked here. The checks raise ``AssertionError`` naming what failed and on which profile, and
print nothing on success. Reference implementations (e.g. pref_voting) are passed in as plain
functions, so this module imports no peer library.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.voting import axioms
from mechjax.voting.profiles import margins

Rule = Callable[..., jax.Array]


def assert_valid_rankings(rankings) -> None:
    """``[batch, voters, candidates]`` integers, every row a permutation of ``0..m-1``."""
    r = np.asarray(rankings)
    assert r.ndim == 3, f"rankings must be 3-d, got shape {r.shape}"
    assert np.issubdtype(r.dtype, np.integer), f"rankings must be integers, got {r.dtype}"
    bad = ~(np.sort(r, -1) == np.arange(r.shape[-1])).all(-1)
    assert not bad.any(), f"row {np.argwhere(bad)[0].tolist()} is not a permutation: {r[tuple(np.argwhere(bad)[0])]}"


def assert_winner_masks(winners, batch: int, num_candidates: int, nonempty: bool = True) -> None:
    """A ``bool [batch, candidates]`` mask, with at least one winner per profile if ``nonempty``."""
    w = np.asarray(winners)
    assert w.shape == (batch, num_candidates), f"winners shape {w.shape} != {(batch, num_candidates)}"
    assert w.dtype == np.bool_, f"winners must be boolean, got {w.dtype}"
    if nonempty:
        empty = np.nonzero(~w.any(-1))[0]
        assert empty.size == 0, f"no winner in profiles {empty[:10].tolist()}"


def _assert_rate_one(result: axioms.AxiomResult, what: str) -> None:
    failed = np.nonzero(np.asarray(result.applicable) & ~np.asarray(result.satisfied))[0]
    assert failed.size == 0, f"{what} violated on profiles {failed[:10].tolist()} ({failed.size} in all)"


def assert_anonymous(rule: Rule, rankings, key, weights=None, num_samples: int = 8) -> None:
    """Winner sets are invariant under random voter permutations."""
    _assert_rate_one(axioms.anonymity(rule, rankings, key, weights, num_samples), "anonymity")


def assert_neutral(rule: Rule, rankings, key, weights=None, num_samples: int = 8) -> None:
    """Renaming candidates renames the winners accordingly."""
    _assert_rate_one(axioms.neutrality(rule, rankings, key, weights, num_samples), "neutrality")


def assert_condorcet_consistent(rule: Rule, rankings, weights=None) -> None:
    """Whenever a Condorcet winner exists it is the unique winner."""
    _assert_rate_one(axioms.condorcet_consistency(rule, rankings, weights=weights), "Condorcet")


def assert_pareto(rule: Rule, rankings, weights=None) -> None:
    """No unanimously dominated candidate wins."""
    _assert_rate_one(axioms.pareto(rule, rankings, weights=weights), "Pareto")


def assert_weights_equal_copies(rule: Rule, rankings, weights) -> None:
    """Casting a ballot with count ``w`` equals repeating its row ``w`` times (one profile at a time)."""
    rankings, weights = np.asarray(rankings), np.asarray(weights)
    compressed = np.asarray(rule(rankings, weights))
    for b in range(rankings.shape[0]):
        expanded = np.repeat(rankings[b], weights[b], axis=0)[None]
        got = np.asarray(rule(expanded))[0]
        assert (got == compressed[b]).all(), (
            f"profile {b}: weights give {compressed[b].astype(int)}, copies give {got.astype(int)}")


def padded_profiles(key, batch: int = 256, voters: int = 12, cands: int = 5):
    """Impartial-culture profiles of 1..``voters`` voters and 1..``cands`` candidates in one shape.

    Padding voters get weight 0; padding candidates sit, in index order, at the bottom of every
    ballot (they can never win and change nothing for the real candidates). A third of the
    profiles give their real ballots counts 1..3.

    Returns:
        ``(rankings [batch, voters, cands], weights [batch, voters], n [batch], m [batch])``.
    """
    k_n, k_m, k_r, k_w = jax.random.split(key, 4)
    n = np.asarray(jax.random.randint(k_n, (batch,), 1, voters + 1))
    m = np.asarray(jax.random.randint(k_m, (batch,), 1, cands + 1))
    noise = np.asarray(jax.random.uniform(k_r, (batch, voters, cands)))
    noise = np.where(np.arange(cands) < m[:, None, None], noise, 2.0 + np.arange(cands))
    rankings = np.argsort(noise, -1).astype(np.int32)
    counts = np.asarray(jax.random.randint(k_w, (batch, voters), 1, 4))
    counts = np.where(np.arange(batch)[:, None] % 3 == 0, counts, 1)
    weights = np.where(np.arange(voters) < n[:, None], counts, 0).astype(np.int32)
    return rankings, weights, n, m


def brute_force_kemeny(rankings, weights=None) -> np.ndarray:
    """Kemeny winners by enumerating all m! rankings (numpy; reference for small m)."""
    mg = np.asarray(margins(jnp.asarray(rankings), weights))
    m = mg.shape[-1]
    out = np.zeros(mg.shape[:2], bool)
    for b in range(mg.shape[0]):
        best, tops = None, set()
        for order in itertools.permutations(range(m)):
            score = sum(mg[b, order[i], order[j]] for i in range(m) for j in range(i + 1, m))
            if best is None or score > best:
                best, tops = score, {order[0]}
            elif score == best:
                tops.add(order[0])
        out[b, list(tops)] = True
    return out


def disagreements(rule: Rule, reference: Callable[[np.ndarray, np.ndarray], Iterable[int]],
                  rankings, weights=None) -> list:
    """Profiles where ``rule``'s winner set differs from ``reference(ballots, counts)``.

    Args:
        rule: the rule under test.
        reference: maps one profile's ``ballots [voters, m]`` and ``counts [voters]`` to its
            winners (any iterable of candidate indices).
        rankings: ``[batch, voters, candidates]``.
        weights: optional counts.

    Returns:
        ``[(index, ours, theirs), ...]`` for every disagreement.
    """
    rankings = np.asarray(rankings)
    counts = np.ones(rankings.shape[:2], int) if weights is None else np.asarray(weights)
    ours = np.asarray(rule(rankings) if weights is None else rule(rankings, weights))
    bad = []
    for b in range(rankings.shape[0]):
        theirs = np.zeros(rankings.shape[-1], bool)
        theirs[list(reference(rankings[b], counts[b]))] = True
        if not (theirs == ours[b]).all():
            bad.append((b, np.nonzero(ours[b])[0].tolist(), np.nonzero(theirs)[0].tolist()))
    return bad
