"""Every classical rule agrees exactly with pref_voting on >= 10,000 random profiles.

Profiles come from five cultures with 1..12 voters (odd and even, so margins tie) and 1..5
candidates, some ballots with counts 2..3 (pref_voting ``rcounts``); ours are evaluated padded to
one shape (weight-0 voters, bottom-ranked padding candidates), pref_voting's on the real profile.
A smaller set has 7-8 candidates. Reference functions (pref_voting 1.18):

plurality, borda, copeland, minimax (maximin), beat_path (schulze), kemeny_young (kemeny),
instant_runoff, instant_runoff_put, instant_runoff_tb, ranked_pairs, ranked_pairs_tb, and
``Profile.condorcet_winner`` (condorcet).

pref_voting's ``ranked_pairs`` tries every tie-breaking order of equal margins, which explodes on
tie-heavy profiles; there we use its ``algorithm="from_stacks"`` (Zavist-Tideman stacks) and
count how many profiles each algorithm checked.
"""

import math
from collections import Counter

import jax
import numpy as np
import pytest

from mechjax.testing.voting import disagreements
from mechjax.voting import profiles as P
from mechjax.voting import rules as R

pv = pytest.importorskip("pref_voting", reason="pref_voting is not installed (pip install .[peers])")
from pref_voting.c1_methods import copeland  # noqa: E402
from pref_voting.iterative_methods import instant_runoff, instant_runoff_put, instant_runoff_tb  # noqa: E402
from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs, ranked_pairs_tb  # noqa: E402
from pref_voting.other_methods import kemeny_young  # noqa: E402
from pref_voting.profiles import Profile  # noqa: E402
from pref_voting.scoring_methods import borda, plurality  # noqa: E402

B, MAX_N, MAX_M = 256, 12, 5
BATCHES = 40  # 40 x 256 = 10,240 profiles per rule
RP_BASIC_LIMIT = 120  # tie-breaking orders pref_voting's basic ranked pairs may enumerate


def _condorcet(profile):
    cw = profile.condorcet_winner()
    return [] if cw is None else [cw]


def _tie_orders(profile):
    m = profile.num_cands
    strengths = [profile.margin(a, b) for a in range(m) for b in range(m)
                 if a != b and profile.margin(a, b) >= 0]
    return math.prod(math.factorial(c) for c in Counter(strengths).values())


RP_ALGORITHM = Counter()


def _rp_basic_feasible(profile):
    return profile.condorcet_winner() is not None or _tie_orders(profile) <= RP_BASIC_LIMIT


def _ranked_pairs(profile):
    if _rp_basic_feasible(profile):
        RP_ALGORITHM["basic"] += 1
        return ranked_pairs(profile)
    RP_ALGORITHM["from_stacks"] += 1
    return ranked_pairs(profile, algorithm="from_stacks")


REFERENCE = {
    "plurality": plurality, "borda": borda, "copeland": copeland, "maximin": minimax,
    "schulze": beat_path, "kemeny": kemeny_young, "instant_runoff": instant_runoff,
    "instant_runoff_put": instant_runoff_put, "instant_runoff_tb": instant_runoff_tb,
    "ranked_pairs": _ranked_pairs, "ranked_pairs_tb": ranked_pairs_tb, "condorcet": _condorcet,
}
assert set(REFERENCE) == set(R.RULES)

CULTURES = [
    lambda k, b, n, m: P.impartial_culture(k, b, n, m),
    lambda k, b, n, m: P.mallows(k, b, n, m, 0.7, central="random"),
    lambda k, b, n, m: P.urn(k, b, n, m, 0.3),
    lambda k, b, n, m: P.single_peaked(k, b, n, m, "walsh", axis="random"),
    lambda k, b, n, m: P.euclidean(k, b, n, m, dims=2),
]


def _batch(seed, max_n=MAX_N, max_m=MAX_M, batch=B):
    """One padded batch from culture ``seed % 5``; returns rankings, weights, real (n, m)."""
    full = np.asarray(CULTURES[seed % len(CULTURES)](jax.random.key(seed), batch, max_n, max_m).rankings)
    rng = np.random.default_rng(seed)  # sizes and counts on the host: no extra compilations
    n = rng.integers(1, max_n + 1, batch)
    m = rng.integers(1, max_m + 1, batch) if max_m == MAX_M else np.full(batch, max_m)
    # keep the culture's order of the first m candidates and move the others, ascending, below
    # them: for the real candidates this is the culture restricted to m candidates
    place = np.where(full < m[:, None, None], np.arange(max_m), max_m + full)
    rankings = np.take_along_axis(full, np.argsort(place, -1), -1).astype(np.int32)
    counts = rng.integers(1, 4, (batch, max_n))
    counts = np.where((np.arange(batch) % 4 == 0)[:, None], counts, 1)
    weights = np.where(np.arange(max_n) < n[:, None], counts, 0).astype(np.int32)
    return rankings, weights, n, m


def _reference(name):
    def winners(ballots, counts, m):
        live = counts > 0
        return REFERENCE[name](Profile(ballots[live][:, :m].tolist(), rcounts=counts[live].tolist()))
    return winners


def _check(name, rankings, weights, m):
    ref = _reference(name)
    # pref_voting sees only the real candidates: the padding ones are always at the bottom
    bad = []
    ours_pad = np.asarray(R.RULES[name](rankings, weights))
    assert not (ours_pad & (np.arange(rankings.shape[-1]) >= m[:, None])).any(), f"{name}: padding won"
    for b in range(rankings.shape[0]):
        theirs = np.zeros(rankings.shape[-1], bool)
        theirs[list(ref(rankings[b], weights[b], m[b]))] = True
        if not (theirs == ours_pad[b]).all():
            bad.append((b, rankings[b][weights[b] > 0, : m[b]].tolist(), weights[b][weights[b] > 0].tolist(),
                        np.nonzero(ours_pad[b])[0].tolist(), np.nonzero(theirs)[0].tolist()))
    return bad


@pytest.fixture(scope="module")
def bulk():
    return [_batch(seed) for seed in range(BATCHES)]


@pytest.mark.peers
@pytest.mark.parametrize("name", sorted(R.RULES))
def test_agrees_with_pref_voting_bulk(name, bulk):
    checked, bad = 0, []
    parity = Counter()
    for rankings, weights, n, m in bulk:
        bad += _check(name, rankings, weights, m)
        checked += len(rankings)
        parity.update((weights.sum(-1) % 2).tolist())
    print(f"\n{name}: {checked - len(bad)}/{checked} agree (odd/even voter totals: {parity[1]}/{parity[0]})"
          + (f" ranked_pairs algorithms: {dict(RP_ALGORITHM)}" if name == "ranked_pairs" else ""))
    assert checked >= 10_000 and parity[0] > 1000 and parity[1] > 1000
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"


@pytest.mark.peers
@pytest.mark.parametrize("name", sorted(R.RULES))
def test_agrees_with_pref_voting_many_candidates(name):
    # 7 and 8 candidates; pref_voting's Kemeny enumerates m! rankings in Python, so few profiles
    sizes = {"kemeny": 6, "ranked_pairs": 16}.get(name, 48)
    checked, bad = 0, []
    for m_real, seed in ((7, 100), (8, 101)):
        rankings, weights, n, m = _batch(seed, max_n=9, max_m=8, batch=48)
        m = np.full_like(m, m_real)
        if m_real == 7:  # drop candidate 7 to the bottom of every ballot
            flat = rankings.reshape(-1, 8)
            rankings = np.stack([np.concatenate([r[r != 7], [7]]) for r in flat]).reshape(rankings.shape)
        sel = np.arange(sizes)
        if name == "ranked_pairs":  # from_stacks is far too slow at 7-8 candidates: basic only
            live = [Profile(rankings[b][weights[b] > 0][:, :m_real].tolist(),
                            rcounts=weights[b][weights[b] > 0].tolist()) for b in range(len(rankings))]
            sel = np.array([b for b, p in enumerate(live) if _rp_basic_feasible(p)][:sizes])
        bad += _check(name, rankings[sel].astype(np.int32), weights[sel], m[sel])
        checked += len(sel)
    print(f"\n{name}: {checked - len(bad)}/{checked} agree at 7-8 candidates")
    assert not bad, f"{len(bad)} disagreements, first: {bad[:3]}"


@pytest.mark.peers
def test_unweighted_native_shapes():
    # the weights=None code path (same profiles as test_voting_rules, so compilations are shared)
    n, m = 7, 4
    rankings = np.asarray(P.impartial_culture(jax.random.key(1), B, n, m).rankings)
    for name in R.RULES:
        bad = disagreements(R.RULES[name], lambda ballots, counts: _reference(name)(ballots, counts, m),
                            rankings)
        assert not bad, f"{name} n={n}: {bad[:3]}"
