"""The voting Problem: batches carry the right targets, the objective and the manipulation regret are
what they claim, and it trains through the shared trainer (with and without an adversary)."""

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mechjax.core.adversary import Adversary
from mechjax.core.constraints import AugmentedLagrangian, Unconstrained
from mechjax.core.trainer import TrainerConfig, make_train
from mechjax.core.types import NoInner
from mechjax.errors import ConfigError
from mechjax.voting import losses as L
from mechjax.voting import manipulation as M_
from mechjax.voting import nets as V
from mechjax.voting import rules as R
from mechjax.voting.problem import ExhaustiveBallots, VotingProblem
from mechjax.voting.profiles import CultureConfig
from mechjax.voting.registry import classical_mechanism

N, M = 5, 4


def problem(**kwargs):
    options = dict(culture=CultureConfig("ic", N, M), loss=L.LossWeights(), target="plurality")
    return VotingProblem(**{**options, **kwargs})


@pytest.fixture(scope="module")
def net():
    return V.VotingNet(M, dim=8, depth=1, rngs=nnx.Rngs(0))


def outcome_fn_of(net):
    graphdef, state = nnx.split(net)
    return lambda ballots: nnx.merge(graphdef, state)(ballots)


@pytest.mark.parametrize("variable", [False, True])
def test_batches_carry_the_classical_facts(variable):
    prob = problem(variable_sizes=variable)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(0), 128)
    r, w = np.asarray(batch.rankings), np.asarray(batch.ballots.weights).astype(np.int32)
    mask = np.asarray(batch.ballots.candidate_mask)
    assert (w.sum(-1) >= 1).all() and (mask.sum(-1) >= 2).all()
    assert (np.asarray(batch.target) == np.asarray(R.plurality(r, w))).all()
    assert (np.asarray(batch.condorcet) == np.asarray(R.condorcet(r, w))).all()
    pos = np.argsort(r, -1)
    for b in range(128):
        real = np.nonzero(mask[b])[0]
        # padding candidates are ranked below every real one, on every ballot
        assert (pos[b][:, ~mask[b]].min(initial=M) > pos[b][:, real].max()) if (~mask[b]).any() else True
        voters = w[b] > 0
        dominated = {y for x in real for y in real if x != y and (pos[b][voters, x] < pos[b][voters, y]).all()}
        assert set(np.nonzero(np.asarray(batch.dominated[b]))[0]) == dominated


def test_objective_of_the_target_itself(net):
    prob = problem(loss=L.LossWeights(mimicry=1.0, condorcet=1.0, pareto=1.0))
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(1), 64)
    oracle = lambda ballots: R.uniform_lottery(batch.target)
    terms = prob.loss_terms(oracle, batch, None)
    entropy = np.log(np.asarray(batch.target).sum(-1)).mean()
    assert np.isclose(terms.metrics["accuracy"], 1.0) and np.isclose(terms.metrics["loss_mimicry"], entropy, atol=1e-5)
    assert np.isclose(terms.metrics["loss_pareto"], 0.0)  # plurality never elects a dominated candidate
    assert terms.violations.shape == (N,) and not np.asarray(terms.violations).any()


def test_equivariant_net_has_no_invariance_loss(net):
    prob = problem(loss=L.LossWeights(mimicry=0.0, anonymity=1.0, neutrality=1.0, participation=1.0, independence=1.0),
                   target=None, variable_sizes=True)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(2), 32)
    terms = jax.jit(lambda b: prob.loss_terms(outcome_fn_of(net), b, None))(batch)
    assert abs(float(terms.metrics["loss_anonymity"])) < 1e-5
    assert abs(float(terms.metrics["loss_neutrality"])) < 1e-5
    assert float(terms.metrics["loss_participation"]) >= 0
    assert np.isfinite(float(terms.metrics["loss_independence"])) and float(terms.metrics["loss_independence"]) >= 0
    # the independence fields cost nothing when the term is off, and the other fields do not move
    plain = jax.jit(problem(loss=L.LossWeights(mimicry=0.0, anonymity=1.0), target=None, variable_sizes=True).sample,
                    static_argnums=1)(jax.random.key(2), 32)
    assert plain.iia_ballots is None and (np.asarray(plain.rankings) == np.asarray(batch.rankings)).all()


def test_deviation_utility_is_exact_on_real_ballots(net):
    prob = problem(manipulation=True)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(3), 16)
    fn = outcome_fn_of(net)
    truthful = batch.ballots.ranks[None]  # every voter "misreports" her own ballot
    regret = jax.jit(lambda b, x: prob.regret(fn, b, x))(batch, truthful)
    assert np.abs(np.asarray(regret)).max() < 1e-5
    # a real misreport: every voter submits the reverse of her ballot
    lie = batch.rankings[..., ::-1]
    dev = jax.jit(lambda b, x: prob.deviation_utility(fn, b, x))(batch, V.ballots_from_rankings(lie).ranks[None])
    dev = np.asarray(dev)[0]
    rule = V.as_rule(net)
    lied = jnp.stack([batch.rankings.at[:, i].set(lie[:, i]) for i in range(N)])  # [N, b, n, m]
    probs = np.asarray(rule(lied.reshape(-1, N, M))).reshape(N, 16, M)
    expected = np.einsum("ibm,bim->bi", probs, np.asarray(batch.utilities))
    assert np.allclose(dev, expected, atol=1e-5)


def test_relaxed_reports_are_doubly_stochastic():
    prob = problem(manipulation=True, variable_sizes=True)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(4), 8)
    x = np.asarray(jax.jit(prob.random_reports, static_argnums=2)(jax.random.key(5), batch, 2))
    mask = np.asarray(batch.ballots.candidate_mask)
    for b in range(8):
        k = mask[b].sum()
        block = x[:, b, :, :k, :k]
        # Sinkhorn ends on a column step: columns exact, rows close
        assert np.allclose(block.sum(-2), 1, atol=1e-5) and np.allclose(block.sum(-1), 1, atol=0.05)
        assert np.abs(x[:, b, :, :k, k:]).max(initial=0) < 1e-6  # real candidates stay on real positions


def _train(prob, inner, constraint, steps, chunk, with_rule=False):
    factory = lambda rngs: V.VotingNet(M, dim=8, depth=1, rngs=rngs)
    cfg = TrainerConfig(steps=steps, batch_size=32, steps_per_chunk=chunk, checkpoint_every=steps,
                        train_size=64 if isinstance(inner, Adversary) else 0)
    trainer = make_train(prob, factory, inner, constraint, optax.adam(1e-2), cfg)
    state = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.key(0), 1))
    history = []
    for c in range(steps // chunk):
        state, metrics = trainer.chunk(state, jax.random.split(jax.random.key(c + 1), 1))
        history.append({k: float(v[0]) for k, v in metrics.items()})
    if with_rule:
        return history, trainer.outcome_fn(jax.tree.map(lambda x: x[0], state.params))
    return history


def test_mimicry_trains_through_make_train():
    history = _train(problem(), NoInner(), Unconstrained(), 60, 30)
    assert history[-1]["loss_mimicry"] < history[0]["loss_mimicry"]
    assert history[-1]["accuracy"] > 0.7


@pytest.mark.slow
def test_adversarial_training_runs_through_the_shared_adversary():
    prob = problem(loss=L.LossWeights(mimicry=0.0, utilitarian=1.0), target=None, manipulation=True,
                   culture=CultureConfig("ic", 3, M))
    history = _train(prob, Adversary(prob, steps=2, lr=0.2), AugmentedLagrangian(), 4, 4)
    last = history[-1]
    assert np.isfinite(list(last.values())).all() and last["regret"] >= 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(target="dictator"), "problem.target"),
    (dict(target=None), "problem.target is required"),
    (dict(culture=CultureConfig("ic", 3, 1)), "num_candidates"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        problem(**kwargs)


@pytest.mark.parametrize("variable", [False, True])
def test_exhaustive_ballots_give_the_exact_regret_of_the_host_search(variable):
    """In-graph regret over all m! ballots == the host-side exhaustive search, voter by voter."""
    prob = problem(loss=L.LossWeights(mimicry=0.0, utilitarian=1.0), target=None, manipulation=True,
                   culture=CultureConfig("dirichlet", N, M), variable_sizes=variable)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(6), 24)
    misreports = jax.jit(prob.all_misreports)(batch)
    assert misreports.shape == (24, 24, N, M, M)  # 4! ballots
    mechanism = jax.jit(classical_mechanism("borda"))
    regret = np.asarray(jax.jit(lambda b, x: prob.regret(mechanism, b, x))(batch, misreports))
    w, mask = np.asarray(batch.ballots.weights), np.asarray(batch.ballots.candidate_mask)
    for b in range(24):
        n, m = int(w[b].sum()), int(mask[b].sum())
        rankings = np.asarray(batch.rankings)[b:b + 1, :n, :m]  # the real profile, unpadded
        host = M_.single_voter_manipulation(R.borda, rankings, np.asarray(batch.utilities)[b:b + 1, :n, :m], atol=0)
        assert np.allclose(regret[b, :n], np.maximum(host.gain[0], 0), atol=1e-4), b
        assert (regret[b, n:] == 0).all()
    assert regret.max() > 0.01  # Borda is manipulable on some of these profiles
    # the inner solver keeps each voter's best ballot: the same regret from one misreport per voter
    best, _ = ExhaustiveBallots(prob).solve(mechanism, batch, (), None, None)
    assert best.shape == (1, 24, N, M, M)
    assert np.allclose(np.asarray(prob.regret(mechanism, batch, best)), regret, atol=1e-6)


def test_random_dictatorship_is_strategyproof():
    prob = problem(loss=L.LossWeights(mimicry=0.0, utilitarian=1.0), target=None, manipulation=True,
                   culture=CultureConfig("dirichlet", N, M), variable_sizes=True)
    batch = jax.jit(prob.sample, static_argnums=1)(jax.random.key(7), 64)
    rd = lambda ballots: R.random_dictatorship(jnp.argsort(jnp.argmax(ballots.ranks, -1), -1), ballots.weights) \
        * ballots.candidate_mask
    regret = jax.jit(lambda b: prob.regret(rd, b, prob.all_misreports(b)))(batch)
    assert np.abs(np.asarray(regret)).max() < 1e-5


@pytest.mark.slow  # two short trainings, one against all 4! ballots of every voter: ~1 min of CPU
def test_training_against_the_exhaustive_attacker_lowers_held_out_regret():
    """Same seed, net and budget: with the exhaustive inner solver and the augmented Lagrangian the
    rule's regret (exact, over all m! ballots, on held-out profiles) is far below the welfare-only
    rule's, while it still beats the uniform lottery's welfare (it did not just stop learning)."""
    prob = problem(loss=L.LossWeights(mimicry=0.0, utilitarian=1.0), target=None, manipulation=True,
                   culture=CultureConfig("dirichlet", N, M))
    held_out = jax.jit(prob.sample, static_argnums=1)(jax.random.key(99), 128)

    def measure(rule):
        regret = jax.jit(lambda b: prob.regret(rule, b, prob.all_misreports(b)))(held_out)
        welfare = jax.jit(lambda b: L.utilitarian(rule(b.ballots), b.utilities, b.ballots.weights))(held_out)
        return float(np.asarray(regret).mean()), float(np.asarray(welfare).mean())

    _, plain = _train(prob, NoInner(), Unconstrained(), 30, 15, with_rule=True)
    history, guarded = _train(prob, ExhaustiveBallots(prob), AugmentedLagrangian(), 30, 15, with_rule=True)
    regret_plain, welfare_plain = measure(plain)
    regret_guarded, welfare_guarded = measure(guarded)
    uniform = float(np.asarray(held_out.utilities).mean())  # every voter's mean utility: the uniform lottery
    assert np.isfinite(list(history[-1].values())).all() and history[-1]["regret"] >= 0
    assert regret_plain > 0.01, "the welfare-only rule should be manipulable on these profiles"
    assert regret_guarded < 0.25 * regret_plain, (regret_guarded, regret_plain)
    assert uniform + 0.01 < welfare_guarded <= welfare_plain + 1e-3, (uniform, welfare_guarded, welfare_plain)
