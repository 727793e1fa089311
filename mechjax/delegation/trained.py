"""Trained delegation rules from run directories."""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.delegation.accuracy import check_competence
from mechjax.delegation.policy import sample_delegates
from mechjax.delegation.rules import DelegationInputs
from mechjax.errors import ConfigError, DataError


def check_inputs(inputs: DelegationInputs) -> None:
    """Raises DataError naming the field unless estimates are in [0, 1] and the network is a
    symmetric ``[b, n, n]`` matrix (checked when concrete; inside ``jit`` nothing is checked)."""
    if isinstance(inputs.estimate, jax.core.Tracer) or isinstance(inputs.adjacency, jax.core.Tracer):
        return
    check_competence(inputs.estimate, "estimate")
    e, a = np.asarray(inputs.estimate), np.asarray(inputs.adjacency)
    if e.ndim != 2 or a.shape != e.shape + (e.shape[-1],):
        raise DataError(f"estimate must be [b, n] and adjacency [b, n, n]; got {e.shape} and {a.shape}")
    if (a != np.swapaxes(a, -1, -2)).any():
        raise DataError("adjacency must be symmetric")


def validating(mechanism: Callable) -> Callable:
    """``mechanism`` (``DelegationInputs -> policy``) with its inputs checked first (``registry.LOADERS``)."""
    jitted = jax.jit(mechanism)

    def checked(inputs: DelegationInputs, training: bool = False):
        check_inputs(inputs)
        return jitted(DelegationInputs(jnp.asarray(inputs.estimate, jnp.float32), jnp.asarray(inputs.adjacency, bool)))

    return checked


def validated_policy(mechanism: Callable) -> Callable:
    """``policy(estimate [b, n], adjacency [b, n, n]) -> D [b, n, n]`` with its inputs checked."""
    checked = validating(mechanism)
    return lambda estimate, adjacency: checked(DelegationInputs(estimate, adjacency))


def deployed_rule(mechanism: Callable, problem) -> Callable:
    """The validated policy of :func:`validated_policy`, with ``.sample(key, estimate, adjacency,
    draws=1) -> int [draws, b, n]``: delegation graphs drawn from it as ``problem`` deploys them
    (through the cap repair when ``problem.repair``: every caster holds at most ``problem.cap``)."""
    policy = validated_policy(mechanism)

    def sample(key, estimate, adjacency, draws: int = 1):
        if not isinstance(draws, int) or draws < 1:
            raise DataError(f"draws must be a positive integer, got {draws!r}")
        d = policy(estimate, adjacency)
        return problem.realise(sample_delegates(key, d, draws), jnp.asarray(estimate, jnp.float32))[0]

    policy.sample = sample
    policy.cap = problem.cap
    return policy


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> Callable:
    """The delegation rule trained in ``run_dir`` (``experiments/train.py +experiment=delegation_learned``).

    Returns:
        ``policy(estimate [b, n], adjacency [b, n, n]) -> D [b, n, n]``: row i is voter i's
        distribution over casting (``D[.., i, i]``) and delegating to each neighbour.
        ``policy.sample(key, estimate, adjacency, draws=1) -> int [draws, b, n]`` draws the
        delegation graphs the rule deploys (cap-repaired as the run's problem says, so no caster
        holds more than ``policy.cap`` votes).
    """
    from mechjax import experiment  # late: the front door imports the domains
    from mechjax.delegation.problem import DelegationProblem

    mechanism, problem = experiment.load(run_dir, replica, step)
    if not isinstance(problem, DelegationProblem):
        raise ConfigError(f"{run_dir} holds a {type(problem).__name__} run, not a delegation rule")
    return deployed_rule(mechanism, problem)
