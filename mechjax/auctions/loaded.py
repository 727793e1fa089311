"""Loaded auction mechanisms check their bids, as every eager entry point of the library does.

``mechjax.load(run_dir)`` hands users ``validated_mechanism(mechanism_fn, problem)`` (registered
as ``registry.LOADERS["auction"]``): the same function, ``bids [batch, bidders, items] ->
(allocations, payments)``, that first raises :class:`~mechjax.errors.DataError` naming ``bids`` for
input it was never defined on, before anything is compiled:

* shape: rank 3 ``[batch, bidders, items]``, a real (integer or floating) dtype, batch >= 1. Other
  sizes than the training problem's are accepted only when the mechanism itself runs on them
  (set-based nets trained on i.i.d. values do; tracing it once at that size decides, and its
  outcome must have the matching shapes);
* values (eager calls only; under an outer ``jax.jit`` the bids are tracers and only shapes are
  checked): finite, and inside the value support ``[low, high]`` the mechanism was trained on,
  which is its report space (``valuations.clip``). At other sizes the support is used when it is
  the same for every bidder and item; otherwise bids need only be finite and non-negative.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mechjax.errors import DataError

# Bids this far outside the support (relative to its width) still count as inside: float32 noise.
SUPPORT_TOLERANCE = 1e-5


def _shape_error(bids_shape, n, m, why: str) -> DataError:
    return DataError(f"bids must be [batch, bidders, items] = [batch, {n}, {m}] for this mechanism; "
                     f"got shape {tuple(bids_shape)}: {why}")


def check_bids(bids, problem, mechanism_fn: Callable | None = None, _sizes: dict | None = None) -> None:
    """Raises DataError naming ``bids`` unless they are valid reports for ``problem``'s mechanism.

    Args:
        bids: ``[batch, bidders, items]`` array or tracer.
        problem: the ``AuctionProblem`` the mechanism was trained on (sizes and value support).
        mechanism_fn: the raw mechanism; when the bids have another size than the training
            problem's, it is traced once at that size to see whether it runs there.
    """
    valuations = problem.valuations
    n, m = valuations.num_bidders, valuations.num_items
    shape = tuple(jnp.shape(bids))
    dtype = jnp.result_type(bids)
    if len(shape) != 3:
        raise _shape_error(shape, n, m, f"rank {len(shape)}, not 3")
    if min(shape) < 1:
        raise _shape_error(shape, n, m, "every axis needs at least one entry")
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        raise DataError(f"bids must be a real-valued array, got dtype {dtype}")
    same_size = shape[1:] == (n, m)
    if not same_size:
        if mechanism_fn is None:
            raise _shape_error(shape, n, m, "the mechanism was trained on this size only")
        _check_other_size(mechanism_fn, shape, n, m, _sizes)
    if isinstance(bids, jax.core.Tracer):
        return
    b = np.asarray(bids, np.float64)
    if not np.isfinite(b).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(b))[0])
        raise DataError(f"bids{list(where)} = {b[where]} is not finite")
    low, high = np.asarray(valuations.low, np.float64), np.asarray(valuations.high, np.float64)
    if not same_size:
        if (low == low.flat[0]).all() and (high == high.flat[0]).all():
            low, high = np.full(shape[1:], low.flat[0]), np.full(shape[1:], high.flat[0])
        else:  # per-(bidder, item) supports do not say what another size's support is
            low, high = np.zeros(shape[1:]), np.full(shape[1:], np.inf)
    slack = SUPPORT_TOLERANCE * np.where(np.isfinite(high - low), high - low, 1.0)
    outside = (b < (low - slack)[None]) | (b > (high + slack)[None])
    if outside.any():
        k, i, j = (int(x) for x in np.argwhere(outside)[0])
        raise DataError(f"bids[{k}, {i}, {j}] = {b[k, i, j]:.6g} is outside the value support "
                        f"[{low[i, j]:.6g}, {high[i, j]:.6g}] of bidder {i}, item {j}: the mechanism "
                        f"is defined on reports in that box (clip them with problem.project)")


def _runs_at(mechanism_fn, shape) -> str:
    """'' if ``mechanism_fn`` traces at ``shape`` with outcomes of the matching shapes, else why not."""
    try:
        alloc, pay = jax.eval_shape(mechanism_fn, jax.ShapeDtypeStruct(shape, jnp.float32))
    except Exception as err:  # any tracing failure means "does not run at this size"
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    if tuple(alloc.shape) != shape or tuple(pay.shape) != shape[:2]:
        return f"its outcome at this size has shapes {tuple(alloc.shape)} and {tuple(pay.shape)}"
    return ""


def _check_other_size(mechanism_fn, shape, n, m, cache: dict | None = None) -> None:
    cache = {} if cache is None else cache
    if shape[1:] not in cache:  # tracing costs; a wrapper remembers each size it has seen
        cache[shape[1:]] = _runs_at(mechanism_fn, shape)
    if cache[shape[1:]]:
        raise _shape_error(shape, n, m, f"the mechanism was trained on {n} bidders x {m} items and "
                                        f"does not run at this size ({cache[shape[1:]]})")


def validated_mechanism(mechanism_fn: Callable, problem) -> Callable:
    """``mechanism_fn`` behind :func:`check_bids`, jitted, and itself jittable.

    Args:
        mechanism_fn: ``bids [batch, bidders, items] -> (allocations [batch, bidders, items],
            payments [batch, bidders])``.
        problem: the ``AuctionProblem`` it was trained on.

    Returns:
        ``mechanism(bids) -> (allocations, payments)``; DataError naming ``bids`` on bad input.
    """
    jitted = jax.jit(mechanism_fn)
    sizes: dict = {}  # (bidders, items) -> why the mechanism does not run there ('' if it does)

    @functools.wraps(mechanism_fn)
    def mechanism(bids):
        check_bids(bids, problem, mechanism_fn, sizes)
        if not isinstance(bids, jax.core.Tracer) and not jnp.issubdtype(jnp.result_type(bids), jnp.floating):
            bids = jnp.asarray(bids, jnp.float32)
        return jitted(bids)

    mechanism.validated = True
    return mechanism
