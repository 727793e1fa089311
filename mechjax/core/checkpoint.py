"""Checkpoints: the only module that touches orbax.

A checkpoint holds a :class:`~mechjax.core.trainer.TrainState` without its training set (which is
regenerated from the seed) and a small JSON record of host-side progress (wall time).

Every save is verifiable: once orbax has finished writing step ``s``, a manifest
``<s>/mechjax_manifest.json`` with the size and sha256 of every file of that step is written,
atomically and last. A step whose manifest is missing, whose files do not match it, or whose
restored arrays are not finite is *damaged*: it is reported (a :class:`DamagedCheckpointWarning`
naming the step and the file) and readers fall back to the newest good step.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

from mechjax.core import sharding
from mechjax.errors import DataError

# orbax logs every save at INFO through absl; a run's log should hold the run's own messages.
logging.getLogger("absl").setLevel(logging.WARNING)

MANIFEST = "mechjax_manifest.json"


class DamagedCheckpointWarning(UserWarning):
    """A checkpoint step failed verification and was skipped; the message names step and file."""


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(step_dir: str) -> list[str]:
    """Paths (relative to ``step_dir``, sorted) of every file of a step except the manifest."""
    out = []
    for root, _, names in os.walk(step_dir):
        for name in names:
            rel = os.path.relpath(os.path.join(root, name), step_dir)
            if rel != MANIFEST:
                out.append(rel)
    return sorted(out)


def write_manifest(step_dir: str) -> None:
    """Records size and sha256 of every file under ``step_dir``; written atomically, last."""
    files = {rel: {"bytes": os.path.getsize(os.path.join(step_dir, rel)),
                   "sha256": _sha256(os.path.join(step_dir, rel))} for rel in _files(step_dir)}
    tmp = os.path.join(step_dir, MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"format": 1, "files": files}, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, os.path.join(step_dir, MANIFEST))


def verify_files(step_dir: str) -> Optional[str]:
    """Why the files of ``step_dir`` do not match its manifest, or None when they all do."""
    path = os.path.join(step_dir, MANIFEST)
    if not os.path.isfile(path):
        return f"{path} is missing (the save did not finish, or an older mechjax wrote it)"
    try:
        with open(path) as f:
            files = json.load(f)["files"]
        items = [(rel, int(entry["bytes"]), str(entry["sha256"])) for rel, entry in files.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        return f"{path} is unreadable ({type(err).__name__}: {err})"
    if not items:
        return f"{path} lists no files"
    for rel, size, sha in sorted(items):
        file = os.path.join(step_dir, rel)
        if not os.path.isfile(file):
            return f"{file} is missing"
        if os.path.getsize(file) != size:
            return f"{file} has {os.path.getsize(file)} bytes, the manifest says {size}"
        if _sha256(file) != sha:
            return f"{file} does not match its sha256 in the manifest"
    return None


def first_non_finite_leaf(tree: Any) -> Optional[str]:
    """Path of the first floating-point leaf holding NaN/inf, or None."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
            return jax.tree_util.keystr(path)
    return None


class Checkpointer:
    """Saves and restores training states under ``directory``, verifying every step.

    Args:
        directory: where checkpoints live (created if missing).
        max_to_keep: how many of the most recent checkpoints to keep.
    """

    def __init__(self, directory: str, max_to_keep: int = 2):
        self.directory = os.path.abspath(directory)
        extra = {}
        if jax.process_count() > 1:
            # multi-process runs: this process alone (process 0, see mechjax.distributed) reads and
            # writes checkpoints, so orbax must not wait at barriers for the others
            os.makedirs(self.directory, exist_ok=True)
            me = jax.process_index()
            extra = dict(create=False, multiprocessing_options=ocp.options.MultiprocessingOptions(
                primary_host=me, active_processes={me}))
        options = ocp.CheckpointManagerOptions(**{"max_to_keep": max_to_keep, "create": True,
                                                  "enable_async_checkpointing": False, **extra})
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def all_steps(self) -> list[int]:
        """Every step orbax has finalised, newest first (good or not)."""
        return sorted(self._manager.all_steps(), reverse=True)

    def damage(self, step: int) -> Optional[str]:
        """Why the files of ``step`` fail verification, or None when they pass.

        A run directory in which no step has a manifest was written by a mechjax from before
        manifests: its steps are accepted unverified (with a warning), and restoring them still
        refuses non-finite arrays. Once any step has a manifest, a step without one is damaged.
        """
        step_dir = self.step_dir(step)
        if not os.path.isfile(os.path.join(step_dir, MANIFEST)) and not any(
                os.path.isfile(os.path.join(self.step_dir(s), MANIFEST)) for s in self.all_steps()):
            warnings.warn(f"checkpoint step {step} in {self.directory} predates checksum manifests: "
                          f"loaded unverified", DamagedCheckpointWarning, stacklevel=3)
            return None
        return verify_files(step_dir)

    def latest_good_step(self) -> Optional[int]:
        """The newest step whose files match its manifest; None when there are no checkpoints.

        Newer damaged steps are reported with a :class:`DamagedCheckpointWarning`.

        Raises:
            DataError: there are checkpoints but none passes verification.
        """
        problems = []
        for step in self.all_steps():
            why = self.damage(step)
            if why is None:
                return step
            problems.append(f"step {step}: {why}")
            warnings.warn(f"checkpoint step {step} in {self.directory} is damaged and skipped: {why}",
                          DamagedCheckpointWarning, stacklevel=2)
        if problems:
            raise DataError(f"no checkpoint in {self.directory} passes verification ({'; '.join(problems)})")
        return None

    def latest_step(self) -> Optional[int]:
        """The newest *good* step (see :meth:`latest_good_step`); None when there are no checkpoints."""
        return self.latest_good_step()

    def save(self, step: int, state: Any, record: dict) -> None:
        """Writes ``state`` (its ``data`` field dropped) and a JSON ``record`` at ``step``, then its manifest.

        Raises:
            DataError: ``state`` holds NaN/inf (a non-finite state is never checkpointed).
        """
        state = state._replace(data=None)
        if jax.process_count() > 1:
            # orbax refuses process-local jax.Arrays in a multi-process run; plain numpy it writes
            state = sharding.to_host_local(state)
        # Plain numpy in every case: given a jax.Array replicated over several devices, orbax slices
        # out one replica with a compiled program per leaf shape (about 1.4 s per run of a voting
        # net on 4 devices, before the first checkpoint could be written). The files are the same.
        state = jax.device_get(state)
        bad = first_non_finite_leaf(state)
        if bad is not None:
            raise DataError(f"refusing to checkpoint step {step}: the training state{bad} is not finite")
        if step in self._manager.all_steps():
            # e.g. a save interrupted between orbax's commit and the manifest; kept, never deleted
            self._quarantine(step)
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            record=ocp.args.JsonSave(record),
        ))
        self._manager.wait_until_finished()
        write_manifest(self.step_dir(step))

    def restore(self, step: int, like: Any) -> tuple[Any, dict]:
        """Restores the state saved at ``step`` into the structure of ``like`` (whose data is kept).

        Raises:
            DataError: the step is damaged (files differ from the manifest, orbax cannot read
                them, or the restored arrays are not finite); the message names step and file.
        """
        why = self.damage(step)
        if why is None:
            abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like._replace(data=None))
            try:
                restored = self._manager.restore(step, args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract),
                    record=ocp.args.JsonRestore(),
                ))
            except Exception as err:  # orbax/tensorstore raise many types on unreadable files
                why = f"orbax could not restore {self.step_dir(step)} ({type(err).__name__}: {err})"
            else:
                bad = first_non_finite_leaf(restored.state)
                if bad is None:
                    return restored.state._replace(data=like.data), dict(restored.record)
                why = f"the restored state{bad} in {self.step_dir(step)} is not finite"
        raise DataError(f"checkpoint step {step} in {self.directory} is damaged: {why}")

    def restore_latest_good(self, like: Any, quarantine: bool = False) -> Optional[tuple[int, Any, dict]]:
        """Restores the newest step that verifies and restores to finite arrays.

        Args:
            like: a state of the right structure (see :meth:`restore`).
            quarantine: move every damaged newer step out of the way (to ``<directory>_damaged/``)
                so training can write that step again; used on resume, never on load.

        Returns:
            ``(step, state, record)``, or None when there are no checkpoints.

        Raises:
            DataError: there are checkpoints but none is good; names every step and why.
        """
        problems = []
        for step in self.all_steps():
            try:
                state, record = self.restore(step, like)
            except DataError as err:
                problems.append(str(err))
                moved = self._quarantine(step) if quarantine else None
                warnings.warn(f"{err}; {'moved to ' + moved if moved else 'skipped'}, falling back to an older step",
                              DamagedCheckpointWarning, stacklevel=2)
                continue
            return step, state, record
        if problems:
            raise DataError(f"no good checkpoint in {self.directory}: {' | '.join(problems)}")
        return None

    def _quarantine(self, step: int) -> str:
        target = os.path.join(self.directory + "_damaged", str(step))
        n = 1
        while os.path.exists(target):
            target = os.path.join(self.directory + "_damaged", f"{step}.{n}")
            n += 1
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(self.step_dir(step), target)
        self._manager.reload()
        return target

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
