"""Loss design is rule design: BTL orders by Borda, soft Copeland by soft Copeland scores (Copeland
as the temperature falls), soft Kemeny is the Kemeny agreement at low temperature; audited with the
voting module (Condorcet consistency, majority criterion), BTL showing its 60/40 failure."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.alignment import loss_design as ld
from mechjax.alignment.social_choice import borda_scores
from mechjax.errors import ConfigError
from mechjax.voting.axioms import condorcet_consistency
from mechjax.voting.profiles import impartial_culture
from mechjax.voting.rules import borda


def _profiles(seed, count, m, n):
    return np.asarray(impartial_culture(jax.random.key(seed), count, n, m).rankings)


def _ordered_alike(scores, reference, gap=1e-3):
    d_ref = reference[:, None] - reference[None, :]
    d = scores[:, None] - scores[None, :]
    return bool(((d_ref > gap) <= (d > 0)).all())


def test_btl_orders_by_borda_and_soft_copeland_by_soft_copeland_scores():
    rankings = _profiles(0, 24, 5, 7)
    probs = ld.profile_tournaments(rankings)
    mask = np.ones((24, 5), bool)
    tau = 0.1
    btl = ld.fit_tournament_scores(probs, mask, "btl", steps=800)[0]
    soft = ld.fit_tournament_scores(probs, mask, "soft_copeland", (tau,), steps=800)[0]
    off = ~np.eye(5, dtype=bool)
    for p, b, s in zip(probs, btl, soft):
        assert _ordered_alike(b, borda_scores(p))
        copeland_scores = np.where(off, 1 / (1 + np.exp(-(p - 0.5) / tau)), 0).sum(-1)
        assert _ordered_alike(s, copeland_scores)


def test_soft_kemeny_at_low_temperature_is_the_kemeny_agreement():
    rng = np.random.default_rng(1)
    for _ in range(10):
        probs = ld.profile_tournaments(_profiles(int(rng.integers(1 << 30)), 1, 4, 5))[0]
        best = -1.0
        for order in itertools.permutations(range(4)):
            scores = np.empty(4)
            scores[list(order)] = -np.arange(4.0)  # order[0] on top
            agreement = sum(probs[order[a], order[b]] for a in range(4) for b in range(a + 1, 4))
            loss = ld.tournament_loss(jnp.asarray(scores[None]), jnp.asarray(probs[None]), jnp.ones((1, 4), bool),
                                      "soft_kemeny", 1e-3)
            assert abs(float(loss[0]) + agreement / 12) < 1e-5
            best = max(best, agreement)
        assert best >= 3  # some order agrees with at least half of every pair's voters


def test_learned_rules_pass_the_voting_audits_where_btl_fails():
    out = ld.loss_design_study(seed=2, count=12, candidates=(3, 4), voters=9, temperatures=(0.3, 0.03), steps=400)
    rows = {(r["loss"], r["temperature"]): r for r in out["rows"]}
    assert out["profiles"] == 24
    for key in (("soft_copeland", 0.03), ("soft_kemeny", 0.03)):
        satisfied, applicable = rows[key]["condorcet"]
        assert applicable == 24 and satisfied == 24  # every profile has a Condorcet winner, elected
        assert rows[key]["top_is_kemeny_winner"] == 1.0 and rows[key]["sixty_forty_top"] == "A"
        assert rows[key]["majority"][0] == rows[key]["majority"][1]
    assert rows[("btl", None)]["sixty_forty_top"] == "B"  # Borda's answer: A is the Condorcet winner
    assert rows[("btl", None)]["top_is_borda_winner"] == 1.0


def test_sixty_forty_audit_of_btl_fails_condorcet():
    rankings, weights = ld.SIXTY_FORTY[0][None], ld.SIXTY_FORTY[1][None]
    probs = ld.profile_tournaments(rankings, weights)
    scores = ld.fit_tournament_scores(probs, np.ones((1, 3), bool), "btl", steps=600)[0]
    result = condorcet_consistency(ld.learned_rule(rankings, weights, scores), rankings, weights=weights)
    assert result.num_applicable == 1 and result.rate == 0.0


def test_majority_winner_and_criterion_match_a_direct_count():
    rankings = _profiles(3, 64, 4, 5)
    maj = ld.majority_winner(rankings)
    for r, m in zip(rankings, maj):
        counts = np.bincount(r[:, 0], minlength=4)
        assert (m == (2 * counts > len(r))).all()
    result = ld.majority_criterion(borda, rankings)
    winners = np.asarray(borda(rankings))
    expected = maj.any(-1) & (winners == maj).all(-1)
    assert (result.applicable == maj.any(-1)).all() and (result.satisfied == expected).all()
    assert result.num_applicable > 0


def test_learned_rule_refuses_profiles_it_was_not_fitted_on():
    rankings = _profiles(4, 2, 3, 3)
    rule = ld.learned_rule(rankings[:1], None, np.zeros((1, 3)))
    with pytest.raises(KeyError):
        rule(rankings[1:])


def test_bad_input_is_named():
    probs, mask = np.full((1, 3, 3), 0.5), np.ones((1, 3), bool)
    with pytest.raises(ConfigError, match="loss"):
        ld.fit_tournament_scores(probs, mask, "plurality")
    with pytest.raises(ConfigError, match="temperatures"):
        ld.fit_tournament_scores(probs, mask, "soft_copeland", (0.0,))
    with pytest.raises(ConfigError, match="probs"):
        ld.fit_tournament_scores(probs[:, :2], mask, "btl")
