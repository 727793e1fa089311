"""The strong evaluator: zero regret for truthful baselines, real regret for first price, and the optimum flag."""

import jax.numpy as jnp
import pytest

from mechjax import experiment
from mechjax.auctions.baselines import build_baseline
from mechjax.auctions.evaluate import AttackConfig, evaluate_auction
from mechjax.auctions.problem import AuctionProblem
from mechjax.auctions.valuations import UniformValuations

from conftest import compose_config

SMALL = AttackConfig(steps=40, restarts=3, grid=21, grid_init=2, num_samples=256, revenue_samples=4096,
                     batch_size=256)


@pytest.mark.parametrize("name,bidders,items", [
    ("vcg", 2, 2), ("second_price", 3, 1), ("myerson", 2, 1), ("itemwise_myerson", 2, 2), ("bundle_pricing", 1, 2),
])
def test_truthful_baselines_show_no_regret(name, bidders, items):
    problem = AuctionProblem(UniformValuations.iid(bidders, items))
    summary = evaluate_auction(build_baseline(name, problem.valuations), problem, SMALL)
    assert summary["regret_max"] <= 1e-5
    assert summary["attack"]["grid_used"]


def test_first_price_shows_regret():
    problem = AuctionProblem(UniformValuations.iid(2, 1))
    summary = evaluate_auction(build_baseline("first_price", problem.valuations), problem, SMALL)
    assert summary["regret"] > 0.05
    assert len(summary["regret_per_bidder"]) == 2 and min(summary["regret_per_bidder"]) > 0.05


def test_revenue_above_known_optimum_is_flagged():
    """Charging the full bundle value (not IC) 'beats' the 1x2 optimum; the evaluator must say so."""
    problem = AuctionProblem(UniformValuations.iid(1, 2), optimal_revenue=0.5491)

    def extract_everything(bids):
        alloc = jnp.ones_like(bids)
        return alloc, 0.999 * bids.sum(axis=-1)

    weak = AttackConfig(steps=1, restarts=0, grid=0, grid_init=0, num_samples=256, revenue_samples=4096,
                        batch_size=256, allow_weak=True, lr=1e-6)
    summary = evaluate_auction(extract_everything, problem, weak)
    assert summary["revenue"] > 0.9
    # The weak attacker barely finds regret, so the revenue cannot be explained: flagged.
    assert summary["revenue_exceeds_optimum"] is True
    strong = evaluate_auction(extract_everything, problem, SMALL)
    assert strong["regret"] > 0.5  # a real attacker finds the deviation (bid the minimum)


def test_excess_bound_holds_for_a_discounted_menu():
    """The bound is tight enough to be useful and never violated by a mechanism whose regret we know.

    Posted price p per item, but the bidder is charged q > p when she buys both (non-IC). Her best
    deviation (report one item below p) is computed in closed form, so the true regret is known.
    """
    from mechjax.auctions.evaluate import revenue_excess_bound
    assert revenue_excess_bound(0.55, 0.0) == 0.0
    assert revenue_excess_bound(0.55, 1e-4) == pytest.approx(2 * (0.55 * 1e-4) ** 0.5, rel=0.05)
    rng = __import__("numpy").random.default_rng(0)
    v = rng.uniform(size=(200_000, 2))
    opt = 0.5491
    for p, q in [(0.5, 1.1), (0.55, 1.2), (0.6, 1.3)]:
        both = (v > p).all(axis=1)
        one = (v > p).any(axis=1) & ~both
        revenue = (both * q + one * p).mean()
        # A buyer of both would rather buy only her better item when that gains her q - p - min(v).
        regret = (both * (0.0 + (q - p) - v.min(axis=1)).clip(min=0)).mean()
        assert revenue <= opt + revenue_excess_bound(opt, regret) + 1e-3


def test_classical_mechanism_evaluates_through_the_config():
    summary = experiment.evaluate(compose_config(["problem=auction/single_item_2", "mechanism=myerson",
                                                  "attack.num_samples=256", "attack.batch_size=256",
                                                  "attack.revenue_samples=65536", "attack.steps=20"],
                                                 config_name="evaluate"))
    assert summary["revenue"] == pytest.approx(5 / 12, abs=4 * summary["revenue_stderr"])
    assert summary["regret_max"] <= 1e-6 and summary["learned"] is False
