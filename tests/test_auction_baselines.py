"""Classical auction baselines: feasibility, IR, truthfulness on exact grids, and closed-form revenues.

Monte Carlo revenue checks use a fixed seed and a tolerance of 4 standard errors of the mean
(measured on the same draws): a correct mechanism fails with probability about 6e-5.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mechjax.auctions import baselines
from mechjax.auctions.baselines import BASELINES, build_baseline, optimal_bundle_price
from mechjax.auctions.valuations import UniformValuations
from mechjax.errors import ConfigError
from mechjax.testing.auctions import (
    assert_feasible,
    assert_individually_rational,
    assert_truthful_on_grid,
    grid_regret,
    revenue_and_standard_error,
)

SETTINGS = {
    "1x2_additive_U01": UniformValuations.iid(1, 2),
    "1x2_additive_U4-16xU4-7": UniformValuations.per_item(1, (4, 4), (16, 7)),
    "1x2_unit_U01": UniformValuations.iid(1, 2, demand="unit"),
    "1x2_unit_U23": UniformValuations.iid(1, 2, 2.0, 3.0, demand="unit"),
    "2x2_additive_U01": UniformValuations.iid(2, 2),
    "2x2_unit_U01": UniformValuations.iid(2, 2, demand="unit"),
    "3x3_unit_U01": UniformValuations.iid(3, 3, demand="unit"),
    "2x1_U01": UniformValuations.iid(2, 1),
    "3x1_asymmetric": UniformValuations(((0.0,), (0.5,), (1.0,)), ((1.0,), (2.0,), (3.0,))),
}
# Which baselines apply where: item-by-item auctions are refused for unit demand with >1 item.
ITEM_BY_ITEM = {"vcg", "second_price", "first_price", "itemwise_myerson", "bundle_pricing"}
EXPECTED_APPLICABLE = {
    "1x2_additive_U01": ITEM_BY_ITEM,
    "1x2_additive_U4-16xU4-7": ITEM_BY_ITEM,
    "1x2_unit_U01": {"vcg", "bundle_pricing"},
    "1x2_unit_U23": {"vcg", "bundle_pricing"},
    "2x2_additive_U01": ITEM_BY_ITEM,
    "2x2_unit_U01": {"vcg", "bundle_pricing"},
    "3x3_unit_U01": {"vcg", "bundle_pricing"},
    "2x1_U01": set(BASELINES),
    "3x1_asymmetric": set(BASELINES),
}
CASES = [(s, b) for s in SETTINGS for b in sorted(EXPECTED_APPLICABLE[s])]


@functools.cache
def mechanism(setting: str, name: str, **options):
    return jax.jit(build_baseline(name, SETTINGS[setting], **options))


def values(setting: str, batch: int, seed: int = 0):
    return SETTINGS[setting].sample(jax.random.PRNGKey(seed), batch)


def with_ties(setting: str, batch: int, seed: int = 0):
    """Values rounded to a coarse grid inside the support, so many bids tie."""
    v = SETTINGS[setting]
    unit = jnp.round(jax.random.uniform(jax.random.PRNGKey(seed), (batch, v.num_bidders, v.num_items)) * 4) / 4
    return v.low_array[None] + unit * (v.high_array - v.low_array)[None]


def scale(setting: str) -> float:
    return float(np.max(SETTINGS[setting].high))


# --------------------------------------------------------------------------- applicability and errors

@pytest.mark.parametrize("setting", SETTINGS)
def test_applicability_matches_the_documented_rules(setting):
    applicable = set()
    for name in BASELINES:
        try:
            build_baseline(name, SETTINGS[setting])
            applicable.add(name)
        except ConfigError:
            pass
    assert applicable == EXPECTED_APPLICABLE[setting]


@pytest.mark.parametrize("name, valuations, options, field", [
    ("nope", UniformValuations.iid(1, 1), {}, "mechanism.name"),
    ("myerson", UniformValuations.iid(2, 2), {}, "problem.num_items"),
    ("second_price", UniformValuations.iid(2, 2, demand="unit"), {}, "problem.demand"),
    ("itemwise_myerson", UniformValuations.iid(1, 3, demand="unit"), {}, "problem.demand"),
    ("vcg", UniformValuations.iid(2, 2), {"reserve": 0.1}, "mechanism.reserve"),
    ("second_price", UniformValuations.iid(2, 2), {"reserve": -1.0}, "mechanism.reserve"),
    ("second_price", UniformValuations.iid(2, 2), {"reserve": (0.1, 0.2, 0.3)}, "mechanism.reserve"),
    ("second_price", UniformValuations(((0.0,), (0.0,)), ((1.0,), (2.0,))), {"reserve": "monopoly"},
     "mechanism.reserve"),
    ("vcg", UniformValuations.iid(8, 8, demand="unit"), {}, "mechanism.max_assignments"),
    ("vcg", UniformValuations.iid(2, 2), {"method": "hungarian"}, "mechanism.method"),
    ("bundle_pricing", UniformValuations.iid(2, 2), {"search": "bisect"}, "mechanism.search"),
    ("bundle_pricing", UniformValuations.iid(2, 2), {"price": -0.5}, "mechanism.price"),
])
def test_bad_configuration_names_the_field(name, valuations, options, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build_baseline(name, valuations, **options)


# --------------------------------------------------------------------------- feasibility and IR

@pytest.mark.parametrize("setting, name", CASES)
def test_outcomes_are_feasible_and_individually_rational(setting, name):
    mech = mechanism(setting, name)
    for v in (values(setting, 512, seed=1), with_ties(setting, 512, seed=2)):
        alloc, pay = mech(v)
        assert_feasible(v, alloc, pay, SETTINGS[setting].demand)
        assert_individually_rational(mech, v, atol=1e-5 * scale(setting))


# --------------------------------------------------------------------------- truthfulness (exact grids)

TRUTHFUL = [("2x2_additive_U01", "vcg", {}), ("2x2_unit_U01", "vcg", {}), ("3x3_unit_U01", "vcg", {}),
            ("1x2_unit_U23", "vcg", {}), ("2x2_additive_U01", "second_price", {"reserve": (0.3, 0.6)}),
            ("3x1_asymmetric", "second_price", {"reserve": 0.7}), ("2x1_U01", "myerson", {}),
            ("3x1_asymmetric", "myerson", {}), ("1x2_additive_U4-16xU4-7", "itemwise_myerson", {}),
            ("2x2_additive_U01", "itemwise_myerson", {}), ("1x2_additive_U01", "bundle_pricing", {}),
            ("2x2_additive_U01", "bundle_pricing", {}), ("2x2_unit_U01", "bundle_pricing", {})]


@pytest.mark.parametrize("setting, name, options", TRUTHFUL)
def test_no_misreport_on_a_fine_grid_is_profitable(setting, name, options):
    valuations = SETTINGS[setting]
    points = 201 if valuations.num_items == 1 else (41 if valuations.num_items == 2 else 11)
    v = values(setting, 48, seed=3)
    mech = mechanism(setting, name, **options)
    assert_truthful_on_grid(mech, valuations, v, points_per_item=points, atol=1e-5 * scale(setting))


@pytest.mark.parametrize("setting", ["2x1_U01", "2x2_additive_U01"])
def test_first_price_has_profitable_deviations(setting):
    regret = np.asarray(grid_regret(mechanism(setting, "first_price"), SETTINGS[setting], values(setting, 256),
                                    points_per_item=21))
    # Shading to half one's value in a 2-bidder U[0,1] first-price auction gains about 1/12 per item.
    assert regret.mean() > 0.03 * SETTINGS[setting].num_items
    # A winner shades towards the runner-up's bid; only near-ties (gap under one grid step) leave no gain.
    assert (regret.max(axis=1) > 1e-3).mean() > 0.8


# --------------------------------------------------------------------------- definitions, against references

def test_second_and_first_price_match_a_reference_loop():
    valuations = UniformValuations.iid(3, 2)
    reserve = np.array([0.25, 0.5])
    bids = np.round(np.asarray(jax.random.uniform(jax.random.PRNGKey(4), (200, 3, 2))) * 4) / 4
    second, first = ([np.asarray(x) for x in jax.jit(build_baseline(name, valuations, reserve=tuple(reserve)))(bids)]
                     for name in ("second_price", "first_price"))
    for b in range(bids.shape[0]):
        for j in range(2):
            eligible = [i for i in range(3) if bids[b, i, j] >= reserve[j]]
            expected = np.zeros(3)
            if eligible:
                top = max(bids[b, i, j] for i in eligible)
                expected[min(i for i in eligible if bids[b, i, j] == top)] = 1.0
            np.testing.assert_array_equal(second[0][b, :, j], expected)
            np.testing.assert_array_equal(first[0][b, :, j], expected)
        for i in range(3):
            due_second = sum(max(reserve[j], max(np.delete(bids[b, :, j], i))) for j in range(2)
                             if second[0][b, i, j] == 1)
            due_first = sum(bids[b, i, j] for j in range(2) if first[0][b, i, j] == 1)
            np.testing.assert_allclose(second[1][b, i], due_second, atol=1e-6)
            np.testing.assert_allclose(first[1][b, i], due_first, atol=1e-6)


@pytest.mark.parametrize("bidders, items", [(1, 3), (3, 2), (2, 3)])
def test_vcg_by_enumeration_equals_itemwise_second_price_for_additive_bidders(bidders, items):
    valuations = UniformValuations.iid(bidders, items)
    bids = valuations.sample(jax.random.PRNGKey(bidders * 10 + items), 400)
    enumerated = jax.jit(build_baseline("vcg", valuations, method="enumerate"))(bids)
    second = jax.jit(build_baseline("second_price", valuations, reserve=0.0))(bids)
    np.testing.assert_array_equal(enumerated[0], second[0])
    np.testing.assert_allclose(enumerated[1], second[1], atol=1e-5)


@pytest.mark.parametrize("bidders, items", [(2, 3), (4, 3), (5, 5)])
def test_unit_demand_vcg_matches_scipy_assignment(bidders, items):
    linear_sum_assignment = pytest.importorskip("scipy.optimize").linear_sum_assignment
    valuations = UniformValuations.iid(bidders, items, demand="unit")
    bids = np.asarray(valuations.sample(jax.random.PRNGKey(bidders * 10 + items), 40), np.float64)
    alloc, pay = (np.asarray(x) for x in jax.jit(build_baseline("vcg", valuations))(jnp.asarray(bids, jnp.float32)))

    def best_welfare(matrix):
        if matrix.size == 0:
            return 0.0
        rows, cols = linear_sum_assignment(matrix, maximize=True)
        return matrix[rows, cols].sum()

    for b in range(bids.shape[0]):
        welfare = (alloc[b] * bids[b]).sum()
        np.testing.assert_allclose(welfare, best_welfare(bids[b]), atol=1e-5)
        for i in range(bidders):
            others_now = welfare - (alloc[b, i] * bids[b, i]).sum()
            clarke = best_welfare(np.delete(bids[b], i, axis=0)) - others_now
            np.testing.assert_allclose(pay[b, i], clarke, atol=1e-5)


def test_myerson_charges_the_smallest_winning_bid():
    setting = "3x1_asymmetric"
    mech = mechanism(setting, "myerson")
    v = values(setting, 400, seed=5)
    alloc, pay = (np.asarray(x) for x in mech(v))
    sample, bidder = np.nonzero(alloc[:, :, 0])
    assert len(sample) > 100
    threshold = pay[sample, bidder]

    def wins_with(bid):
        probe = np.asarray(v).copy()
        probe[sample, bidder, 0] = bid
        return np.asarray(mech(jnp.asarray(probe))[0])[sample, bidder, 0] == 1

    assert wins_with(threshold + 1e-3).all()
    # Just below the threshold she loses, unless the threshold is the bottom of her report box.
    inside_box = threshold > np.asarray(SETTINGS[setting].low)[bidder, 0] + 1e-6
    assert inside_box.sum() > 50
    assert not wins_with(threshold - 1e-3)[inside_box].any()


@pytest.mark.parametrize("valuations", [UniformValuations.iid(2, 2), UniformValuations.iid(3, 1, 2.0, 3.0),
                                        UniformValuations.per_item(1, (4, 4), (16, 7))])  # low binds: 4 > 7/2
def test_second_price_with_monopoly_reserve_equals_myerson_for_iid_bidders(valuations):
    v = valuations.sample(jax.random.PRNGKey(6), 2000)
    myerson = jax.jit(build_baseline("itemwise_myerson", valuations))(v)
    second = jax.jit(build_baseline("second_price", valuations, reserve="monopoly"))(v)
    np.testing.assert_array_equal(myerson[0], second[0])
    np.testing.assert_allclose(myerson[1], second[1], atol=1e-5)


# --------------------------------------------------------------------------- revenue against closed forms

def assert_revenue(mech, v, expected):
    revenue, se = revenue_and_standard_error(mech, v)
    # 4 standard errors, plus float32 rounding for revenues that do not vary (a price below every value).
    assert abs(revenue - expected) <= 4 * se + 1e-6 * abs(expected), (
        f"revenue {revenue} +- {se} vs closed form {expected}")


@pytest.mark.parametrize("bidders", [2, 3, 5])
def test_single_item_revenues_match_closed_forms(bidders):
    valuations = UniformValuations.iid(bidders, 1)
    v = valuations.sample(jax.random.PRNGKey(7), 200_000)
    n = bidders
    # Myerson = E[max(2 v_(1) - 1, 0)]; second price = E[v_(2)] = (n - 1) / (n + 1).
    myerson = 2 * n / (n + 1) * (1 - 0.5 ** (n + 1)) - (1 - 0.5 ** n)
    assert_revenue(jax.jit(build_baseline("myerson", valuations)), v, myerson)
    assert_revenue(jax.jit(build_baseline("second_price", valuations)), v, (n - 1) / (n + 1))
    if n == 2:
        assert abs(myerson - 5 / 12) < 1e-12


def test_separate_selling_to_one_additive_bidder_earns_one_half():
    v = values("1x2_additive_U01", 200_000, seed=8)
    assert_revenue(mechanism("1x2_additive_U01", "itemwise_myerson"), v, 0.5)
    assert_revenue(mechanism("1x2_additive_U01", "second_price", reserve=0.5), v, 0.5)


def test_grand_bundle_for_one_bidder_two_items():
    valuations = SETTINGS["1x2_additive_U01"]
    price = optimal_bundle_price(valuations)
    assert price == pytest.approx(math.sqrt(2 / 3), abs=1e-5)
    v = values("1x2_additive_U01", 200_000, seed=9)
    assert_revenue(mechanism("1x2_additive_U01", "bundle_pricing"), v, 2 / 3 * math.sqrt(2 / 3))


@pytest.mark.parametrize("valuations, optimum", [
    (UniformValuations.iid(1, 1), 0.5),
    (UniformValuations.iid(1, 2, demand="unit"), 1 / math.sqrt(3)),  # max of two U[0,1]: p (1 - p^2)
    (UniformValuations.iid(1, 2, 2.0, 3.0, demand="unit"), 2 + (math.sqrt(28) - 4) / 6),
    (UniformValuations.iid(3, 1), 0.5),  # the optimal reserve does not depend on the number of bidders
    (UniformValuations.iid(2, 2), math.sqrt(2 / 3)),
])
def test_exact_bundle_price_matches_closed_forms(valuations, optimum):
    assert optimal_bundle_price(valuations) == pytest.approx(optimum, abs=1e-5)


@pytest.mark.parametrize("setting", ["1x2_additive_U4-16xU4-7", "2x2_unit_U01", "3x3_unit_U01"])
def test_exact_bundle_revenue_curve_matches_monte_carlo(setting):
    valuations = SETTINGS[setting]
    revenue, top = baselines._exact_revenue_curve(valuations)
    v = values(setting, 100_000, seed=10)
    for fraction in (0.3, 0.5, 0.7):  # for U[4,16]xU[4,7] the first price is below every bundle value
        mech = jax.jit(build_baseline("bundle_pricing", valuations, price=fraction * top))
        assert_revenue(mech, v, float(revenue(fraction * top)))


def test_sampled_bundle_search_is_deterministic_and_near_the_optimum():
    valuations = SETTINGS["1x2_additive_U01"]
    first = optimal_bundle_price(valuations, search="sampled", seed=3, num_samples=100_000)
    assert first == optimal_bundle_price(valuations, search="sampled", seed=3, num_samples=100_000)
    assert first != optimal_bundle_price(valuations, search="sampled", seed=4, num_samples=100_000)
    # Revenue p - p^3/2 loses about 1.2 (p - p*)^2 near p*; sampling noise in the curve (~1e-3)
    # moves the maximiser by a few hundredths at most.
    assert abs(first - math.sqrt(2 / 3)) < 0.05


# --------------------------------------------------------------------------- the baselines results table

def test_baselines_study_smoke():
    from mechjax.auctions.studies.baselines import OPTIONS, baselines_study
    options = {**OPTIONS, "samples": 2000, "regret_samples": 8, "grid": 5,
               "settings": ("1x2_unit_U01", "single_item_n2"), "baselines": ("second_price", "myerson")}
    text, data = baselines_study(0, options)
    assert "| single_item_n2 | myerson |" in text and "| 1x2_unit_U01 | second_price |" not in text
    assert "- 1x2_unit_U01 / second_price, " in text  # listed as not applicable, with the reason
    myerson = next(r for r in data["rows"] if r["baseline"] == "myerson")
    assert myerson["closed_form"] == pytest.approx(5 / 12)  # E[max(2 v_(1) - 1, 0)] for two U[0,1] bidders
    assert abs(myerson["revenue"] - 5 / 12) < 4 * myerson["revenue_se"]
    with pytest.raises(ConfigError, match="settings: unknown"):
        baselines_study(0, {**options, "settings": ("2x9_nowhere",)})


@pytest.mark.parametrize("setting, label", [("single_item_n3", "myerson"), ("single_item_n5", "second_price"),
                                            ("2x2_additive_U01", "itemwise_myerson"), ("1x2_unit_U23", "bundle_pricing")])
def test_closed_forms_match_monte_carlo(setting, label):
    from mechjax.auctions.closed_forms import SETTINGS as CLOSED
    from mechjax.auctions.closed_forms import closed_form
    from mechjax.auctions.studies.baselines import VARIANTS, monte_carlo_revenue
    name, options = next((n, o) for row_label, n, o in VARIANTS if row_label == label)
    mechanism = jax.jit(build_baseline(name, CLOSED[setting], **options))
    revenue, se = monte_carlo_revenue(mechanism, CLOSED[setting], jax.random.PRNGKey(5), 200_000)
    assert abs(revenue - closed_form(setting, label)) < 4 * se
