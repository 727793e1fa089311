"""The adversary finds known profitable misreports, and none against a truthful mechanism."""

import flax.nnx as nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.auctions.problem import AuctionProblem
from mechjax.auctions.valuations import UniformValuations
from mechjax.core.adversary import Adversary


def first_price(bids):
    """Hand-built single-item first price auction (highest bid wins, pays her bid)."""
    win = jax.nn.one_hot(jnp.argmax(bids[..., 0], axis=1), bids.shape[1])
    return win[..., None], win * bids[..., 0]


def second_price(bids):
    """Hand-built single-item second price auction."""
    b = bids[..., 0]
    win = jax.nn.one_hot(jnp.argmax(b, axis=1), b.shape[1])
    second = jnp.sort(b, axis=1)[:, -2]
    return win[..., None], win * second[:, None]


def smooth_first_price(bids, temperature=0.02):
    """Differentiable first price: softmax allocation, pays her bid times her allocation."""
    win = jax.nn.softmax(bids[..., 0] / temperature, axis=1)
    return win[..., None], win * bids[..., 0]


def run_adversary(mechanism, steps=200, restarts=4, batch=256):
    problem = AuctionProblem(UniformValuations.iid(2, 1))
    values = problem.sample(jax.random.key(0), batch)
    adversary = Adversary(problem, steps=steps, lr=0.05, restarts=restarts, warm_start=False)
    misreports, _ = adversary.solve(mechanism, values, (), jax.random.key(1), jnp.arange(batch))
    return problem, values, misreports


def test_adversary_shades_bids_against_first_price():
    problem, values, misreports = run_adversary(smooth_first_price)
    regret = problem.regret(smooth_first_price, values, misreports)
    # Under a (near) first price auction the best response of a winning bidder is to bid just
    # above the opponent: the adversary must find substantial gains, and they must be real
    # (regret is computed by re-running the mechanism, not read off the attacker).
    assert float(regret.mean()) > 0.05
    best = jnp.argmax(problem.deviation_utility(smooth_first_price, values, misreports), axis=0)
    chosen = jnp.take_along_axis(misreports, best[None, ..., None], axis=0)[0]
    winners = values[..., 0] > values[..., ::-1, 0]
    shaded = (chosen[..., 0] < values[..., 0] - 1e-3)[winners]
    assert float(shaded.mean()) > 0.9, "winners should shade their bids"


def test_adversary_finds_no_gain_against_second_price():
    problem, values, misreports = run_adversary(second_price)
    regret = problem.regret(second_price, values, misreports)
    assert float(regret.max()) <= 1e-6


def test_warm_start_buffer_persists_found_misreports():
    problem = AuctionProblem(UniformValuations.iid(2, 1))
    data = problem.sample(jax.random.key(0), 64)
    adversary = Adversary(problem, steps=20, lr=0.05, restarts=2, warm_start=True)
    carry = adversary.init(jax.random.key(1), data)
    assert carry.shape == (2, 64, 2, 1)
    index = jnp.arange(10, 42)
    found, new_carry = adversary.solve(smooth_first_price, data[index], carry, jax.random.key(2), index)
    np.testing.assert_array_equal(np.asarray(new_carry[:, index]), np.asarray(found))
    untouched = np.setdiff1d(np.arange(64), np.asarray(index))
    np.testing.assert_array_equal(np.asarray(new_carry[:, untouched]), np.asarray(carry[:, untouched]))


# ------------------------------------------------------------------ one forward for the outer step

def reference_loss_metrics(problem, outcome_fn, values, misreports):
    """The outer step's numbers the direct way: truthful outcome and deviations as separate calls."""
    alloc, pay = outcome_fn(values)
    truthful = jnp.sum(values * alloc, axis=-1) - pay
    deviation = []
    for r in range(misreports.shape[0]):  # every restart, and every deviator, on its own
        rows = []
        for i in range(values.shape[1]):
            bids = values.at[:, i].set(misreports[r, :, i])
            a, p = outcome_fn(bids)
            rows.append(jnp.sum(values[:, i] * a[:, i], axis=-1) - p[:, i])
        deviation.append(jnp.stack(rows, axis=1))
    regret = jax.nn.relu(jnp.stack(deviation).max(axis=0) - truthful).mean(axis=0)
    return jnp.stack(deviation), {"revenue": pay.sum(-1).mean(), "regret": regret.mean()}, regret


@pytest.mark.parametrize("bidders,items,restarts", [(2, 2, 1), (3, 2, 3), (1, 3, 2)])
def test_outer_step_terms_match_separate_calls(bidders, items, restarts):
    """The single batched forward (truthful and deviation profiles together) computes the same
    revenue, per-bidder regret and deviation utilities as calling the mechanism profile by profile."""
    from mechjax.auctions.nets.regretnet import RegretNet
    from mechjax.auctions.problem import truthful_and_deviation_outcomes

    problem = AuctionProblem(UniformValuations.iid(bidders, items, 0.0, 2.0))
    net = RegretNet(bidders, items, bid_low=0.0, bid_high=2.0, rngs=nnx.Rngs(3))
    values = problem.sample(jax.random.key(4), 64)
    misreports = problem.random_reports(jax.random.key(5), values, restarts)
    def call(f):  # each side jitted as a whole (op by op, the net's layers compiled ~120 small programs per case)
        return jax.jit(lambda v, m: f(net, v, m))(values, misreports)

    deviation, metrics, per_bidder = call(lambda n, v, m: reference_loss_metrics(problem, n, v, m))
    terms = call(problem.loss_terms)
    np.testing.assert_allclose(np.asarray(terms.violations), np.asarray(per_bidder), rtol=1e-5, atol=1e-7)
    for name in ("revenue", "regret"):
        np.testing.assert_allclose(float(terms.metrics[name]), float(metrics[name]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(call(problem.deviation_utility)), np.asarray(deviation),
                               rtol=1e-5, atol=1e-6)
    alloc, pay, own = call(truthful_and_deviation_outcomes)
    np.testing.assert_allclose(np.asarray(own), np.asarray(deviation), rtol=1e-5, atol=1e-6)
    assert alloc.shape == values.shape and pay.shape == values.shape[:2]
    # the regret is really measured: these random misreports gain something against a random net
    assert float(per_bidder.max()) > 0
