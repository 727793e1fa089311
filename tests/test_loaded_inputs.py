"""Input validation outside jit: eager rules refuse overflowing weights; loaded voting rules and
auction mechanisms refuse what the eager entry points refuse, before their jitted function runs,
and stay usable (shape checks only) under an outer ``jax.jit``."""

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mechjax
import mechjax.voting as mv
from mechjax.auctions.loaded import validated_mechanism
from mechjax.auctions.nets.regretnet import RegretNet
from mechjax.auctions.registry import AuctionConfig
from mechjax.errors import DataError
from mechjax.voting import rules as R
from mechjax.voting.nets import ballots_from_rankings
from mechjax.voting.trained import as_rule, validated_ballot_rule

INT32_MAX = 2 ** 31 - 1


# ----------------------------------------------------------------------------- eager rules

def test_plurality_refuses_counts_that_would_overflow_instead_of_electing_the_wrong_winner():
    rankings = np.array([[[0, 1, 2], [0, 1, 2], [1, 0, 2]]])
    weights = np.array([[INT32_MAX, 1, 1]], np.int64)  # candidate 0 has 2**31 first places
    with pytest.raises(DataError, match="weights"):
        R.plurality(rankings, weights)
    with pytest.raises(DataError, match="weights"):
        R.plurality(rankings, np.array([[np.inf, 0.0, 1.0]]))


@pytest.mark.parametrize("name", sorted(R.RULES))
def test_scaled_weights_give_the_same_winners_or_a_clear_error(name):
    """Every rule is homogeneous (k x every count elects the same set); int32 overflow would break
    that, so up to 2**32 ballots each scaling either agrees with the small profile or is refused."""
    rule = R.RULES[name]
    rng = np.random.default_rng(0)
    rankings = np.argsort(rng.random((6, 5, 4)), -1).astype(np.int32)
    weights = rng.integers(1, 6, (6, 5))
    reference = np.asarray(rule(rankings, weights))
    refused = accepted = 0
    for k in np.unique(np.geomspace(2 ** 18, 2 ** 32 // weights.sum(-1).max(), 40).astype(np.int64)):
        try:
            got = np.asarray(rule(rankings, weights * k))
        except DataError as err:
            assert "weights" in str(err)
            refused += 1
            continue
        accepted += 1
        assert (got == reference).all(), f"{name} changed its winners at {k} x the counts"
    assert accepted and refused  # the ladder straddles the rule's limit


def test_the_number_of_voters_is_checked_even_under_jit():
    too_many = jax.ShapeDtypeStruct((1, 2 ** 30 + 1, 3), jnp.int32)  # Borda scores up to 2 x voters
    with pytest.raises(DataError, match="weights: .* voters"):
        jax.eval_shape(R.borda, too_many)
    jax.eval_shape(R.plurality, too_many)  # plurality counts up to 1 x voters: fits


# ----------------------------------------------------------------------------- loaded voting rules

def toy_voting_net(ballots):
    """A Ballots -> winner probabilities function (softmax of weighted first places): the wrappers
    under test do not depend on what the network computes."""
    firsts = jnp.einsum("bv,bvc->bc", ballots.weights, ballots.ranks[..., 0])
    return jax.nn.softmax(jnp.where(ballots.candidate_mask, firsts, -jnp.inf), axis=-1)


class Spy:
    """A Ballots network that records how often it was traced or called."""

    def __init__(self):
        self.calls = 0

    def __call__(self, ballots):
        self.calls += 1
        return toy_voting_net(ballots)


GOOD = np.array([[[0, 1, 2], [2, 1, 0]]], np.int32)
BAD_RULE_INPUTS = {
    "repeated candidate": (dict(rankings=[[[0, 0, 1], [2, 1, 0]]]), r"rankings\[0, 0\] = \[0, 0, 1\] is not a permutation"),
    "negative candidate": (dict(rankings=[[[-1, 0, 1], [2, 1, 0]]]), "not a permutation"),
    "rank 2": (dict(rankings=[[0, 1, 2]]), r"rankings must be \[batch, voters, candidates\]"),
    "float rankings": (dict(rankings=GOOD.astype(float)), "integer"),
    "negative weights": (dict(weights=[[2, -1]]), "weights must be >= 0"),
    "fractional weights": (dict(weights=[[1.5, 1.0]]), "integer ballot counts"),
    "weights shape": (dict(weights=[[1, 1, 1]]), r"weights must be \[batch, voters\]"),
    "huge weights": (dict(weights=[[INT32_MAX, 1]]), "weights: "),
    "mask shape": (dict(candidate_mask=[[True, True]]), r"candidate_mask must be \[batch, candidates\]"),
    "mask dtype": (dict(candidate_mask=[[1, 1, 0]]), "candidate_mask must be boolean"),
    "mask empty": (dict(candidate_mask=[[False, False, False]]), "no real candidate"),
    "padding above real": (dict(candidate_mask=[[True, False, True]]), "padding candidate"),
}


@pytest.mark.parametrize("case", sorted(BAD_RULE_INPUTS))
def test_loaded_rule_refuses_bad_input_before_its_network_runs(case):
    spy = Spy()
    rule = as_rule(spy)
    override, message = BAD_RULE_INPUTS[case]
    args = dict(rankings=GOOD, weights=None, candidate_mask=None)
    args.update({k: np.asarray(v) for k, v in override.items()})
    with pytest.raises(DataError, match=message):
        rule(args["rankings"], args["weights"], args["candidate_mask"])
    assert spy.calls == 0


def test_loaded_rule_accepts_valid_input_eagerly_and_under_jit():
    rule = as_rule(Spy())
    probs = np.asarray(rule(GOOD, np.array([[3, 1]])))
    assert probs.shape == (1, 3) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    padded = np.array([[[0, 1, 2], [1, 0, 2]]], np.int32)  # candidate 2 is padding, ranked last
    probs = np.asarray(rule(padded, None, np.array([[True, True, False]])))
    assert probs[0, 2] == 0
    assert probs.shape == (1, 3) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    rankings = mv.impartial_culture(jax.random.key(0), 4, 9, 5).rankings
    assert np.allclose(np.asarray(jax.jit(rule)(rankings)), np.asarray(rule(rankings)), atol=1e-6)
    # under jit the values are tracers (not checked), the shapes still are
    jax.jit(rule)(jnp.zeros((1, 2, 3), jnp.int32))
    with pytest.raises(DataError, match="rankings must be"):
        jax.jit(rule)(jnp.zeros((2, 3), jnp.int32))
    with pytest.raises(DataError, match="candidate_mask must be"):
        jax.jit(rule)(rankings, None, jnp.ones((4, 3), bool))


def test_loaded_ballot_net_checks_its_ballots():
    spy = Spy()
    net = validated_ballot_rule(spy)
    ballots = ballots_from_rankings(jnp.asarray(GOOD), jnp.array([[1.0, 2.0]]))
    assert np.asarray(net(ballots)).shape == (1, 3)
    assert np.asarray(jax.jit(net)(ballots)).shape == (1, 3)
    calls = spy.calls
    bad = {
        "array": (GOOD, "takes Ballots"),
        "ranks not stochastic": (ballots._replace(ranks=ballots.ranks * 2), "ranks"),
        "ranks nan": (ballots._replace(ranks=ballots.ranks.at[0, 0, 0, 0].set(jnp.nan)), "ranks"),
        "ranks rank": (ballots._replace(ranks=ballots.ranks[0]), "ranks must be"),
        "negative weight": (ballots._replace(weights=jnp.array([[1.0, -1.0]])), "weights"),
        "weights shape": (ballots._replace(weights=jnp.ones((1, 3))), "weights must have shape"),
        "empty mask": (ballots._replace(candidate_mask=jnp.zeros((1, 3), bool)), "candidate_mask"),
    }
    for case, (value, message) in bad.items():
        with pytest.raises(DataError, match=message):
            net(value)
    assert spy.calls == calls, "the network ran on refused input"


# ----------------------------------------------------------------------------- loaded auctions

def _problem(n, m, low=0.0, high=1.0):
    return AuctionConfig(num_bidders=n, num_items=m, low=low, high=high).build()


def test_auction_mechanism_refuses_bad_bids_before_it_runs():
    problem = _problem(2, 3, low=[0.0, 0.0, 1.0], high=[1.0, 2.0, 3.0])
    v = problem.valuations
    raw = RegretNet(2, 3, "additive", (8,), "tanh", v.low_array, v.high_array, rngs=nnx.Rngs(0))
    traced = []
    mechanism = validated_mechanism(lambda bids: (traced.append(1), raw(bids))[1], problem)
    bids = np.asarray(problem.sample(jax.random.key(0), 4))
    alloc, pay = mechanism(bids)
    assert alloc.shape == (4, 2, 3) and pay.shape == (4, 2)
    bad = {
        "rank 2": (bids[0], "rank 2, not 3"),
        "rank 4": (bids[None], "rank 4, not 3"),
        "other size": (bids[:, :1], "does not run at this size"),
        "nan": (np.where(np.arange(3) == 1, np.nan, bids), "not finite"),
        "inf": (np.where(np.arange(3) == 1, np.inf, bids), "not finite"),
        "negative": (bids - 1.5, "outside the value support"),
        "above item 2's support": (np.where(np.arange(3) == 2, 3.5, bids), r"\[1, 3\] of bidder 0, item 2"),
        "complex": (bids.astype(complex), "real-valued"),
    }
    for case, (value, message) in bad.items():
        traced.clear()
        with pytest.raises(DataError, match=message):
            mechanism(value)
        assert not traced or case == "other size", case  # only the size probe traces the mechanism
    # integers are valid reports; under jit only shapes are checked
    mechanism(np.ones((1, 2, 3), np.int32))
    jax.jit(mechanism)(bids - 1.5)
    with pytest.raises(DataError, match="rank 2"):
        jax.jit(mechanism)(bids[0])


def soft_highest_bidder(bids):
    """Each item to the bidders in proportion to softmax(bids), paying half their value: runs at
    any size, like the set-based nets (EquivariantNet, RegretFormer) trained on i.i.d. values."""
    alloc = jax.nn.softmax(8 * bids, axis=1)
    return alloc, 0.5 * (alloc * bids).sum(-1)


def test_size_agnostic_mechanisms_still_run_at_other_sizes():
    mechanism = validated_mechanism(soft_highest_bidder, _problem(2, 2))
    bids = jax.random.uniform(jax.random.key(0), (5, 3, 4))
    alloc, pay = mechanism(bids)
    assert alloc.shape == (5, 3, 4) and pay.shape == (5, 3)
    with pytest.raises(DataError, match=r"outside the value support \[0, 1\]"):
        mechanism(bids + 1)  # i.i.d. support: the same box at every size


@pytest.fixture
def fake_runs(monkeypatch):
    """``experiment.load`` on a pretend run: ``(raw mechanism, problem, exp)`` as ``_load`` gives it,
    so the test sees what the front door does with it (the LOADERS hook) without training."""
    from types import SimpleNamespace

    from mechjax import experiment, registry
    from mechjax.voting.problem import VotingProblem
    registry.import_domains()  # a real _load builds the run's config, which imports the domains
    runs = {"auction": (soft_highest_bidder, _problem(2, 2)), "voting": (toy_voting_net, VotingProblem())}
    monkeypatch.setattr(experiment, "_load", lambda run_dir, replica=0, step=None: (
        *runs[run_dir], SimpleNamespace(kind=run_dir)))


def test_mechjax_load_hands_back_the_validated_auction_mechanism(fake_runs):
    mechanism, problem = mechjax.load("auction")
    bids = problem.sample(jax.random.key(0), 8)
    alloc, pay = jax.jit(mechanism)(bids)
    assert alloc.shape == bids.shape
    for bad in (bids[0], -bids, bids.at[0, 0, 0].set(jnp.nan)):
        with pytest.raises(DataError, match="bids"):
            mechanism(bad)


def test_voting_load_and_mechjax_load_check_their_inputs(fake_runs):
    rule = mv.load("voting")
    assert np.asarray(rule(GOOD)).shape == (1, 3)
    with pytest.raises(DataError, match="not a permutation"):
        rule(np.array([[[0, 0, 1]]]))
    with pytest.raises(DataError, match="weights must be >= 0"):
        rule(GOOD, np.array([[1, -1]]))
    net, _ = mechjax.load("voting")
    with pytest.raises(DataError, match="takes Ballots"):
        net(GOOD)
    with pytest.raises(DataError, match="weights"):
        net(ballots_from_rankings(jnp.asarray(GOOD), jnp.array([[1.0, -1.0]])))
