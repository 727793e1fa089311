"""Trained voting rules from run directories, checking their input as the classical rules do.

Two callables come out of a voting run, both validated outside ``jit`` (DataError naming the
argument, before anything is compiled) and both usable under an outer ``jax.jit`` (tracers: the
shapes are still checked, the values cannot be):

* ``mechjax.voting.load(run_dir)``: ``rule(rankings, weights=None, candidate_mask=None)``, the
  ranking contract of ``mechjax.voting.rules`` (each row a permutation, non-negative integer
  weights with a positive total that fits int32, a ``[batch, candidates]`` boolean mask with at
  least one real candidate and padding candidates ranked below the real ones);
* ``mechjax.load(run_dir)`` (``registry.LOADERS["voting"]``): the network on ``Ballots`` (possibly
  relaxed, for gradient-based manipulation search), with ``check_ballots``.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.errors import ConfigError, DataError
from mechjax.voting.nets import Ballots, ballots_from_rankings
from mechjax.voting.profiles import check_rankings
from mechjax.voting.rules import check_weight_totals

# Relaxed ballots are doubly stochastic up to this (Sinkhorn iterations stop short of exact).
STOCHASTIC_ATOL = 1e-3


def _concrete(x) -> bool:
    return x is not None and not isinstance(x, jax.core.Tracer)


def check_candidate_mask(rankings, candidate_mask) -> None:
    """Raises DataError naming ``candidate_mask`` unless it fits ``rankings`` (see module docstring)."""
    if candidate_mask is None:
        return
    shape, mshape = tuple(jnp.shape(rankings)), tuple(jnp.shape(candidate_mask))
    if mshape != (shape[0], shape[2]):
        raise DataError(f"candidate_mask must be [batch, candidates] = {(shape[0], shape[2])}, got {mshape}")
    if jnp.result_type(candidate_mask) != jnp.bool_:
        raise DataError(f"candidate_mask must be boolean (True = real candidate), got "
                        f"{jnp.result_type(candidate_mask)}")
    if not (_concrete(candidate_mask) and _concrete(rankings)):
        return
    mask, r = np.asarray(candidate_mask), np.asarray(rankings)
    if not mask.any(-1).all():
        raise DataError(f"candidate_mask[{int(np.argmin(mask.any(-1)))}] has no real candidate")
    real = mask.sum(-1)  # [b]: the first real[b] places of every ballot must hold the real candidates
    ranked_real = np.take_along_axis(mask[:, None, :].repeat(r.shape[1], 1), r, -1)  # [b, v, place]
    should = np.arange(r.shape[2])[None, None, :] < real[:, None, None]
    bad = (ranked_real != should).any(-1)
    if bad.any():
        b, v = (int(x) for x in np.argwhere(bad)[0])
        raise DataError(f"rankings[{b}, {v}] = {r[b, v].tolist()} ranks a padding candidate "
                        f"(candidate_mask False) above a real one; padding goes last")


def check_rule_inputs(rankings, weights=None, candidate_mask=None) -> None:
    """The checks ``load``'s rule makes before its jitted network runs.

    Args:
        rankings: ``int [batch, voters, candidates]``, best first.
        weights: optional ``[batch, voters]`` ballot counts.
        candidate_mask: optional ``bool [batch, candidates]``.

    Raises:
        DataError: naming ``rankings``, ``weights`` or ``candidate_mask``.
    """
    check_rankings(rankings, weights)
    check_weight_totals(rankings, weights, 1, "a learned rule")
    check_candidate_mask(rankings, candidate_mask)


def check_ballots(ballots) -> None:
    """Raises DataError naming the field unless ``ballots`` is a valid (possibly relaxed) ``Ballots``.

    Shapes and dtypes always; values when concrete: ``ranks`` finite, in [0, 1], rows and columns
    summing to 1 (within ``STOCHASTIC_ATOL``); ``weights`` finite, >= 0, a positive total per
    profile; ``candidate_mask`` at least one real candidate per profile.
    """
    if not isinstance(ballots, Ballots):
        raise DataError(f"the loaded voting net takes Ballots (ranks, weights, candidate_mask), got "
                        f"{type(ballots).__name__}; for rankings use mechjax.voting.load(run_dir)")
    shape = tuple(jnp.shape(ballots.ranks))
    if len(shape) != 4 or shape[2] != shape[3] or min(shape) < 1:
        raise DataError(f"ballots.ranks must be [batch, voters, candidates, candidates], got {shape}")
    if not jnp.issubdtype(jnp.result_type(ballots.ranks), jnp.floating):
        raise DataError(f"ballots.ranks must be floating point, got {jnp.result_type(ballots.ranks)}")
    for field, want in (("weights", shape[:2]), ("candidate_mask", (shape[0], shape[2]))):
        got = tuple(jnp.shape(getattr(ballots, field)))
        if got != want:
            raise DataError(f"ballots.{field} must have shape {want}, got {got}")
    if _concrete(ballots.ranks):
        ranks = np.asarray(ballots.ranks, np.float64)
        if not np.isfinite(ranks).all() or (ranks < -STOCHASTIC_ATOL).any() or (ranks > 1 + STOCHASTIC_ATOL).any():
            raise DataError("ballots.ranks must be probabilities in [0, 1]")
        for axis, what in ((-1, "a candidate's positions"), (-2, "a position's candidates")):
            if (np.abs(ranks.sum(axis) - 1) > STOCHASTIC_ATOL).any():
                raise DataError(f"ballots.ranks: {what} must sum to 1 (doubly stochastic)")
    if _concrete(ballots.weights):
        w = np.asarray(ballots.weights, np.float64)
        if not np.isfinite(w).all() or (w < 0).any() or (w.sum(-1) <= 0).any():
            raise DataError("ballots.weights must be finite, >= 0, with a positive total per profile")
    if _concrete(ballots.candidate_mask) and not np.asarray(ballots.candidate_mask).any(-1).all():
        raise DataError("ballots.candidate_mask needs at least one real candidate per profile")


def validated_ballot_rule(mechanism_fn: Callable, problem=None) -> Callable:
    """``mechanism_fn`` (Ballots -> winner probabilities) behind ``check_ballots``, jitted.

    This is ``registry.LOADERS["voting"]``: what ``mechjax.load(run_dir)`` hands back.
    """
    jitted = jax.jit(mechanism_fn)

    def net(ballots):
        check_ballots(ballots)
        return jitted(ballots)

    net.validated = True
    return net


def as_rule(mechanism: Callable) -> Callable:
    """The rankings interface over a Ballots network (see ``load``), with ``check_rule_inputs``."""

    @jax.jit
    def apply(rankings, weights, candidate_mask):
        return mechanism(ballots_from_rankings(rankings, weights, candidate_mask))

    def rule(rankings, weights=None, candidate_mask=None):
        check_rule_inputs(rankings, weights, candidate_mask)
        return apply(jnp.asarray(rankings), weights, candidate_mask)

    return rule


def load(run_dir: str, replica: int = 0, step: Optional[int] = None) -> Callable:
    """The rule trained in ``run_dir`` (``experiments/train.py problem=voting/... mechanism=voting_net``).

    Args:
        run_dir: the run directory.
        replica: which seed replica (0 = the run's ``seed``).
        step: which checkpoint (default: the latest).

    Returns:
        ``rule(rankings, weights=None, candidate_mask=None) -> winner probabilities [batch, candidates]``,
        jittable, checking its input first (DataError; see the module docstring): ``rankings`` is
        ``int [batch, voters, candidates]`` (best first), ``weights`` optional ballot counts
        ``[batch, voters]`` (0 = padding voter), ``candidate_mask`` optional ``bool [batch,
        candidates]`` (False = padding candidate, ranked below the real ones). A neutral rule takes
        any number of voters and candidates.
    """
    from mechjax import experiment  # late: experiment imports the config layer, which imports voting
    from mechjax.voting.problem import VotingProblem

    mechanism, problem = experiment.load(run_dir, replica, step)
    if not isinstance(problem, VotingProblem):
        raise ConfigError(f"{run_dir} holds a {type(problem).__name__} run, not a voting rule; "
                          f"use mechjax.load(run_dir)")
    return as_rule(mechanism)
