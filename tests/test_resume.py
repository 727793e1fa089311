"""An interrupted run, restarted with the same command, ends exactly where a straight run ends,
with any ``trainer.steps`` and ``trainer.checkpoint_every``, and even when its newest checkpoint is damaged."""

import json

import jax
import numpy as np
import pytest

from mechjax import experiment
from mechjax.core import loop
from mechjax.core.checkpoint import DamagedCheckpointWarning
from mechjax.errors import DataError

from conftest import TINY, compose_config
from test_checkpoint import flip_bytes, truncate

# 30 steps, at most 20 per chunk, a checkpoint every 7: chunks end at 7, 14, 20, 21, 28, 30
OVERRIDES = [*TINY, "trainer.steps=30", "trainer.checkpoint_every=7", "trainer.steps_per_chunk=20",
             "trainer.max_to_keep=10", "problem=auction/additive_2x2"]


class Interrupt(Exception):
    pass


def outputs(run_dir, **kw):
    mechanism, _ = experiment.load(str(run_dir), **kw)
    bids = jax.random.uniform(jax.random.key(0), (64, 2, 2))
    return [np.asarray(x) for x in mechanism(bids)]


@pytest.mark.slow  # three tiny trainings with evaluation: ~40 s of CPU
def test_resume_equals_straight_run_even_from_a_damaged_checkpoint(tmp_path, monkeypatch):
    cfg = compose_config(OVERRIDES)
    straight = experiment.train(cfg, str(tmp_path / "straight"))
    assert straight["steps"] == 30
    rows = [json.loads(line) for line in open(tmp_path / "straight" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [7, 14, 20, 21, 28, 30]
    assert sorted(int(p.name) for p in (tmp_path / "straight" / "checkpoints").iterdir()
                  if p.name.isdigit()) == [7, 14, 21, 28, 30]

    # Kill the run after step 20: the checkpoint at 14 survives, step 20's chunk is lost.
    original_run = loop.run

    def interrupted(trainer, run_dir, seed, **kw):
        def on_chunk(step, row):
            if step == 20:
                raise Interrupt()
        return original_run(trainer, run_dir, seed, on_chunk=on_chunk, **kw)

    monkeypatch.setattr(loop, "run", interrupted)
    with pytest.raises(Interrupt):
        experiment.train(cfg, str(tmp_path / "resumed"))
    monkeypatch.setattr(loop, "run", original_run)

    # ... and the disk flips bytes in the newest checkpoint: loading and resuming fall back to step 7
    flip_bytes(str(tmp_path / "resumed" / "checkpoints" / "14"))
    with pytest.warns(DamagedCheckpointWarning, match="step 14"):
        np.testing.assert_array_equal(outputs(tmp_path / "resumed")[1], outputs(tmp_path / "straight", step=7)[1])
    with pytest.warns(DamagedCheckpointWarning, match="step 14"):
        resumed = experiment.train(cfg, str(tmp_path / "resumed"))

    assert resumed["resumed_from"] == 7
    for key in ("revenue", "regret", "ir_violation", "regret_max"):
        assert resumed[key] == straight[key], key
    rows = [json.loads(line) for line in open(tmp_path / "resumed" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [7, 14, 20, 21, 28, 30], "metrics must not repeat resumed chunks"
    for x, y in zip(outputs(tmp_path / "straight"), outputs(tmp_path / "resumed"), strict=True):
        np.testing.assert_array_equal(x, y)

    # a damaged final checkpoint: load() says so and gives the previous step's mechanism
    truncate(str(tmp_path / "straight" / "checkpoints" / "30"))
    with pytest.warns(DamagedCheckpointWarning, match="step 30"):
        fallback = outputs(tmp_path / "straight")
    for x, y in zip(fallback, outputs(tmp_path / "straight", step=28), strict=True):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(DataError, match="step 30 .*damaged"):
        experiment.load(str(tmp_path / "straight"), step=30)


def test_a_different_config_in_the_same_directory_is_refused(tmp_path):
    from mechjax.errors import ConfigError
    experiment.train(compose_config(TINY), str(tmp_path))
    with pytest.raises(ConfigError, match="different configuration"):
        experiment.train(compose_config([*TINY, "optim.lr=0.01"]), str(tmp_path))
