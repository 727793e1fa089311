"""Checkpoints: the only module that touches orbax.

A checkpoint holds a :class:`~mechjax.core.trainer.TrainState` without its training set (which is
regenerated from the seed) and a small JSON record of host-side progress (wall time).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp

# orbax logs every save at INFO through absl; a run's log should hold the run's own messages.
logging.getLogger("absl").setLevel(logging.WARNING)


class Checkpointer:
    """Saves and restores training states under ``directory``.

    Args:
        directory: where checkpoints live (created if missing).
        max_to_keep: how many of the most recent checkpoints to keep.
    """

    def __init__(self, directory: str, max_to_keep: int = 2):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> Optional[int]:
        return self._manager.latest_step()

    def save(self, step: int, state: Any, record: dict) -> None:
        """Writes ``state`` (its ``data`` field dropped) and a JSON ``record`` at ``step``."""
        self._manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state._replace(data=None)),
            record=ocp.args.JsonSave(record),
        ))
        self._manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> tuple[Any, dict]:
        """Restores the state saved at ``step`` into the structure of ``like`` (whose data is kept)."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like._replace(data=None))
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            record=ocp.args.JsonRestore(),
        ))
        return restored.state._replace(data=like.data), dict(restored.record)

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()
