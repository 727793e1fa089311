"""Resolving delegation graphs: who casts each vote, with how much weight, along which path.

A delegation graph over ``n`` voters is an integer vector ``delegate [n]`` (or a batch
``[batch, n]``): ``delegate[i] == i`` means voter i casts her own vote, otherwise she hands it to
voter ``delegate[i]``, who may hand it on. Resolution is *pointer jumping*: after ``r`` rounds of
``pointer = pointer[pointer]`` every voter points ``2**r`` hops down her chain, so
``ceil(log2 n)`` rounds reach the end of every chain (a chain has at most ``n - 1`` hops). A
voter whose chain ends at a self-loop has that voter as *caster*; a voter whose chain enters a
cycle of length >= 2 points at a cycle member after those rounds, and her vote is **lost**
(caster ``-1``, no weight). Path lengths are accumulated in the same rounds.

Ranked back-up proxies (``resolve_ranked``): each voter lists up to ``k`` proxies in order of
preference (``-1`` pads the list; listing oneself means "then I cast"). Policy ``lost`` uses the
first choice only (votes in cycles are lost). Policy ``fallback`` repeats: resolve the current
choices; every voter *on* a cycle who has a further proxy moves to it (all such voters at once,
so the outcome does not depend on voter names); stop when no cycle member can move. Cycles whose
members have all exhausted their lists stay, and their votes (and those of everyone delegating
into them) are lost.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from mechjax.errors import DataError

POLICIES = ("lost", "fallback")


class Resolution(NamedTuple):
    """Everything resolution yields (same leading shape as ``delegate``).

    Attributes:
        caster: ``[.., n]`` the voter who casts i's vote, ``-1`` if it is lost in a cycle.
        weight: ``[.., n]`` number of votes voter j casts (0 for delegators and cycle members).
        path_length: ``[.., n]`` hops from i to her caster (0 for casters), ``-1`` if lost.
        on_cycle: ``[.., n]`` True for members of a delegation cycle of length >= 2.
    """

    caster: Int[Array, "... n"]
    weight: Int[Array, "... n"]
    path_length: Int[Array, "... n"]
    on_cycle: Array


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_delegate(delegate, name: str = "delegate") -> None:
    """Raises DataError naming ``name`` unless ``delegate`` is integer with entries in ``[0, n)``."""
    if not _is_concrete(delegate):
        return
    d = np.asarray(delegate)
    if d.ndim not in (1, 2):
        raise DataError(f"{name} must have shape [n] or [batch, n], got {d.shape}")
    if d.shape[-1] < 1:
        raise DataError(f"{name} must hold at least one voter, got shape {d.shape}")
    if not np.issubdtype(d.dtype, np.integer):
        raise DataError(f"{name} must be an integer array, got dtype {d.dtype}")
    n = d.shape[-1]
    bad = (d < 0) | (d >= n)
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        raise DataError(f"{name}{list(where)} = {int(d[where])} is out of range: delegates must be in [0, {n})")


def rounds(n: int) -> int:
    """Pointer-jumping rounds that reach the end of every chain of ``n`` voters: 2**r >= n."""
    return max(1, math.ceil(math.log2(max(n, 2))))


def _jump(delegate, with_hops: bool):
    """``(pointer, hops)`` after enough rounds: ``pointer = f^(2^r)`` with f the delegation map.

    Rounds stop early once no pointer moves (then every later round is the identity too), which
    happens as soon as every chain has ended unless a cycle keeps its members' pointers moving.
    Pointer and hop count travel as one ``[n, 2]`` row so a round is a single gather.
    """
    n = delegate.shape[-1]
    me = jnp.arange(n, dtype=jnp.int32)
    limit = rounds(n)
    if with_hops:
        state = jnp.stack([delegate, (delegate != me).astype(jnp.int32)], -1)  # [n, 2]

        def step(state):
            nxt = state[state[:, 0]]
            return jnp.stack([nxt[:, 0], state[:, 1] + nxt[:, 1]], -1)

        pointer_of = lambda s: s[:, 0]  # noqa: E731
    else:
        state = delegate
        step = lambda p: p[p]  # noqa: E731
        pointer_of = lambda s: s  # noqa: E731

    def cond(carry):
        r, _, moved = carry
        return (r < limit) & moved

    def body(carry):
        r, state, _ = carry
        new = step(state)
        return r + 1, new, jnp.any(pointer_of(new) != pointer_of(state))

    _, state, _ = jax.lax.while_loop(cond, body, (jnp.zeros((), jnp.int32), state, jnp.ones((), bool)))
    if with_hops:
        return state[:, 0], state[:, 1]
    return state, None


def _resolve_one(delegate, full: bool = True):
    n = delegate.shape[-1]
    me = jnp.arange(n, dtype=jnp.int32)
    delegate = delegate.astype(jnp.int32)
    pointer, hops = _jump(delegate, with_hops=full)
    ends_at_caster = delegate[pointer] == pointer
    caster = jnp.where(ends_at_caster, pointer, -1)
    weight = jax.ops.segment_sum(ends_at_caster.astype(jnp.int32), pointer, num_segments=n)
    if not full:
        return Resolution(caster, weight, None, None)
    # after >= n hops every pointer sits on a cycle, and every cycle member is some pointer's image;
    # an early stop leaves only fixed points or whole cycles as images too (pointers no longer move)
    periodic = jax.ops.segment_sum(jnp.ones(n, jnp.int32), pointer, num_segments=n) > 0
    on_cycle = periodic & (delegate != me)
    path_length = jnp.where(ends_at_caster, hops, -1)
    return Resolution(caster, weight, path_length, on_cycle)


@functools.partial(jax.jit, static_argnames="full")
def _resolve(delegate, full: bool = True):
    if delegate.ndim == 1:
        return _resolve_one(delegate, full)
    return jax.vmap(lambda d: _resolve_one(d, full))(delegate)


def resolve_full(delegate: Int[Array, "... n"]) -> Resolution:
    """Casters, weights, path lengths and cycle members of one or a batch of delegation graphs.

    Args:
        delegate: ``int [n]`` or ``[batch, n]``; ``delegate[i] == i`` means i casts her vote.

    Returns:
        A :class:`Resolution`.

    Raises:
        DataError: ``delegate`` is not integer or has an entry outside ``[0, n)`` (checked when
            concrete; inside ``jit`` the caller must guarantee it).
    """
    check_delegate(delegate)
    return _resolve(jnp.asarray(delegate).astype(jnp.int32))


def resolve(delegate: Int[Array, "... n"]) -> tuple[Int[Array, "... n"], Int[Array, "... n"]]:
    """``(caster, weight)`` of one or a batch of delegation graphs (the domain's contract).

    Args:
        delegate: ``int [n]`` or ``[batch, n]``; ``delegate[i] == i`` means i casts her own vote.

    Returns:
        ``caster [.., n]``: who casts i's vote (``-1`` if i's chain ends in a cycle, whose votes
        are lost); ``weight [.., n]``: how many votes j casts (0 for delegators and lost voters).
    """
    check_delegate(delegate)
    res = _resolve(jnp.asarray(delegate).astype(jnp.int32), full=False)
    return res.caster, res.weight


def check_proxies(proxies, name: str = "proxies") -> None:
    """Raises DataError naming ``name`` unless ``proxies`` is ``int [.., n, k]`` in ``[-1, n)``."""
    if not _is_concrete(proxies):
        return
    p = np.asarray(proxies)
    if p.ndim not in (2, 3) or p.shape[-1] < 1:
        raise DataError(f"{name} must have shape [n, k] or [batch, n, k] with k >= 1, got {p.shape}")
    if not np.issubdtype(p.dtype, np.integer):
        raise DataError(f"{name} must be an integer array, got dtype {p.dtype}")
    n = p.shape[-2]
    bad = (p < -1) | (p >= n)
    if bad.any():
        where = tuple(int(x) for x in np.argwhere(bad)[0])
        raise DataError(f"{name}{list(where)} = {int(p[where])} is out of range: proxies must be in [0, {n}) "
                        f"or -1 (no further proxy)")
    if (p[..., 0] < 0).any():
        where = tuple(int(x) for x in np.argwhere(p[..., 0] < 0)[0])
        raise DataError(f"{name}{list(where)}[0] is -1: every voter needs a first choice (herself to cast)")


def _ranked_one(proxies, policy: str):
    n, k = proxies.shape

    def current(choice):
        return jnp.take_along_axis(proxies, choice[:, None], 1)[:, 0]

    choice = jnp.zeros(n, jnp.int32)
    if policy == "lost":
        return _resolve_one(current(choice))
    # a further proxy exists if the next slot is not padding
    has_next = lambda c: (c + 1 < k) & (jnp.take_along_axis(proxies, jnp.minimum(c + 1, k - 1)[:, None], 1)[:, 0] >= 0)  # noqa: E731

    def movers(choice):
        return _resolve_one(current(choice)).on_cycle & has_next(choice)

    def cond(choice):
        return movers(choice).any()

    def body(choice):
        return choice + movers(choice).astype(jnp.int32)

    choice = jax.lax.while_loop(cond, body, choice)
    return _resolve_one(current(choice))


@functools.partial(jax.jit, static_argnames="policy")
def _ranked(proxies, policy: str):
    if proxies.ndim == 2:
        return _ranked_one(proxies, policy)
    return jax.vmap(lambda p: _ranked_one(p, policy))(proxies)


def resolve_ranked(proxies: Int[Array, "... n k"], policy: str = "lost") -> Resolution:
    """Resolution with ranked back-up proxies.

    Args:
        proxies: ``int [n, k]`` or ``[batch, n, k]``: voter i's proxies in order of preference
            (``proxies[.., i, 0]`` is her first choice, ``i`` itself means she casts, ``-1`` pads).
        policy: ``lost`` (first choices only; votes in cycles are lost) or ``fallback`` (cycle
            members move to their next proxy until no cycle member can move; see the module doc).

    Returns:
        A :class:`Resolution` of the final choices.
    """
    if policy not in POLICIES:
        raise DataError(f"policy must be one of {POLICIES}, got {policy!r}")
    check_proxies(proxies)
    return _ranked(jnp.asarray(proxies).astype(jnp.int32), policy)


def reference_resolve(delegate) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-Python reference for one graph: follows every chain with a visited set.

    Returns:
        ``(caster, weight, path_length)`` as numpy arrays (``-1`` caster / length when lost).
    """
    d = [int(x) for x in np.asarray(delegate)]
    n = len(d)
    caster, length = [-1] * n, [-1] * n
    for i in range(n):
        seen, j, hops = set(), i, 0
        while d[j] != j and j not in seen:
            seen.add(j)
            j, hops = d[j], hops + 1
        if d[j] == j:
            caster[i], length[i] = j, hops
    weight = [0] * n
    for c in caster:
        if c >= 0:
            weight[c] += 1
    return np.array(caster), np.array(weight), np.array(length)


def reference_resolve_ranked(proxies, policy: str = "lost"):
    """Plain-Python reference of :func:`resolve_ranked` for one graph: ``(caster, weight, path_length)``."""
    p = [[int(x) for x in row] for row in np.asarray(proxies)]
    n = len(p)
    choice = [0] * n
    while True:
        d = [p[i][choice[i]] for i in range(n)]
        if policy == "lost":
            return reference_resolve(d)
        cycle_members = set()
        for i in range(n):  # walk i's chain; a repeated voter closes a cycle
            order, pos, j = [], {}, i
            while d[j] != j and j not in pos:
                pos[j] = len(order)
                order.append(j)
                j = d[j]
            if d[j] != j:
                cycle_members.update(order[pos[j]:])
        moving = [i for i in cycle_members if choice[i] + 1 < len(p[i]) and p[i][choice[i] + 1] >= 0]
        if not moving:
            return reference_resolve(d)
        for i in moving:
            choice[i] += 1
