"""Trained voting rules from run directories."""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp

from mechjax.errors import ConfigError
from mechjax.voting.nets import ballots_from_rankings


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> Callable:
    """The rule trained in ``run_dir`` (``experiments/train.py problem=voting/... mechanism=voting_net``).

    Args:
        run_dir: the run directory.
        replica: which seed replica (0 = the run's ``seed``).
        step: which checkpoint (default: the latest).

    Returns:
        ``rule(rankings, weights=None, candidate_mask=None) -> winner probabilities [batch, candidates]``,
        jitted and jittable: ``rankings`` is ``int [batch, voters, candidates]`` (best first),
        ``weights`` optional ballot counts ``[batch, voters]`` (0 = padding voter),
        ``candidate_mask`` optional ``bool [batch, candidates]`` (False = padding candidate, ranked
        below the real ones). A neutral rule takes any number of voters and candidates.
    """
    from mechjax import experiment  # late: experiment imports the config layer, which imports voting
    from mechjax.voting.problem import VotingProblem

    mechanism, problem = experiment.load(run_dir, replica, step)
    if not isinstance(problem, VotingProblem):
        raise ConfigError(f"{run_dir} holds a {type(problem).__name__} run, not a voting rule; "
                          f"use mechjax.load(run_dir)")

    @jax.jit
    def rule(rankings, weights=None, candidate_mask=None):
        return mechanism(ballots_from_rankings(jnp.asarray(rankings), weights, candidate_mask))

    return rule
