"""Every auction problem preset and every voting experiment preset smoke-runs at tiny size, end to end."""

import json
import os

import jax
import numpy as np
import pytest

import mechjax.auctions.registry  # noqa: F401  (registers the auction mechanisms)
from mechjax import experiment
from mechjax.testing.auctions import assert_feasible, assert_individually_rational

from conftest import CONF_DIR, TINY, compose_config

AUCTION_PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "problem", "auction")))
VOTING_PRESETS = sorted(p[:-5] for p in os.listdir(os.path.join(CONF_DIR, "experiment")) if p.startswith("voting_"))
CONTRACT_PRESETS = {"additive_1x2", "additive_1x2_asym", "unit_1x2", "unit_1x2_23", "additive_2x2", "unit_2x2"}


def test_contract_presets_exist():
    assert CONTRACT_PRESETS <= set(AUCTION_PRESETS)


@pytest.mark.parametrize("preset", AUCTION_PRESETS)
def test_regretnet_smoke_runs_on_every_auction_preset(preset, tmp_path):
    cfg = compose_config([*TINY, f"problem=auction/{preset}", "mechanism=regretnet"])
    summary = experiment.train(cfg, str(tmp_path))
    for key in ("revenue", "regret", "ir_violation", "steps", "wall_s", "attack"):
        assert key in summary
    assert summary["steps"] == 20 and np.isfinite(summary["revenue"])
    assert json.load(open(tmp_path / "summary.json"))["revenue"] == summary["revenue"]
    mechanism, problem = experiment.load(str(tmp_path))
    values = problem.sample(jax.random.key(3), 256)
    alloc, pay = jax.jit(mechanism)(values)
    assert_feasible(values, alloc, pay, problem.valuations.demand)
    assert_individually_rational(mechanism, values)


def test_rochetnet_trains_with_no_inner_solver(tmp_path):
    """A DSIC-by-construction menu needs no adversary: inner=none constraint=none runs end to end."""
    cfg = compose_config([*TINY, "problem=auction/additive_1x2", "mechanism=rochetnet", "inner=none",
                          "constraint=none"])
    summary = experiment.train(cfg, str(tmp_path))
    assert np.isfinite(summary["revenue"]) and summary["regret_max"] <= 1e-5


def test_voting_presets_exist():
    assert {"voting_mimic", "voting_welfare", "voting_welfare_strategyproof", "voting_axioms"} <= set(VOTING_PRESETS)


@pytest.mark.parametrize("preset", VOTING_PRESETS)
def test_every_voting_preset_smoke_runs(preset, tmp_path):
    # explicit trainer values: a preset's own trainer settings outrank the trainer=tiny group
    cfg = compose_config([f"+experiment={preset}", "trainer=tiny", "trainer.train_size=0", "trainer.steps=20",
                          "trainer.batch_size=16", "trainer.steps_per_chunk=10", "trainer.checkpoint_every=10",
                          "progress=false",
                          "plots=false", "mechanism.dim=8", "mechanism.depth=1", "voting_eval.profiles=64",
                          "voting_eval.audit_profiles=0", "voting_eval.manipulation_profiles=2",
                          "voting_eval.chunk_size=64", "voting_eval.sizes=[[5,3]]"])
    summary = experiment.train(cfg, str(tmp_path))
    assert summary["steps"] == 20 and np.isfinite(summary["welfare_utilitarian"])
    assert 0 <= summary["manipulability"] <= 1
    history = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    losses = [k for k in history[-1] if k.startswith("loss_")]
    assert losses and all(np.isfinite(history[-1][k]) for k in losses)
