"""Preference profiles: the array contract, profile statistics and sampling cultures.

A profile batch is ``rankings: int [batch, voters, candidates]``, each row a permutation of the
candidate indices, best first. Cultures that come with cardinal preferences (Euclidean, Dirichlet)
also return ``utilities: float [batch, voters, candidates]`` whose descending argsort is exactly the
rankings. Optional ``weights: int [batch, voters]`` say how many voters cast each ballot (PrefLib
counts, or 0 to pad a profile to a common number of voters); every rule and audit accepts them.

All samplers are pure JAX functions of an explicit key with static sizes, so they jit and vmap.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from mechjax.errors import ConfigError, DataError

CULTURES = ("ic", "mallows", "urn", "plackett_luce", "single_peaked_walsh",
            "single_peaked_conitzer", "euclidean", "dirichlet")


class Profile(NamedTuple):
    """A batch of elections.

    Attributes:
        rankings: ``[batch, voters, candidates]`` int, each row a permutation, best first.
        utilities: ``[batch, voters, candidates]`` float or None (ordinal cultures).
        weights: ``[batch, voters]`` int ballot counts, or None for one voter per row.
    """

    rankings: Int[Array, "batch voters candidates"]
    utilities: Optional[Float[Array, "batch voters candidates"]] = None
    weights: Optional[Int[Array, "batch voters"]] = None


# ----------------------------------------------------------------------------- validation

def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_rankings(rankings, weights=None, field: str = "rankings") -> None:
    """Raises DataError unless ``rankings`` (and ``weights``) follow the contract.

    Shapes and dtypes are checked always (they are static under ``jit``); values (each row a
    permutation, weights non-negative integers) only when the arrays are concrete, i.e. on eager
    calls, so validation never costs anything inside a compiled function.

    Args:
        rankings: ``[batch, voters, candidates]`` integer array.
        weights: optional ``[batch, voters]`` ballot counts.
        field: name used in error messages.
    """
    shape = tuple(jnp.shape(rankings))
    if len(shape) != 3:
        raise DataError(f"{field} must be [batch, voters, candidates], got shape {shape}")
    if shape[1] < 1 or shape[2] < 1:
        raise DataError(f"{field} needs >= 1 voter and >= 1 candidate, got shape {shape}")
    if not jnp.issubdtype(jnp.result_type(rankings), jnp.integer):
        raise DataError(f"{field} must be an integer array, got {jnp.result_type(rankings)}")
    if weights is not None:
        wshape = tuple(jnp.shape(weights))
        if wshape != shape[:2]:
            raise DataError(f"{field}: weights must be [batch, voters] = {shape[:2]}, got {wshape}")
    if _is_concrete(rankings):
        r = np.asarray(rankings)
        ok = (np.sort(r, axis=-1) == np.arange(shape[2])).all(axis=-1)
        if not ok.all():
            b, v = np.argwhere(~ok)[0]
            raise DataError(f"{field}[{b}, {v}] = {r[b, v].tolist()} is not a permutation of "
                            f"0..{shape[2] - 1}")
    if weights is not None and _is_concrete(weights):
        w = np.asarray(weights)
        if not np.issubdtype(w.dtype, np.integer) and not np.all(w == np.round(w)):
            raise DataError(f"{field}: weights must be integer ballot counts")
        if (w < 0).any():
            raise DataError(f"{field}: weights must be >= 0")
        if (w.sum(axis=-1) <= 0).any():
            raise DataError(f"{field}: every profile needs a positive total weight")


# ----------------------------------------------------------------------------- statistics

def positions(rankings: Int[Array, "batch voters candidates"]) -> Int[Array, "batch voters candidates"]:
    """``positions[b, v, c]`` is the rank (0 = best) of candidate ``c`` on ballot ``(b, v)``."""
    return jnp.argsort(rankings, axis=-1).astype(jnp.int32)


def voter_weights(rankings, weights=None) -> Int[Array, "batch voters"]:
    """The ballot counts as int32, ones when ``weights`` is None."""
    if weights is None:
        return jnp.ones(jnp.shape(rankings)[:2], jnp.int32)
    return jnp.asarray(weights).astype(jnp.int32)


def pairwise_support(rankings, weights=None) -> Int[Array, "batch candidates candidates"]:
    """``support[b, x, y]`` = number of voters ranking ``x`` above ``y`` (weighted).

    Integer arithmetic throughout: float matmuls may run in reduced precision on accelerators and
    ties between candidates are decided by exact equality.
    """
    pos = positions(rankings)
    above = (pos[..., :, None] < pos[..., None, :]).astype(jnp.int32)
    return jnp.einsum("bv,bvxy->bxy", voter_weights(rankings, weights), above)


def margins(rankings, weights=None) -> Int[Array, "batch candidates candidates"]:
    """``margins[b, x, y]`` = support(x over y) - support(y over x); antisymmetric, zero diagonal."""
    support = pairwise_support(rankings, weights)
    return support - jnp.swapaxes(support, -1, -2)


def rankings_from_utilities(utilities: Float[Array, "batch voters candidates"]
                            ) -> Int[Array, "batch voters candidates"]:
    """Best-first rankings from utilities; equal utilities are ordered by lower index first."""
    return jnp.argsort(-utilities, axis=-1, stable=True).astype(jnp.int32)


def borda_utilities(rankings: Int[Array, "batch voters candidates"]) -> Float[Array, "batch voters candidates"]:
    """Utilities ``(m - 1 - rank) / (m - 1)`` in [0, 1] induced by the rankings (0 when m = 1)."""
    m = jnp.shape(rankings)[-1]
    return (m - 1 - positions(rankings)).astype(jnp.float32) / max(m - 1, 1)


# ----------------------------------------------------------------------------- samplers

def _check_sizes(batch_size, num_voters, num_candidates):
    for name, value in (("batch_size", batch_size), ("num_voters", num_voters),
                        ("num_candidates", num_candidates)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"culture.{name} must be an int >= 1, got {value!r}")


def _check_range(name, value, low, high=None):
    if not _is_concrete(value) or np.ndim(value) > 0:
        return
    value = float(value)
    if not np.isfinite(value) or value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ConfigError(f"culture.{name} must be in {bound}, got {value}")


def impartial_culture(key: PRNGKeyArray, batch_size: int, num_voters: int,
                      num_candidates: int) -> Profile:
    """Every ballot an independent uniformly random ranking."""
    _check_sizes(batch_size, num_voters, num_candidates)
    return Profile(_ic(key, batch_size, num_voters, num_candidates))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _ic(key, batch_size, num_voters, num_candidates):
    noise = jax.random.uniform(key, (batch_size, num_voters, num_candidates))
    return jnp.argsort(noise, axis=-1).astype(jnp.int32)


def mallows(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
            phi: float, central: str = "identity") -> Profile:
    """Mallows model: ``P(ranking) ~ phi ** kendall_tau(ranking, central)``, by repeated insertion.

    The i-th candidate of the central ranking is inserted into the first i at a slot that adds
    ``d`` inversions with probability proportional to ``phi ** d`` (d = 0..i); the product of these
    factors is exactly the Mallows law. ``phi = 1`` is impartial culture, ``phi = 0`` the central
    ranking for everyone. ``central`` is ``"identity"`` (0 > 1 > ...) or ``"random"`` (one uniformly
    random central ranking per profile).
    """
    _check_sizes(batch_size, num_voters, num_candidates)
    _check_range("phi", phi, 0.0, 1.0)
    if central not in ("identity", "random"):
        raise ConfigError(f"culture.central must be 'identity' or 'random', got {central!r}")
    return Profile(_mallows(key, batch_size, num_voters, num_candidates, phi, central))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 5))
def _mallows(key, batch_size, num_voters, num_candidates, phi, central):
    m = num_candidates
    k_ins, k_central = jax.random.split(key)
    d = jnp.arange(m)
    log_phi = jnp.log(jnp.asarray(phi, jnp.float32))
    # logits[i, d]: d inversions when inserting item i; d > i impossible; 0 * log(0) taken as 0.
    logits = jnp.where(d[None, :] == 0, 0.0, d[None, :] * log_phi)
    logits = jnp.where(d[None, :] <= d[:, None], logits, -jnp.inf)
    inversions = jax.random.categorical(k_ins, logits, shape=(batch_size, num_voters, m))
    slots = d[None, None] - inversions  # slot of item i in the list built so far, in 0..i
    order = jnp.zeros((batch_size, num_voters, m), jnp.int32)
    for i in range(m):  # m is static and small; each step is a vectorised insertion
        j = slots[..., i:i + 1]
        shifted = jnp.concatenate([order[..., :1], order[..., :-1]], axis=-1)
        order = jnp.where(d[None, None] < j, order, jnp.where(d[None, None] == j, i, shifted))
    if central == "identity":
        return order
    centre = _ic(k_central, batch_size, 1, m)  # [batch, 1, m]
    return jnp.take_along_axis(jnp.broadcast_to(centre, order.shape), order, axis=-1)


def urn(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
        alpha: float) -> Profile:
    """Polya-Eggenberger urn: after each draw, ``alpha * m!`` copies of the drawn ballot are added.

    Voter ``i`` (0-based) therefore copies a uniformly chosen earlier voter with probability
    ``i * alpha / (1 + i * alpha)`` and otherwise draws a fresh impartial-culture ballot; this is
    the convention of prefsampling's ``urn``. ``alpha = 0`` is impartial culture.
    """
    _check_sizes(batch_size, num_voters, num_candidates)
    _check_range("alpha", alpha, 0.0)
    return Profile(_urn(key, batch_size, num_voters, num_candidates, alpha))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _urn(key, batch_size, num_voters, num_candidates, alpha):
    k_fresh, k_copy, k_src = jax.random.split(key, 3)
    fresh = _ic(k_fresh, batch_size, num_voters, num_candidates)
    i = jnp.arange(num_voters)[None]  # [1, n]: explicit broadcasting over the batch
    p_copy = i * alpha / (1.0 + i * alpha)
    copies = jax.random.uniform(k_copy, (batch_size, num_voters)) < p_copy
    source = jnp.floor(jax.random.uniform(k_src, (batch_size, num_voters)) * i).astype(jnp.int32)
    parent = jnp.where(copies, jnp.minimum(source, jnp.maximum(i - 1, 0)), jnp.broadcast_to(i, copies.shape))
    # Pointer doubling: every chain of copies ends at a fresh ballot within log2(n) hops.
    for _ in range(max(1, int(np.ceil(np.log2(max(num_voters, 2)))))):
        parent = jnp.take_along_axis(parent, parent, axis=1)
    return jnp.take_along_axis(fresh, parent[..., None], axis=1)


def plackett_luce(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
                  strengths=None) -> Profile:
    """Plackett-Luce: candidates are drawn best-first with probability proportional to strength.

    Sampled by Gumbel-perturbed log strengths (sorting them gives exactly the Plackett-Luce law).

    Args:
        strengths: ``[candidates]`` or ``[batch, candidates]`` positive strengths; None draws one
            strength vector per profile from a flat Dirichlet.
    """
    _check_sizes(batch_size, num_voters, num_candidates)
    k_w, k_g = jax.random.split(key)
    if strengths is None:
        strengths = jax.random.dirichlet(k_w, jnp.ones(num_candidates), (batch_size,))
    strengths = jnp.asarray(strengths, jnp.float32)
    if strengths.shape not in ((num_candidates,), (batch_size, num_candidates)):
        raise ConfigError(f"culture.strengths must be [candidates] or [batch, candidates], got "
                          f"{strengths.shape}")
    if _is_concrete(strengths) and not (np.asarray(strengths) > 0).all():
        raise ConfigError("culture.strengths must all be > 0")
    return Profile(_plackett_luce(k_g, batch_size, num_voters, num_candidates, strengths))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _plackett_luce(key, batch_size, num_voters, num_candidates, strengths):
    log_w = jnp.broadcast_to(jnp.log(strengths), (batch_size, num_candidates))[:, None, :]
    gumbel = jax.random.gumbel(key, (batch_size, num_voters, num_candidates))
    return jnp.argsort(-(log_w + gumbel), axis=-1).astype(jnp.int32)


def _axis_map(key, order, axis):
    if axis == "identity":
        return order
    b, n, m = order.shape
    societal = _ic(key, b, 1, m)  # position on the axis -> candidate
    return jnp.take_along_axis(jnp.broadcast_to(societal, order.shape), order, axis=-1)


def single_peaked(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
                  method: str = "walsh", axis: str = "identity") -> Profile:
    """Single-peaked ballots on an axis (``"identity"``: 0-1-...-m-1, or one random axis per profile).

    ``method="walsh"`` (Walsh 2015) is uniform over all ``2 ** (m - 1)`` single-peaked rankings:
    built from the worst candidate up, each step removes the left or right end of the remaining
    interval with probability 1/2. ``method="conitzer"`` (Conitzer 2009) draws the peak uniformly,
    then grows the top interval left or right with probability 1/2 while both sides remain.
    """
    _check_sizes(batch_size, num_voters, num_candidates)
    if method not in ("walsh", "conitzer"):
        raise ConfigError(f"culture.method must be 'walsh' or 'conitzer', got {method!r}")
    if axis not in ("identity", "random"):
        raise ConfigError(f"culture.axis must be 'identity' or 'random', got {axis!r}")
    return Profile(_single_peaked(key, batch_size, num_voters, num_candidates, method, axis))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _single_peaked(key, batch_size, num_voters, num_candidates, method, axis):
    m = num_candidates
    k_flip, k_peak, k_axis = jax.random.split(key, 3)
    shape = (batch_size, num_voters)
    flips = jax.random.bernoulli(k_flip, 0.5, shape + (max(m - 1, 1),))
    ranks = [None] * m
    if method == "walsh":
        lo, hi = jnp.zeros(shape, jnp.int32), jnp.full(shape, m - 1, jnp.int32)
        for t in range(m - 1):  # fills ranks m-1, m-2, ..., 1
            take_left = flips[..., t]
            ranks[m - 1 - t] = jnp.where(take_left, lo, hi)
            lo, hi = jnp.where(take_left, lo + 1, lo), jnp.where(take_left, hi, hi - 1)
        ranks[0] = lo
    else:
        peak = jax.random.randint(k_peak, shape, 0, m)
        lo, hi = peak, peak
        ranks[0] = peak
        for t in range(1, m):
            go_left = (flips[..., t - 1] & (lo > 0)) | (hi == m - 1)
            ranks[t] = jnp.where(go_left, lo - 1, hi + 1)
            lo, hi = jnp.where(go_left, lo - 1, lo), jnp.where(go_left, hi, hi + 1)
    order = jnp.stack(ranks, axis=-1).astype(jnp.int32)
    return _axis_map(k_axis, order, axis)


def euclidean(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
              dims: int = 2, space: str = "uniform") -> Profile:
    """Voters and candidates are points in ``dims`` dimensions; nearer candidates are preferred.

    Points are uniform on ``[0, 1] ** dims`` (``space="uniform"``) or standard normal
    (``"gaussian"``). Utilities are minus the Euclidean distance.
    """
    _check_sizes(batch_size, num_voters, num_candidates)
    if not isinstance(dims, (int, np.integer)) or dims < 1:
        raise ConfigError(f"culture.dims must be an int >= 1, got {dims!r}")
    if space not in ("uniform", "gaussian"):
        raise ConfigError(f"culture.space must be 'uniform' or 'gaussian', got {space!r}")
    return Profile(*_euclidean(key, batch_size, num_voters, num_candidates, dims, space))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _euclidean(key, batch_size, num_voters, num_candidates, dims, space):
    k_v, k_c = jax.random.split(key)
    draw = jax.random.uniform if space == "uniform" else jax.random.normal
    voters = draw(k_v, (batch_size, num_voters, dims))
    cands = draw(k_c, (batch_size, num_candidates, dims))
    utilities = -jnp.linalg.norm(voters[:, :, None, :] - cands[:, None, :, :], axis=-1)
    return rankings_from_utilities(utilities), utilities


def dirichlet(key: PRNGKeyArray, batch_size: int, num_voters: int, num_candidates: int,
              concentration: float = 1.0) -> Profile:
    """Each voter's utilities ~ Dirichlet(concentration * 1); the ranking is their descending argsort."""
    _check_sizes(batch_size, num_voters, num_candidates)
    _check_range("concentration", concentration, 1e-6)
    return Profile(*_dirichlet(key, batch_size, num_voters, num_candidates, concentration))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _dirichlet(key, batch_size, num_voters, num_candidates, concentration):
    alpha = jnp.full((num_candidates,), concentration, jnp.float32)
    utilities = jax.random.dirichlet(key, alpha, (batch_size, num_voters))
    return rankings_from_utilities(utilities), utilities


def variable_size_profiles(key: PRNGKeyArray, num_profiles: int, max_voters: int,
                           max_candidates: int, culture: "CultureConfig | None" = None) -> dict:
    """Profiles with ``n ~ U{1..max_voters}`` voters and ``m ~ U{1..max_candidates}`` candidates.

    The protocol of Hornischer and Terzopoulou (2025, Sec. 5.2). Profiles are grouped by ``m``
    (a static shape); within a group, voters beyond ``n`` are padding rows with weight 0, so one
    compiled rule serves every ``n``.

    Args:
        key: PRNG key.
        num_profiles: total number of profiles over all groups.
        max_voters, max_candidates: upper bounds of the uniform sizes.
        culture: the culture (its sizes are overridden); impartial culture by default.

    Returns:
        ``{m: Profile(rankings [k_m, max_voters, m], utilities or None, weights [k_m, max_voters])}``
        with ``sum(k_m) == num_profiles``.
    """
    _check_sizes(num_profiles, max_voters, max_candidates)
    culture = culture or CultureConfig()
    k_n, k_m, k_p = jax.random.split(key, 3)
    n = np.asarray(jax.random.randint(k_n, (num_profiles,), 1, max_voters + 1))
    m = np.asarray(jax.random.randint(k_m, (num_profiles,), 1, max_candidates + 1))
    groups = {}
    for size in range(1, max_candidates + 1):
        count = int((m == size).sum())
        if not count:
            continue
        config = CultureConfig(**{**culture.__dict__, "num_voters": max_voters, "num_candidates": size,
                                  "strengths": None if culture.strengths is None or
                                  len(culture.strengths) != size else culture.strengths})
        profile = config.sample(jax.random.fold_in(k_p, size), count)
        weights = (np.arange(max_voters) < n[m == size][:, None]).astype(np.int32)
        groups[size] = profile._replace(weights=weights)
    return groups


# ----------------------------------------------------------------------------- config

@dataclass(frozen=True)
class CultureConfig:
    """A sampling culture and its parameters, checked once before anything is traced.

    Attributes:
        name: one of ``CULTURES``.
        num_voters, num_candidates: profile sizes.
        phi: Mallows dispersion in [0, 1].
        central: Mallows central ranking, ``"identity"`` or ``"random"``.
        alpha: urn replacement parameter (>= 0).
        strengths: Plackett-Luce strengths per candidate, or None for random per profile.
        axis: single-peaked axis, ``"identity"`` or ``"random"``.
        dims, space: Euclidean dimension and point distribution.
        concentration: Dirichlet concentration.
    """

    name: str = "ic"
    num_voters: int = 11
    num_candidates: int = 4
    phi: float = 0.5
    central: str = "identity"
    alpha: float = 0.1
    strengths: Optional[tuple] = None
    axis: str = "identity"
    dims: int = 2
    space: str = "uniform"
    concentration: float = 1.0

    def __post_init__(self):
        if self.name not in CULTURES:
            raise ConfigError(f"culture.name must be one of {CULTURES}, got {self.name!r}")
        _check_sizes(1, self.num_voters, self.num_candidates)
        _check_range("phi", self.phi, 0.0, 1.0)
        _check_range("alpha", self.alpha, 0.0)
        _check_range("concentration", self.concentration, 1e-6)
        if not isinstance(self.dims, int) or self.dims < 1:  # used only by euclidean, checked for every culture
            raise ConfigError(f"culture.dims must be an int >= 1, got {self.dims!r}")
        if self.strengths is not None and len(self.strengths) != self.num_candidates:
            raise ConfigError(f"culture.strengths must have num_candidates = {self.num_candidates} "
                              f"entries, got {len(self.strengths)}")

    def sample(self, key: PRNGKeyArray, batch_size: int) -> Profile:
        """Draws ``batch_size`` profiles of this culture."""
        args = (key, batch_size, self.num_voters, self.num_candidates)
        if self.name == "ic":
            return impartial_culture(*args)
        if self.name == "mallows":
            return mallows(*args, phi=self.phi, central=self.central)
        if self.name == "urn":
            return urn(*args, alpha=self.alpha)
        if self.name == "plackett_luce":
            return plackett_luce(*args, strengths=self.strengths)
        if self.name.startswith("single_peaked"):
            return single_peaked(*args, method=self.name.rsplit("_", 1)[1], axis=self.axis)
        if self.name == "euclidean":
            return euclidean(*args, dims=self.dims, space=self.space)
        return dirichlet(*args, concentration=self.concentration)
