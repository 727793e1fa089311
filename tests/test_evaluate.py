"""The strong evaluator: zero regret for truthful baselines, real regret for first price, and the optimum flag."""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
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


# --- cost: chunks of fixed size, tiles inside them, the same attack whatever the tiling

def _smooth_mechanism(bids):
    """A non-IC but smooth 2-bidder auction (softmax allocation, 0.6 x value payments): real regret."""
    alloc = jax.nn.softmax(8.0 * bids, axis=1)
    return alloc, 0.6 * jnp.sum(bids * alloc, axis=-1)


CHUNK_ATTACK = AttackConfig(steps=6, restarts=2, grid=5, grid_init=1, num_samples=64, revenue_samples=64 * 8,
                            batch_size=64, allow_weak=True)


def _counting(mechanism):
    """``mechanism`` that records the shape of every bids array it is traced or called with."""
    shapes = []

    def counted(bids):
        shapes.append(tuple(bids.shape))
        return mechanism(bids)

    return counted, shapes


def test_ten_times_the_samples_build_the_same_arrays(monkeypatch):
    """Memory is bounded by the chunk: 10x the samples trace the same shapes, compile the same
    program (same temporary memory), and hand the host at most one chunk at a time."""
    from mechjax.auctions import evaluate as evaluate_lib
    problem = AuctionProblem(UniformValuations.iid(2, 2))
    seen = {}
    real_make, real_add = evaluate_lib.make_attack_chunk, evaluate_lib._RunningStats.add
    for factor in (1, 10):
        attack = dataclasses.replace(CHUNK_ATTACK, num_samples=64 * factor, revenue_samples=64 * 8 * factor)
        mechanism, shapes = _counting(_smooth_mechanism)
        compiled, rows = [], []

        def make(*args, **kwargs):
            fn, plan = real_make(*args, **kwargs)
            compiled.append(fn)
            return fn, plan

        def add(self, values):
            rows.append(len(values))
            real_add(self, values)

        monkeypatch.setattr(evaluate_lib, "make_attack_chunk", make)
        monkeypatch.setattr(evaluate_lib._RunningStats, "add", add)
        summary = evaluate_auction(mechanism, problem, attack)
        assert summary["num_samples"] == 64 * factor and summary["revenue_samples"] == 64 * 8 * factor
        memory = compiled[0].lower(jax.random.key(0), np.int32(0)).compile().memory_analysis()
        seen[factor] = (sorted(set(shapes)), len(shapes), getattr(memory, "temp_size_in_bytes", None), max(rows))
    assert seen[10] == seen[1]  # no array, trace or compile grows with the number of samples
    # the largest batch the mechanism sees is a multiple of the chunk: every grid point's deviation
    # profiles (5^2 points x 2 bidders) or the revenue chunk (8 chunks)
    assert max(shape[0] for shape in seen[1][0]) <= 64 * max(8, 25 * 2)
    assert seen[1][3] <= 64 * 8


def test_tiling_does_not_change_the_attack():
    """One tile per sample, the automatic tiles and one tile per chunk find the same regret per sample."""
    from mechjax.auctions.evaluate_attack import make_attack_chunk
    problem = AuctionProblem(UniformValuations.iid(2, 2))
    results = {}
    for tile in (1, None, 48):  # 48 does not divide the chunk: the last tile is padded
        attack = dataclasses.replace(CHUNK_ATTACK, tile_size=tile)
        fn, plan = make_attack_chunk(problem, _smooth_mechanism, attack, 64)
        regret, ir, steps = fn(jax.random.key(3), np.int32(2))
        results[tile] = np.asarray(regret)
        assert regret.shape == (64, 2) and ir.shape == (64,) and steps.shape == (plan["tiles"],)
    assert results[1].mean() > 1e-3  # the mechanism is manipulable: regret is really found
    for tile in (None, 48):
        np.testing.assert_allclose(results[tile], results[1], rtol=1e-4, atol=1e-6)


def test_chunk_samples_do_not_depend_on_how_many_chunks_run():
    """Chunk i is drawn from fold_in(seed, i): more samples extend the sample, they do not redraw it;
    a number of samples that is not a multiple of the chunk counts a prefix of the last chunk."""
    from mechjax.auctions.evaluate_attack import make_attack_chunk
    problem = AuctionProblem(UniformValuations.iid(2, 1))
    mechanism = build_baseline("first_price", problem.valuations)
    fn, _ = make_attack_chunk(problem, mechanism, CHUNK_ATTACK, 64)
    key = jax.random.key(CHUNK_ATTACK.seed)
    chunks = [np.asarray(fn(key, np.int32(i))[0], np.float64) for i in range(2)]  # [64, 2] each
    for num_samples, expected in ((64, chunks[0]), (100, np.concatenate([chunks[0], chunks[1][:36]])),
                                  (128, np.concatenate(chunks))):
        summary = evaluate_auction(mechanism, problem, dataclasses.replace(CHUNK_ATTACK, num_samples=num_samples))
        assert summary["num_samples"] == num_samples
        np.testing.assert_allclose(summary["regret_per_bidder"], expected.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(summary["regret_max_per_bidder"], expected.max(axis=0), rtol=1e-6)
    assert chunks[1].mean() > 0.01 and not np.allclose(chunks[0], chunks[1])  # two different, manipulable chunks


def test_running_stats_match_numpy_over_the_whole_stream():
    from mechjax.auctions.evaluate import _RunningStats
    rng = np.random.default_rng(0)
    rows = rng.exponential(size=(1000, 3)).astype(np.float32)
    stats = _RunningStats(3)
    for start in range(0, 1000, 137):
        stats.add(rows[start:start + 137])
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, rows.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.max, rows.max(axis=0))
    np.testing.assert_allclose(stats.stderr(), rows.std(axis=0, ddof=1) / np.sqrt(1000), rtol=1e-6)


def test_stationary_starts_skip_the_ascent_and_moving_ones_do_not():
    """A zero gradient everywhere (a menu's argmax) leaves Adam where it starts: the skip returns the
    starts' utilities and runs no step; a smooth utility, with early stopping off, is ascended for
    every step exactly as core.adversary.ascend does (its best is at least the final iterate's)."""
    from mechjax.auctions.evaluate_attack import ascend_until_settled
    from mechjax.core.adversary import ascend
    problem = AuctionProblem(UniformValuations.iid(2, 2))
    values = problem.sample(jax.random.key(0), 16)
    init = problem.random_reports(jax.random.key(1), values, 3)
    for mechanism, moves in ((build_baseline("vcg", problem.valuations), False), (_smooth_mechanism, True)):
        @jax.jit  # its direct calls below: one program, not the mechanism's ops one by one
        def utility(x):
            return problem.deviation_utility(mechanism, values, x)

        full = ascend(utility, init, problem.project, 20, 0.05, problem.report_scale)
        best, steps = ascend_until_settled(utility, init, problem.project, 20, 0.05, problem.report_scale,
                                           check_every=6, tol=None)  # 3 checks and 2 more steps
        assert int(steps) == (20 if moves else 0)
        assert bool(jnp.any(full != init)) == moves
        np.testing.assert_array_less(np.asarray(utility(full)) - 1e-6, np.asarray(best))
        np.testing.assert_array_less(np.asarray(utility(init)) - 1e-6, np.asarray(best))
        if not moves:
            np.testing.assert_array_equal(np.asarray(best), np.asarray(utility(init)))


def _clip(x):
    return jnp.clip(x, 0.0, 1.0)


def test_a_settled_ascent_stops_early_and_loses_nothing():
    """Concave utilities with their peaks inside the box: Adam reaches them in far fewer than the
    allowed steps; the early-stopped ascent stops, at a best within tol-scale of the full run's."""
    from mechjax.auctions.evaluate_attack import ascend_until_settled
    target = jax.random.uniform(jax.random.key(0), (5, 8, 2, 2), minval=0.2, maxval=0.8)
    init = jax.random.uniform(jax.random.key(1), (5, 8, 2, 2))

    def utility(x):
        return -jnp.sum((x - target) ** 2, axis=-1)

    full, full_steps = ascend_until_settled(utility, init, _clip, 1000, 0.02, None, 10, None)
    early, early_steps = ascend_until_settled(utility, init, _clip, 1000, 0.02, None, 10, 1e-6)
    assert int(full_steps) == 1000 and int(early_steps) < 500 and int(early_steps) % 10 == 0
    assert float(jnp.max(full - early)) < 1e-4
    assert float(jnp.min(early)) > -1e-3  # every start found its peak


def test_a_start_drifting_across_a_flat_region_is_not_taken_for_settled():
    """A utility whose slope (above Adam's eps) is far too small to improve by tol in a check, but whose peak is at the
    far corner: Adam's normalised steps still cross the box, and the ascent must not stop there."""
    from mechjax.auctions.evaluate_attack import ascend_until_settled
    init = jnp.zeros((3, 4, 2, 2))

    def utility(x):
        return 1e-7 * jnp.sum(x, axis=-1) + jnp.where(jnp.all(x > 0.9, axis=-1), 1.0, 0.0)

    best, steps = ascend_until_settled(utility, init, _clip, 200, 0.02, None, 10, 1e-6, drift_guard=True)
    assert float(jnp.min(best)) > 0.5  # every start reached the corner's plateau
    assert int(steps) >= 50  # Adam needs ~46 steps of 0.02 to get past 0.9
    # without the guard (the evaluator's choice when its grid has sampled every region) the tiny
    # improvements alone read as settled at the first check
    unguarded, unguarded_steps = ascend_until_settled(utility, init, _clip, 200, 0.02, None, 10, 1e-6,
                                                      drift_guard=False)
    assert int(unguarded_steps) == 10 and float(jnp.max(unguarded)) < 1e-3


def test_attack_shows_progress_per_chunk(monkeypatch):
    from mechjax import progress
    from mechjax.auctions import evaluate as evaluate_lib
    updates = {}

    class Bar:
        def __init__(self, total, desc, unit):
            self.desc = desc
            updates[desc] = [total]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            updates[self.desc].append(n)

        def set_postfix(self, **kw):
            pass

    monkeypatch.setattr(progress, "bar", Bar)
    problem = AuctionProblem(UniformValuations.iid(2, 1))
    evaluate_lib.evaluate_auction(build_baseline("vcg", problem.valuations), problem,
                                  dataclasses.replace(CHUNK_ATTACK, num_samples=160, revenue_samples=1024))
    assert updates["evaluate: attack"] == [160, 64, 64, 32]
    assert updates["evaluate: revenue"] == [1024, 512, 512]


def test_tile_size_must_be_positive():
    from mechjax.errors import ConfigError
    with pytest.raises(ConfigError, match="attack.tile_size"):
        AttackConfig(tile_size=0)


# --- known optima follow the setting, never the preset it was written for

def test_optimum_follows_overrides_of_the_setting():
    from mechjax import config as config_lib
    from mechjax import registry

    registry.import_domains()

    def build(*overrides):  # the problem section alone: no network is built
        return registry.PROBLEMS["auction"](config_lib.to_dict(compose_config(list(overrides)))["problem"])

    assert build().optimal_revenue == pytest.approx(0.5491)  # the default 1x2 preset
    assert build("problem.num_bidders=5", "problem.num_items=10").optimal_revenue is None
    assert build("problem=auction/additive_5x10").optimal_revenue is None
    assert build("problem=auction/additive_2x3").optimal_revenue is None
    assert build("problem=auction/unit_2x2").optimal_revenue is None
    assert build("problem=auction/unit_1x2").optimal_revenue == pytest.approx(0.3843)
    assert build("problem=auction/single_item_3", "problem.num_bidders=4").optimal_revenue == pytest.approx(0.6125)
    assert build("problem.optimal_revenue=null").optimal_revenue is None
    assert build("problem.optimal_revenue=0.55").optimal_revenue == 0.55  # agrees within the tolerance
    assert build("problem=auction/additive_2x2", "problem.optimal_revenue=0.9").optimal_revenue == 0.9  # none known


@pytest.mark.parametrize("bidders,low,high", [(1, 0.0, 1.0), (2, 0.0, 1.0), (3, 2.0, 3.0), (4, 0.5, 1.0), (7, 0.0, 4.0)])
def test_single_item_optimum_matches_myerson_auction_by_monte_carlo(bidders, low, high):
    """The closed form against Myerson's auction simulated directly (second price, reserve max(low, high/2))."""
    from mechjax.auctions.optima import known_optimum
    rng = np.random.default_rng(bidders)
    v = np.sort(rng.uniform(low, high, size=(400_000, bidders)), axis=1)
    reserve = max(low, high / 2)
    second = v[:, -2] if bidders > 1 else np.full(len(v), low)
    revenue = np.where(v[:, -1] >= reserve, np.maximum(second, reserve), 0.0)
    stderr = revenue.std() / np.sqrt(len(revenue))
    assert known_optimum(bidders, 1, "additive", [low], [high]).revenue == pytest.approx(revenue.mean(), abs=4 * stderr)


def test_manelli_vincent_optimum_matches_its_menu():
    """The 1x2 table entry against the optimal menu itself (items at 2/3, bundle at (4 - sqrt 2)/3)."""
    from mechjax.auctions.optima import known_optimum
    v = np.random.default_rng(0).uniform(size=(1_000_000, 2))
    prices = np.array([0.0, 2 / 3, 2 / 3, (4 - np.sqrt(2)) / 3])
    utility = np.stack([np.zeros(len(v)), v[:, 0] - prices[1], v[:, 1] - prices[2], v.sum(1) - prices[3]], 1)
    revenue = prices[utility.argmax(1)]
    entry = known_optimum(1, 2, "additive", [0, 0], [1, 1])
    assert entry.revenue == pytest.approx(revenue.mean(), abs=4 * revenue.std() / 1000 + 1e-4)


def test_non_finite_summary_is_refused_naming_the_key(tmp_path):
    from mechjax.errors import NonFiniteError
    path = tmp_path / "summary.json"
    with pytest.raises(NonFiniteError, match=r"sizes\[1\]\.accuracy"):
        experiment.write_summary(str(path), {"revenue": 0.5, "sizes": [{"accuracy": 1.0}, {"accuracy": float("nan")}]})
    assert not path.exists()
    experiment.write_summary(str(path), {"revenue": 0.5})
    assert path.exists()


# --- several seeds, and evaluating runs that did not finish

@pytest.fixture(scope="module")
def two_seed_run(tmp_path_factory):
    from conftest import TINY
    run_dir = tmp_path_factory.mktemp("two_seeds")
    cfg = compose_config([*TINY, "trainer.num_seeds=2", "trainer.steps=10", "trainer.checkpoint_every=10"])
    return run_dir, experiment.train(cfg, str(run_dir))


@pytest.mark.slow
def test_multi_seed_summary_keeps_every_seed_and_the_spread(two_seed_run):
    import json

    from mechjax.report import summary_table
    run_dir, summary = two_seed_run
    written = json.load(open(run_dir / "summary.json"))
    per_seed = written["per_seed"]
    assert len(per_seed) == 2 and per_seed[0]["revenue"] != per_seed[1]["revenue"]
    assert written["revenue"] == pytest.approx(np.mean([s["revenue"] for s in per_seed]))
    assert written["revenue_seeds"] == [s["revenue"] for s in per_seed]
    # list fields are per seed too (they used to be seed 0's)
    assert written["regret_per_bidder_seeds"] == [s["regret_per_bidder"] for s in per_seed]
    assert written["regret_per_bidder"] == pytest.approx(np.mean([s["regret_per_bidder"] for s in per_seed], axis=0))
    spread = written["seed_spread"]["regret"]
    values = [s["regret"] for s in per_seed]
    assert spread == pytest.approx({"mean": np.mean(values), "std": np.std(values), "min": min(values), "max": max(values)})
    table = summary_table(summary)
    assert "±" in table and "seeds" in table
    for value in values:
        assert f"{value:.6g}" in table
    assert "training wall time" in table and "evaluation wall time" in table


@pytest.mark.slow
def test_evaluate_a_run_without_summary_uses_its_latest_checkpoint(two_seed_run, tmp_path):
    import json
    import shutil
    run_dir = tmp_path / "interrupted"
    shutil.copytree(two_seed_run[0], run_dir)
    os.remove(run_dir / "summary.json")
    out = tmp_path / "eval"
    cfg = compose_config([*SMALL_ATTACK], config_name="evaluate")
    summary = experiment.evaluate(cfg, run_dir=str(run_dir), out_dir=str(out))
    assert "latest good checkpoint, step 10" in summary["note"] and summary["steps"] == 10
    written = json.load(open(out / "summary.json"))  # the result is written
    assert written["note"] == summary["note"] and len(written["per_seed"]) == 2


def test_evaluate_a_run_without_checkpoints_fails_before_evaluating(tmp_path, monkeypatch):
    import yaml

    from mechjax import config as config_lib
    from mechjax import registry
    from mechjax.errors import DataError

    from conftest import TINY
    cfg = config_lib.to_dict(compose_config([*TINY]))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setitem(registry.EVALUATORS, "auction", lambda *a: pytest.fail("evaluated a run with no checkpoint"))
    with pytest.raises(DataError, match="no checkpoint"):
        experiment.evaluate(compose_config([*SMALL_ATTACK], config_name="evaluate"), run_dir=str(tmp_path),
                            out_dir=str(tmp_path / "eval"))


SMALL_ATTACK = ["attack.steps=5", "attack.restarts=1", "attack.grid=3", "attack.grid_init=1", "attack.num_samples=64",
                "attack.revenue_samples=256", "attack.batch_size=64", "attack.allow_weak=true", "progress=false"]
