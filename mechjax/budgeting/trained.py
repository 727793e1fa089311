"""Trained PB rules from run directories, with their input checked before anything is compiled."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from mechjax.budgeting.problem import PBBatch
from mechjax.errors import DataError


def check_batch(batch) -> None:
    """Raises DataError naming the field unless ``batch`` is a well-formed ``PBBatch``."""
    if not isinstance(batch, PBBatch):
        raise DataError(f"a budgeting rule reads a PBBatch, got {type(batch).__name__}")
    b, v, p = np.shape(batch.approvals)
    for name, shape in (("voter_mask", (b, v)), ("project_mask", (b, p)), ("costs", (b, p))):
        if np.shape(getattr(batch, name)) != shape:
            raise DataError(f"batch.{name} must be {shape}, got {np.shape(getattr(batch, name))}")
    costs = np.asarray(batch.costs)
    if not np.isfinite(costs).all() or (costs < 0).any():
        raise DataError("batch.costs must be finite and >= 0 (in units of the budget)")


def validated_rule(mechanism_fn: Callable) -> Callable:
    """``rule(batch) -> funded [b, p]`` (0/1, within budget), checking the batch first."""
    def rule(batch):
        check_batch(batch)
        return mechanism_fn(batch)
    return rule


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> Callable:
    """The trained rule of a budgeting run directory (``mechjax.load`` with the input check).

    Returns:
        ``rule(batch: PBBatch) -> funded [batch, projects]``; use
        :func:`mechjax.budgeting.evaluate.net_input` to turn an Election into a batch.
    """
    from mechjax import experiment
    rule, _ = experiment.load(run_dir, replica, step)
    return rule
