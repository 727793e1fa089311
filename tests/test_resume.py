"""An interrupted run, restarted with the same command, ends exactly where a straight run ends."""

import json

import jax
import numpy as np
import pytest

from mechjax import experiment
from mechjax.core import loop

from conftest import TINY, compose_config

OVERRIDES = [*TINY, "trainer.steps=40", "trainer.checkpoint_every=20", "trainer.steps_per_chunk=10",
             "problem=auction/additive_2x2"]


class Interrupt(Exception):
    pass


def test_resume_equals_straight_run(tmp_path, monkeypatch):
    cfg = compose_config(OVERRIDES)
    straight = experiment.train(cfg, str(tmp_path / "straight"))

    # Kill the run after step 30: the checkpoint at 20 survives, step 30's chunk is lost.
    original_run = loop.run

    def interrupted(trainer, run_dir, seed, **kw):
        def on_chunk(step, row):
            if step == 30:
                raise Interrupt()
        return original_run(trainer, run_dir, seed, on_chunk=on_chunk, **kw)

    monkeypatch.setattr(loop, "run", interrupted)
    with pytest.raises(Interrupt):
        experiment.train(cfg, str(tmp_path / "resumed"))
    monkeypatch.setattr(loop, "run", original_run)
    resumed = experiment.train(cfg, str(tmp_path / "resumed"))

    assert resumed["resumed_from"] == 20
    for key in ("revenue", "regret", "ir_violation", "regret_max"):
        assert resumed[key] == straight[key], key
    rows = [json.loads(l) for l in open(tmp_path / "resumed" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [10, 20, 30, 40], "metrics must not repeat resumed chunks"
    a, _ = experiment.load(str(tmp_path / "straight"))
    b, _ = experiment.load(str(tmp_path / "resumed"))
    bids = jax.random.uniform(jax.random.key(0), (64, 2, 2))
    for x, y in zip(a(bids), b(bids)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_different_config_in_the_same_directory_is_refused(tmp_path):
    from mechjax.errors import ConfigError
    experiment.train(compose_config(TINY), str(tmp_path))
    with pytest.raises(ConfigError, match="different configuration"):
        experiment.train(compose_config([*TINY, "optim.lr=0.01"]), str(tmp_path))
