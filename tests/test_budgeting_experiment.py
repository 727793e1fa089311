"""The learned PB rule: feasible by construction, equivariant, trains through make_train from the
presets, loads, and bad configs name the field."""

import os

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax import experiment
from mechjax.budgeting.evaluate import net_input, padded_size
from mechjax.budgeting.nets import PBNet, greedy_selection, relaxed_selection
from mechjax.budgeting.problem import BudgetingProblem, PBBatch, pad_election
from mechjax.budgeting.synthetic import random_election
from mechjax.errors import ConfigError, DataError

from conftest import CONF_DIR, compose_config

DATA = os.path.join(os.path.dirname(CONF_DIR), "..", "shared", "data", "pabulib")
needs_data = pytest.mark.skipif(not os.path.isdir(DATA), reason=f"no pabulib data at {DATA} (../shared/data/pabulib)")
PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("pb_"))
TINY_PB = ["trainer=tiny", "progress=false", "plots=false", "problem.pool_size=32", "problem.max_voters=12",
           "problem.max_projects=6", "budgeting_eval.max_elections=2"]
SMALL_NET = ["mechanism.dim=8", "mechanism.depth=1"]


def _pool(real_share=0.0, size=8):
    return BudgetingProblem(max_voters=12, max_projects=6, pool_size=size, real_share=real_share).pool


def test_selections_are_feasible_and_relaxation_spends_the_budget():
    rng = np.random.default_rng(0)
    scores = jnp.asarray(rng.normal(size=(64, 9)), jnp.float32)
    costs = jnp.asarray(rng.uniform(0.0, 0.7, size=(64, 9)), jnp.float32)
    mask = jnp.asarray(rng.random((64, 9)) < 0.8, jnp.float32)
    hard = greedy_selection(scores, costs, mask)
    assert ((hard * costs).sum(-1) <= 1 + 1e-6).all() and (hard <= mask).all()
    # greedy by score: an unfunded real project never fits in what is left
    left = 1 - (hard * costs).sum(-1, keepdims=True)
    assert not ((hard == 0) & (mask > 0) & (costs <= left - 1e-6)).any()
    soft = relaxed_selection(scores, costs, mask, temperature=0.1)
    spend = (soft * costs).sum(-1)
    np.testing.assert_allclose(spend, np.minimum(1.0, (costs * mask).sum(-1)), atol=2e-3)


def test_relaxed_selection_differentiates_through_its_threshold():
    # the spend is pinned at the budget, so its gradient in the scores is zero, and the gradient of
    # a selection matches finite differences of the re-solved relaxation (threshold moving too)
    rng = np.random.default_rng(3)
    scores = jnp.asarray(rng.normal(size=(4, 7)), jnp.float64 if jax.config.x64_enabled else jnp.float32)
    costs = jnp.asarray(rng.uniform(0.2, 0.6, size=(4, 7)), scores.dtype)
    mask = jnp.ones_like(scores).at[0, 6].set(0.0)

    def spend(s):
        return (relaxed_selection(s, costs, mask, 0.5, iterations=60) * costs).sum()

    np.testing.assert_allclose(jax.grad(spend)(scores), 0.0, atol=1e-4)
    weights = jnp.asarray(rng.normal(size=(4, 7)), scores.dtype)

    def value(s):
        return (relaxed_selection(s, costs, mask, 0.5, iterations=60) * weights).sum()

    direction = jnp.asarray(rng.normal(size=(4, 7)), scores.dtype) * mask
    h = 1e-2
    numeric = (value(scores + h * direction) - value(scores - h * direction)) / (2 * h)
    analytic = (jax.grad(value)(scores) * direction).sum()
    np.testing.assert_allclose(analytic, numeric, rtol=2e-2, atol=1e-3)
    # shifting every score alike leaves the selection, and so any objective, unchanged
    np.testing.assert_allclose((jax.grad(value)(scores) * mask).sum(-1), 0.0, atol=1e-4)


def test_straight_through_trains_on_the_hard_selection_with_the_relaxed_gradient():
    batch = jax.tree.map(jnp.asarray, _pool(size=8))
    plain = PBNet(8, 1, temperature=0.5, rngs=nnx.Rngs(0))
    through = PBNet(8, 1, temperature=0.5, straight_through=True, rngs=nnx.Rngs(0))
    # jitted: op by op, the nets' forward and backward passes compiled ~200 small programs
    relaxed, hard = nnx.jit(lambda net: net(batch, training=True)), nnx.jit(lambda net: net(batch))
    np.testing.assert_allclose(relaxed(through), hard(plain), atol=1e-6)  # the inference rule's values
    weights = jnp.asarray(np.random.default_rng(0).normal(size=batch.costs.shape), jnp.float32)

    @nnx.jit
    def gradient(net):
        return nnx.state(nnx.grad(lambda n: (n(batch, training=True) * weights).sum())(net))

    for a, b in zip(jax.tree.leaves(gradient(plain)), jax.tree.leaves(gradient(through))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_net_is_equivariant_to_voters_and_projects():
    batch = jax.tree.map(jnp.asarray, _pool())
    net = PBNet(8, 1, rngs=nnx.Rngs(0))
    scores = net.scores(batch)
    rng = np.random.default_rng(1)
    sigma_v, sigma_p = rng.permutation(12), rng.permutation(6)
    permuted = PBBatch(batch.approvals[:, sigma_v][:, :, sigma_p], batch.voter_mask[:, sigma_v],
                       batch.project_mask[:, sigma_p], batch.costs[:, sigma_p], batch.target[:, sigma_p])
    np.testing.assert_allclose(net.scores(permuted), scores[:, sigma_p], rtol=1e-4, atol=1e-5)
    funded = net(batch)
    assert ((funded * batch.costs).sum(-1) <= 1 + 1e-6).all()


def test_evaluator_pads_elections_to_size_buckets_that_change_no_funded_project():
    """A learned rule is compiled once per size bucket, not once per real election (every one has
    its own voter count), and the masked padding funds exactly what the unpadded input funds."""
    assert {padded_size(n, 2000) for n in range(1, 2001)} == {16, 32, 64, 128, 256, 512, 1024, 2000}
    assert all(padded_size(n) >= n for n in range(1, 5000)) and padded_size(3000, 2000) == 4096
    run = jax.jit(PBNet(8, 1, rngs=nnx.Rngs(0)))
    rng = np.random.default_rng(3)
    for _ in range(4):
        election = random_election(rng, max_voters=40, max_projects=20)
        batch = net_input(election, 24, np.random.default_rng(1))
        voters, projects = min(election.num_voters, 24), election.num_projects
        assert batch.approvals.shape == (1, padded_size(voters, 24), padded_size(projects))
        assert batch.voter_mask.sum() == voters and batch.project_mask.sum() == projects
        rows = np.flatnonzero(np.asarray(batch.voter_mask[0]))
        exact = pad_election(np.asarray(batch.approvals[0, rows, :projects]), election.costs, election.budget,
                             np.zeros(projects), voters, projects)
        exact = PBBatch(**{k: v[None] for k, v in exact.items()})
        np.testing.assert_array_equal(np.asarray(run(batch))[0, :projects], np.asarray(run(exact))[0])


def test_pool_targets_are_mes_and_feasible():
    batch = _pool(size=16)
    assert ((batch.target * batch.costs).sum(-1) <= 1 + 1e-5).all()
    assert (batch.target <= batch.project_mask).all()


@pytest.mark.parametrize("override,field", [("problem.max_voters=1", "problem.max_voters"),
                                            ("problem.real_share=2", "problem.real_share"),
                                            ("problem.temperature=0", "problem.temperature"),
                                            ("+problem.bogus=1", "problem.bogus"),
                                            ("budgeting_eval.max_voters=0", "budgeting_eval.max_voters"),
                                            ("mechanism.rule=borda", "mechanism.rule")])
def test_bad_configs_name_the_field(override, field, tmp_path):
    mechanism = ["mechanism=pb_rule"] if override.startswith("mechanism.rule") else []
    cfg = compose_config(["+experiment=pb_mimic_mes", *TINY_PB, *(mechanism or SMALL_NET), override])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        if mechanism:
            experiment.evaluate(cfg)
        else:
            experiment.train(cfg, str(tmp_path))


@needs_data
@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_trains_evaluates_and_loads(preset, tmp_path):
    summary = experiment.train(compose_config([f"+experiment={preset}", *TINY_PB, *SMALL_NET]), str(tmp_path))
    assert summary["feasible_rate"] == 1.0 and summary["elections"] == 2
    assert summary["references"]["mes"]["jaccard_mes"] == 1.0
    rule, problem = experiment.load(str(tmp_path))
    batch = problem.sample(jax.random.key(0), 32)
    funded = np.asarray(rule(batch))
    assert set(np.unique(funded)) <= {0.0, 1.0} and ((funded * np.asarray(batch.costs)).sum(-1) <= 1 + 1e-6).all()
    with pytest.raises(DataError, match="costs"):
        rule(batch._replace(costs=-batch.costs))


@needs_data
def test_classical_rule_evaluates_through_the_front_door():
    cfg = compose_config(["+experiment=pb_mimic_mes", *TINY_PB, "mechanism=pb_rule", "mechanism.rule=greedy"])
    summary = experiment.evaluate(cfg)
    assert summary["feasible_rate"] == 1.0
    assert summary["welfare"] == pytest.approx(summary["references"]["greedy"]["welfare"])


def test_ranking_loss_prefers_the_mes_order():
    """The pairwise ranking term is small when every MES-funded project outranks every other one,
    large when the order is reversed, and the hard selection then reproduces the target exactly."""
    from mechjax.budgeting.problem import objective_parts
    batch = jax.tree.map(jnp.asarray, _pool(size=16))
    right = jnp.where(batch.target > 0, 4.0, -4.0) * batch.project_mask
    good = objective_parts(relaxed_selection(right, batch.costs, batch.project_mask, 1.0), batch)
    bad = objective_parts(relaxed_selection(-right, batch.costs, batch.project_mask, 1.0), batch)
    assert float(good["ranking"]) < 0.01 < 1.0 < float(bad["ranking"])
    funded = greedy_selection(right, batch.costs, batch.project_mask)
    np.testing.assert_array_equal(funded, batch.target)


def test_evaluator_fair_share_matches_a_loop_over_voters():
    """The evaluator's fair-share ratio (the training surrogate, on the whole election) against a
    direct loop over voters and projects on random elections."""
    from mechjax.budgeting.election import make_election
    from mechjax.budgeting.evaluate import election_batch, fair_share
    rng = np.random.default_rng(5)
    for _ in range(20):
        v, p = int(rng.integers(1, 15)), int(rng.integers(1, 8))
        approvals = rng.random((v, p)) < rng.uniform(0.1, 0.8)
        costs = rng.integers(1, 50, size=p)
        budget = int(rng.integers(1, costs.sum() + 1))
        funded = rng.random(p) < 0.5
        total = 0.0
        for i in range(v):
            share = entitled = 0.0
            for j in range(p):
                if approvals[i, j]:
                    split = costs[j] / budget / approvals[:, j].sum()
                    entitled += split
                    share += split * funded[j]
            entitled = min(entitled, 1.0 / v)
            total += min(share / entitled, 1.0) if entitled > 0 else 1.0
        election = make_election(costs.tolist(), budget, approvals=approvals)
        assert fair_share(election_batch(election), funded) == pytest.approx(total / v, abs=1e-5)


def test_learned_table_names_each_runs_objective_weights():
    from mechjax.budgeting.tables import render_learned
    from mechjax.tables import Row

    def summary(objective, weights):
        base = {"elections": 3, "feasible_rate": 1.0, "jaccard_mes": 0.5, "exact_match_mes": 0.0, "welfare": 0.3,
                "fair_share": 0.8, "objective": objective, "covered_share": 0.9, "ejr_violations": 1,
                "ejr_unknown": 0, "objective_weights": weights, "holdout_units": ["X"], "input": "in"}
        return dict(base, references={"mes": dict(base, jaccard_mes=1.0)})

    results = [(Row("mimic", ()), seed, summary(None, {"welfare": 0.0, "fair_share": 0.0})) for seed in (0, 1)]
    results += [(Row("mix", ()), seed, summary(1.1 + seed, {"welfare": 1.0, "fair_share": 2.0})) for seed in (0, 1)]
    text = render_learned(results)
    assert "mix weighs them {'welfare': 1.0, 'fair_share': 2.0}" in text and "mimic weighs" not in text
    assert "| mix | 0 | learned | 3 | 1.000 | 0.500 | 0.000 | 0.3000 | 0.8000 | 1.1000 |" in text
    assert "| mimic | 1 | learned | 3 | 1.000 | 0.500 | 0.000 | 0.3000 | 0.8000 | - |" in text
    assert "| mix | 0.500 ± 0.000 | 0.000 ± 0.000 | 0.3000 ± 0.0000 | 0.8000 ± 0.0000 | 1.6000 ± 0.5000 |" in text
