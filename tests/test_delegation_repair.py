"""The cap repair: every realised delegation graph respects the cap, deterministically, and the
evaluator measures exactly that (adversarial graphs, a plain-Python reference, closed forms)."""

import jax
import numpy as np
import pytest

from mechjax.delegation import accuracy, graphs, resolve
from mechjax.delegation.evaluate import DelegationEvalConfig, evaluate_delegation
from mechjax.delegation.problem import DelegationProblem
from mechjax.delegation.repair import capped_draws, rank_of, reference_repair, repair_delegates
from mechjax.delegation.rules import DelegationInputs, make_rule
from mechjax.errors import DataError


def _adversarial(seed, count, n):
    """Random graphs with cycles, downward delegations, self-loops and tied estimates."""
    rng = np.random.default_rng(seed)
    delegate = np.asarray(graphs.random_delegations(jax.random.key(seed), count, n, float(rng.uniform(0.0, 0.4))))
    estimate = rng.integers(0, 4, (count, n)) / 4.0  # few levels: many ties, broken by index
    cap = rng.integers(1, 7, count).astype(np.float32)
    return delegate, estimate.astype(np.float32), cap


@pytest.mark.parametrize("n", [1, 2, 6, 13])
def test_repair_matches_python_reference_and_always_respects_the_cap(n):
    delegate, estimate, cap = _adversarial(n, 300, n)
    repaired, rejected = (np.asarray(x) for x in repair_delegates(delegate, estimate, cap))  # a cap per graph
    for b in range(len(delegate)):
        np.testing.assert_array_equal(repaired[b], reference_repair(delegate[b], estimate[b], cap[b]))
    caster, weight = (np.asarray(x) for x in resolve(repaired))
    assert (caster >= 0).all()  # no vote lost: every kept delegation goes up, so no cycles remain
    assert (weight.max(-1) <= cap).all() and (weight.sum(-1) == n).all()
    me = np.arange(n)[None]
    assert ((repaired == delegate) | (repaired == me)).all()  # only ever turns a delegation into casting
    np.testing.assert_array_equal(rejected, repaired != delegate)
    if n >= 6:
        assert rejected.any() and (~rejected).any()  # the sample exercises both outcomes


def _upward(delegate, estimate, seed):
    """The graphs' shapes, but every voter casts or delegates to a random voter ranked above her."""
    rng = np.random.default_rng(seed)
    rank = np.asarray(rank_of(estimate))
    up = rank[:, None, :] < rank[:, :, None]  # [b, i, j]: j ranks above i
    score = np.where(up, rng.random(up.shape), -1.0)
    target = score.argmax(-1)
    go = up.any(-1) & (rng.random(delegate.shape) < 0.6)
    return np.where(go, target, np.arange(delegate.shape[-1])[None]).astype(np.int32)


def test_repair_leaves_upward_graphs_within_the_cap_unchanged():
    delegate, estimate, cap = _adversarial(13, 300, 13)  # the shapes of a test above: no new compilation
    upward = _upward(delegate, estimate, 0)
    feasible = np.asarray(resolve(upward)[1]).max(-1) <= cap
    assert feasible.any() and (~feasible).any()
    repaired, rejected = (np.asarray(x) for x in repair_delegates(upward, estimate, cap))
    np.testing.assert_array_equal(repaired[feasible], upward[feasible])
    assert rejected[~feasible].any(-1).all()  # and it acts exactly where the cap is broken
    np.testing.assert_array_equal(np.asarray(repair_delegates(repaired, estimate, cap)[0]), repaired)  # idempotent


def test_star_keeps_the_lowest_ranked_leaves_and_the_hub_holds_exactly_the_cap():
    n, cap = 9, 4
    estimate = np.linspace(0.5, 0.6, n, dtype=np.float32)
    estimate[0] = 0.9  # the hub
    delegate = np.zeros(n, np.int32)  # everyone (the hub included) points at the hub
    repaired, _ = repair_delegates(delegate[None], estimate[None], cap)
    repaired = np.asarray(repaired[0])
    # the three lowest leaves (1, 2, 3) fill the hub; the more competent ones are told to cast
    np.testing.assert_array_equal(repaired, [0, 0, 0, 0, 4, 5, 6, 7, 8])
    assert int(np.asarray(resolve(repaired)[1]).max()) == cap


@pytest.mark.parametrize("cap", [1, 3, 4, 9])
def test_a_chain_is_cut_into_blocks_of_cap_votes(cap):
    n = 9  # one shape for every chain, star and problem test: one compilation
    estimate = np.arange(n, dtype=np.float32) / n  # voter i delegates up to i + 1
    delegate = np.minimum(np.arange(n) + 1, n - 1).astype(np.int32)
    weight = np.asarray(resolve(np.asarray(repair_delegates(delegate, estimate, cap)[0]))[1])
    # closed form: voters 0..cap-1 pile up on voter cap-1, who then casts; the next block likewise
    expected = np.zeros(n, int)
    ends = np.arange(cap - 1, n, cap)
    expected[ends] = cap
    if n % cap:
        expected[n - 1] = n % cap
    np.testing.assert_array_equal(weight, expected)


def test_cap_one_is_direct_voting_and_bad_caps_name_the_argument():
    delegate, estimate, _ = _adversarial(6, 300, 6)  # the shapes of a test above: no new compilation
    repaired, _ = repair_delegates(delegate, estimate, 1)
    np.testing.assert_array_equal(np.asarray(repaired), np.broadcast_to(np.arange(6), (300, 6)))
    for bad in (0.5, -1.0, float("nan")):
        with pytest.raises(DataError, match="cap"):
            repair_delegates(delegate, estimate, bad)


def test_rank_matches_the_upward_order_of_allowed():
    estimate = np.array([[0.5, 0.7, 0.5, 0.9]], np.float32)
    np.testing.assert_array_equal(np.asarray(rank_of(estimate)), [[2, 1, 3, 0]])  # ties: lower index ranks higher


def test_capped_draws_respect_the_cap_under_a_rule_that_concentrates_power():
    inst = graphs.star_instance(jax.random.key(0), 1, 9)
    policy = make_rule("local_best")(DelegationInputs(inst.estimate, inst.adjacency))  # every leaf -> hub
    repaired, rejected = capped_draws(jax.random.key(1), policy, inst.estimate, 3.0, draws=1)
    weight = np.asarray(resolve(np.asarray(repaired)[0])[1])
    assert weight.max() == 3 and np.asarray(rejected).sum() == 8 - 2  # 2 leaves fit with the hub


def test_evaluator_reports_the_deployed_rule_in_every_draw():
    # local_best (deterministic) deployed under the repair: its own graphs break the cap, the deployed never do
    problem = DelegationProblem(num_voters=9, edge_prob=0.6, cap=3.0)
    cfg = DelegationEvalConfig(graphs=16, draws=1, chunk_size=16, rules=())
    summary = evaluate_delegation(make_rule("local_best"), problem, cfg)
    assert summary["repair"] and summary["expected_max_weight_max"] > 3 and 0 < summary["repair_fires"] <= 1
    assert summary["cap_respected"] and summary["realized_max_weight_max"] <= 3 and summary["draws_over_cap"] == 0
    # independently: the same networks, local_best's graphs repaired by the Python reference, exact accuracy
    k_data, _ = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), 0))
    batch = problem.sample(k_data, cfg.graphs)
    drawn = np.asarray(make_rule("local_best")(batch.inputs)).argmax(-1)
    estimate = np.asarray(batch.inputs.estimate)
    fixed = np.stack([reference_repair(d, e, 3.0) for d, e in zip(drawn, estimate)])
    raw_acc = np.asarray(accuracy(np.asarray(resolve(drawn)[1]), np.asarray(batch.competence)))
    fixed_acc = np.asarray(accuracy(np.asarray(resolve(fixed)[1]), np.asarray(batch.competence)))
    assert summary["accuracy"] == pytest.approx(fixed_acc.mean(), abs=1e-5)
    assert summary["accuracy_unrepaired"] == pytest.approx(raw_acc.mean(), abs=1e-5)
    assert summary["repair_fires"] == pytest.approx(np.mean((fixed != drawn).any(-1)))


def test_problem_realises_repaired_graphs_only_when_asked():
    estimate = np.linspace(0.4, 0.8, 9, dtype=np.float32)[None]
    drawn = np.full((1, 9), 8, np.int32)  # everyone hands her vote to the most competent voter
    realised, rejected = DelegationProblem(num_voters=9, cap=2.0).realise(drawn, estimate)
    np.testing.assert_array_equal(np.asarray(realised), [[8, 1, 2, 3, 4, 5, 6, 7, 8]])  # the lowest fits
    assert np.asarray(rejected).sum() == 7
    same, none = DelegationProblem(num_voters=9, cap=2.0, repair=False).realise(drawn, estimate)
    np.testing.assert_array_equal(np.asarray(same), drawn)
    assert not np.asarray(none).any()
