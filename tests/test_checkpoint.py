"""Checkpoints are verifiable: a damaged step is detected, reported, and skipped on load and on resume.

The cases tried on the newest step: 64 flipped bytes in every array file, a truncated array file, a
deleted manifest, a deleted array file, and a state that is not finite but checksummed (so only the
restore-time check can catch it). Each must warn naming the step and the file, fall back to the
previous step, and a resumed run must end exactly where a straight run ends.
"""

import glob
import os
import shutil

import jax
import numpy as np
import optax
import pytest

from mechjax.core import loop
from mechjax.core.checkpoint import MANIFEST, Checkpointer, DamagedCheckpointWarning, write_manifest
from mechjax.core.constraints import Unconstrained
from mechjax.core.trainer import TrainerConfig, make_train
from mechjax.core.types import NoInner
from mechjax.errors import DataError, Interrupted

from test_trainer import Line, Regression

STEPS = 30


def make_trainer():
    # checkpoint_every=10 with 20 steps per chunk: chunks end at 10, 20, 30
    cfg = TrainerConfig(steps=STEPS, batch_size=16, steps_per_chunk=20, checkpoint_every=10, max_to_keep=3)
    return make_train(Regression(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.adam(0.05), cfg)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("straight"))
    result = loop.run(make_trainer(), run_dir, seed=0, progress=False)
    return run_dir, result


def leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state._replace(data=None))]


def assert_same_state(a, b):
    for x, y in zip(leaves(a), leaves(b), strict=True):
        np.testing.assert_array_equal(x, y)


def array_files(step_dir):
    return sorted(f for f in glob.glob(os.path.join(step_dir, "state", "**", "d", "*"), recursive=True)
                  if os.path.isfile(f))


def flip_bytes(step_dir):
    for path in array_files(step_dir):
        data = bytearray(open(path, "rb").read())
        start = max(0, len(data) // 2 - 32)
        for i in range(start, min(len(data), start + 64)):
            data[i] ^= 0xFF
        open(path, "wb").write(bytes(data))
    return os.path.basename(array_files(step_dir)[0])


def truncate(step_dir):
    path = array_files(step_dir)[-1]
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    return os.path.basename(path)


def delete_manifest(step_dir):
    os.remove(os.path.join(step_dir, MANIFEST))
    return MANIFEST


def delete_array_file(step_dir):
    path = array_files(step_dir)[0]
    os.remove(path)
    return os.path.basename(path)


CORRUPTIONS = [flip_bytes, truncate, delete_manifest, delete_array_file]


def copy_run(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


def test_every_saved_step_verifies(straight):
    run_dir, _ = straight
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
    try:
        assert ckpt.all_steps() == [30, 20, 10]
        assert all(ckpt.damage(step) is None for step in ckpt.all_steps())
        assert ckpt.latest_good_step() == 30
    finally:
        ckpt.close()


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_damaged_latest_step_is_reported_and_skipped(straight, tmp_path, corrupt):
    run_dir = copy_run(straight[0], tmp_path / "run")
    named = corrupt(os.path.join(run_dir, "checkpoints", "30"))
    trainer = make_trainer()
    like = jax.vmap(trainer.init)(loop.replica_keys(0, 1))
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
    try:
        # load: the newest good step, with a warning naming the damaged step and file
        with pytest.warns(DamagedCheckpointWarning, match=f"step 30 .*{named}"):
            assert ckpt.latest_step() == 20
        with pytest.raises(DataError, match=f"step 30 .*damaged.*{named}"):
            ckpt.restore(30, like)
        restored, _ = ckpt.restore(20, like)
        assert int(restored.step[0]) == 20
    finally:
        ckpt.close()
    # resume: falls back to step 20, moves the damaged step aside, ends exactly like the straight run
    with pytest.warns(DamagedCheckpointWarning, match="step 30"):
        resumed = loop.run(trainer, run_dir, seed=0, progress=False)
    assert resumed.resumed_from == 20
    assert_same_state(resumed.state, straight[1].state)
    assert os.path.isdir(os.path.join(run_dir, "checkpoints_damaged", "30"))
    assert [row["step"] for row in resumed.history] == [10, 20, 30]
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
    try:
        assert ckpt.damage(30) is None, "the rewritten step verifies"
    finally:
        ckpt.close()


def test_a_checksummed_but_non_finite_state_is_damaged(straight, tmp_path):
    """A state holding NaN (written by something that skipped the save-time check) never resumes."""
    run_dir = copy_run(straight[0], tmp_path / "run")
    trainer = make_trainer()
    like = jax.vmap(trainer.init)(loop.replica_keys(0, 1))
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"), max_to_keep=3)
    try:
        state, record = ckpt.restore(30, like)
        poisoned = state._replace(params=jax.tree.map(lambda x: x * np.nan, state.params))
        with pytest.raises(DataError, match="not finite"):
            ckpt.save(40, poisoned, record)  # the checkpointer itself refuses
        shutil.rmtree(ckpt.step_dir(30))
        ckpt._manager.reload()
        import orbax.checkpoint as ocp
        ckpt._manager.save(30, args=ocp.args.Composite(state=ocp.args.StandardSave(poisoned._replace(data=None)),
                                                       record=ocp.args.JsonSave(record)))
        ckpt._manager.wait_until_finished()
        write_manifest(ckpt.step_dir(30))
        assert ckpt.damage(30) is None  # the files match their manifest ...
        with pytest.raises(DataError, match=r"step 30 .*not finite"):
            ckpt.restore(30, like)  # ... but the arrays are NaN
    finally:
        ckpt.close()
    with pytest.warns(DamagedCheckpointWarning, match="not finite"):
        resumed = loop.run(trainer, run_dir, seed=0, progress=False)
    assert resumed.resumed_from == 20
    assert_same_state(resumed.state, straight[1].state)


def test_no_good_step_refuses_to_resume_and_to_load(straight, tmp_path):
    run_dir = copy_run(straight[0], tmp_path / "run")
    for step in ("10", "20", "30"):
        flip_bytes(os.path.join(run_dir, "checkpoints", step))
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
    try:
        with pytest.warns(DamagedCheckpointWarning), pytest.raises(DataError, match="passes verification"):
            ckpt.latest_step()
    finally:
        ckpt.close()
    with pytest.warns(DamagedCheckpointWarning), pytest.raises(DataError, match="no good checkpoint in .*checkpoints"):
        loop.run(make_trainer(), run_dir, seed=0, progress=False)


def test_ctrl_c_saves_the_last_chunk_and_says_how_to_resume(straight, tmp_path):
    run_dir = str(tmp_path / "run")

    def press_ctrl_c(step, row):
        if step == 20:
            raise KeyboardInterrupt

    # checkpoint_every=15: step 20 is not a checkpoint step, yet Ctrl-C keeps it
    cfg = TrainerConfig(steps=STEPS, batch_size=16, steps_per_chunk=20, checkpoint_every=15, max_to_keep=3)
    trainer = make_train(Regression(), lambda rngs: Line(rngs=rngs), NoInner(), Unconstrained(), optax.adam(0.05), cfg)
    with pytest.raises(Interrupted, match=r"interrupted at step 20 of 30; checkpoint at step 20 .*rerun the same "
                                          r"command \(same hydra\.run\.dir=.*run\) to resume"):
        loop.run(trainer, run_dir, seed=0, progress=False, on_chunk=press_ctrl_c)
    resumed = loop.run(trainer, run_dir, seed=0, progress=False)
    assert resumed.resumed_from == 20
    assert [row["step"] for row in resumed.history] == [15, 20, 30]
    assert_same_state(resumed.state, straight[1].state)  # same steps and keys as the 10/20/30 run


def test_a_run_from_before_manifests_still_loads(straight, tmp_path):
    """A run directory in which no step has a manifest (an older mechjax) loads unverified, with a
    warning; once any step has a manifest, a step without one counts as damaged (test above)."""
    run_dir = copy_run(straight[0], tmp_path / "run")
    for step in (10, 20, 30):
        os.remove(os.path.join(run_dir, "checkpoints", str(step), MANIFEST))
    ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
    try:
        with pytest.warns(DamagedCheckpointWarning, match="predates checksum manifests"):
            assert ckpt.latest_step() == 30
    finally:
        ckpt.close()
