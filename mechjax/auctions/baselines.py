"""Classical auction baselines, exact (nothing is learned).

Every builder takes a valuation object (and options) and returns a plain, jittable function
``bids [batch, bidders, items] -> (allocations [batch, bidders, items], payments [batch, bidders])``.
Builders validate their options and refuse settings they do not apply to with a
:class:`~mechjax.errors.ConfigError` naming the field, before anything is traced.

Ties are broken deterministically: among equally good bidders the lowest index wins; a bid exactly
at the reserve (or a virtual value exactly 0) wins. VCG takes the first welfare-maximising
assignment in its enumeration order (item 0's owner varies slowest; owners in the order bidder
0, ..., bidder n-1, unsold), which for additive bids is again "lowest index wins each item".

Unit demand: the item-by-item auctions (``second_price``, ``first_price``, ``itemwise_myerson``)
could hand one unit-demand bidder several items, so they are refused for unit demand with more
than one item; VCG (the unit-demand generalisation of second price) and the bundle price apply.
For unit demand the grand-bundle winner receives only her favourite item (lowest index on ties).

The bundle price is searched on the exact revenue curve (exact CDFs of bundle values plus a fine
quadrature; the default) or on one estimated from seeded samples: see :func:`optimal_bundle_price`.
VCG for unit demand enumerates assignments exactly (memory ``[batch, assignments, bidders]``).
A bid outside the support ``[low, high]`` is outside the report space (``valuations.clip``);
Myerson's threshold payments never go below the support's lower end.
"""

from __future__ import annotations

import inspect
import itertools
import math
from typing import Callable, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from mechjax.auctions.valuations import UniformValuations
from mechjax.errors import ConfigError

Mechanism = Callable[[Float[Array, "batch bidders items"]],
                     tuple[Float[Array, "batch bidders items"], Float[Array, "batch bidders"]]]
Reserve = Union[float, Sequence[float], str]


# --------------------------------------------------------------------------- validation helpers

def _require_uniform(valuations, name: str) -> None:
    if not isinstance(valuations, UniformValuations):
        raise ConfigError(f"mechanism.name={name!r} needs UniformValuations (closed-form virtual values "
                          f"and thresholds), got {type(valuations).__name__}")


def _require_item_by_item(valuations: UniformValuations, name: str) -> None:
    if valuations.demand == "unit" and valuations.num_items > 1:
        raise ConfigError(
            f"mechanism.name={name!r} sells items one by one and could give a unit-demand bidder several "
            f"items: it needs problem.demand='additive' or problem.num_items == 1 (got demand='unit' with "
            f"{valuations.num_items} items); use 'vcg' or 'bundle_pricing' for unit demand")


def _iid_across_bidders(valuations: UniformValuations) -> bool:
    lo, hi = np.asarray(valuations.low), np.asarray(valuations.high)
    return bool((lo == lo[:1]).all() and (hi == hi[:1]).all())


def _reserve_per_item(reserve: Reserve, valuations: UniformValuations, name: str) -> np.ndarray:
    """Reserve as an ``[items]`` float array; ``"monopoly"`` is the revenue-optimal posted price."""
    m = valuations.num_items
    if isinstance(reserve, str):
        if reserve != "monopoly":
            raise ConfigError(f"mechanism.reserve must be a number, one number per item or 'monopoly', "
                              f"got {reserve!r}")
        if not _iid_across_bidders(valuations):
            raise ConfigError(f"mechanism.reserve='monopoly' for {name!r} needs bidders i.i.d. per item "
                              "(a per-item reserve cannot be optimal for different bidder distributions)")
        lo, hi = np.asarray(valuations.low)[0], np.asarray(valuations.high)[0]
        # argmax_p p (1 - F(p)) for U[a, b] is b / 2, unless that is below the support.
        return np.maximum(lo, hi / 2.0)
    r = np.asarray(reserve, dtype=float)
    r = np.full(m, float(r)) if r.ndim == 0 else r
    if r.shape != (m,):
        raise ConfigError(f"mechanism.reserve must be one number or {m} numbers (one per item), got "
                          f"shape {r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ConfigError(f"mechanism.reserve must be finite and >= 0, got {r.tolist()}")
    return r


# --------------------------------------------------------------------------- shared machinery

def _sell_each_item(scores: jax.Array, eligible: jax.Array):
    """Per item, the eligible bidder with the highest score wins (lowest index on ties).

    Args:
        scores: ``[batch, bidders, items]`` what bidders compete on (bids or virtual values).
        eligible: ``[batch, bidders, items]`` who clears the reserve.

    Returns:
        ``allocations [batch, bidders, items]`` (0/1) and ``others_best [batch, 1, items]``: the
        highest score among the bidders other than the winner (``-inf`` with a single bidder).
    """
    n = scores.shape[1]
    winner = jnp.argmax(jnp.where(eligible, scores, -jnp.inf), axis=1)  # argmax keeps the first max
    winner_mask = jax.nn.one_hot(winner, n, axis=1, dtype=bool)
    allocations = (winner_mask & jnp.any(eligible, axis=1, keepdims=True)).astype(scores.dtype)
    others_best = jnp.max(jnp.where(winner_mask, -jnp.inf, scores), axis=1, keepdims=True)
    return allocations, others_best


def _charge(allocations: jax.Array, prices: jax.Array) -> jax.Array:
    # Prices are finite everywhere, so a zero allocation never turns -inf into nan.
    return jnp.sum(allocations * prices, axis=-1)


# --------------------------------------------------------------------------- item-by-item auctions

def make_second_price(valuations: UniformValuations, reserve: Reserve = 0.0) -> Mechanism:
    """Second-price (Vickrey) auction with a reserve, item by item.

    Per item, the highest bidder at or above the reserve ``r`` wins and pays
    ``max(r, highest other bid)``. Dominant-strategy truthful for additive bidders.

    Args:
        valuations: the setting; additive, or a single item.
        reserve: one reserve for all items, one per item, or ``"monopoly"`` (the revenue-optimal
            posted price of each item, ``max(low, high / 2)`` for U[low, high]; with it and i.i.d.
            bidders this is Myerson's optimal auction).
    """
    _require_item_by_item(valuations, "second_price")
    r = jnp.asarray(_reserve_per_item(reserve, valuations, "second_price"), jnp.float32)[None, None, :]  # [1, 1, items]

    def second_price(bids):
        alloc, others_best = _sell_each_item(bids, bids >= r)
        return alloc, _charge(alloc, jnp.maximum(r, others_best))

    return second_price


def make_first_price(valuations: UniformValuations, reserve: Reserve = 0.0) -> Mechanism:
    """First-price auction item by item: the highest bidder at or above the reserve pays her bid.

    Not truthful (bidders gain by shading); used to show that attackers find regret.
    """
    _require_item_by_item(valuations, "first_price")
    r = jnp.asarray(_reserve_per_item(reserve, valuations, "first_price"), jnp.float32)[None, None, :]  # [1, 1, items]

    def first_price(bids):
        alloc, _ = _sell_each_item(bids, bids >= r)
        return alloc, _charge(alloc, bids)

    return first_price


def make_itemwise_myerson(valuations: UniformValuations) -> Mechanism:
    """Myerson's optimal auction run separately on every item (independent uniform bidders).

    Per item ``j`` the bidder with the highest non-negative virtual value
    ``phi_ij(b) = 2 b - high_ij`` wins and pays her threshold, the smallest bid that still wins:
    ``max(low_ij, phi_ij^{-1}(max(0, best other virtual value)))`` with
    ``phi_ij^{-1}(y) = (y + high_ij) / 2``. Exact for non-identical uniforms (all are regular).
    """
    _require_uniform(valuations, "itemwise_myerson")
    _require_item_by_item(valuations, "itemwise_myerson")
    low, high = valuations.low_array[None], valuations.high_array[None]  # [1, bidders, items]

    def itemwise_myerson(bids):
        virtual = valuations.virtual_value(bids)
        alloc, others_best = _sell_each_item(virtual, virtual >= 0.0)
        threshold = jnp.maximum(low, (jnp.maximum(others_best, 0.0) + high) / 2.0)
        return alloc, _charge(alloc, threshold)

    return itemwise_myerson


def make_myerson(valuations: UniformValuations) -> Mechanism:
    """Myerson's revenue-optimal auction for one item and independent regular (uniform) bidders.

    See :func:`make_itemwise_myerson` for the allocation and threshold payments.
    """
    _require_uniform(valuations, "myerson")
    if valuations.num_items != 1:
        raise ConfigError(f"mechanism.name='myerson' needs problem.num_items == 1, got "
                          f"{valuations.num_items}; use 'itemwise_myerson' to sell additive items separately")
    return make_itemwise_myerson(valuations)


# --------------------------------------------------------------------------- VCG

def feasible_assignments(num_bidders: int, num_items: int, demand: str) -> np.ndarray:
    """All deterministic feasible allocations, in VCG's tie-breaking order.

    Returns:
        ``[assignments, bidders, items]`` 0/1 array; item ``j`` goes to at most one bidder, and for
        unit demand every bidder gets at most one item. Items may stay unsold.
    """
    rows = []
    for owners in itertools.product(range(num_bidders + 1), repeat=num_items):  # num_bidders = unsold
        sold = [o for o in owners if o < num_bidders]
        if demand == "unit" and len(set(sold)) < len(sold):
            continue
        a = np.zeros((num_bidders, num_items))
        for item, owner in enumerate(owners):
            if owner < num_bidders:
                a[owner, item] = 1.0
        rows.append(a)
    return np.stack(rows)


def _count_assignments(n: int, m: int, demand: str) -> int:
    if demand == "additive":
        return (n + 1) ** m
    return sum(math.comb(m, k) * math.perm(n, k) for k in range(min(n, m) + 1))


def make_vcg(valuations: UniformValuations, method: str = "auto", max_assignments: int = 20_000) -> Mechanism:
    """Vickrey-Clarke-Groves with Clarke pivot payments.

    The welfare-maximising allocation (by bids) is chosen, and bidder ``i`` pays the welfare the
    others would get without her minus the welfare they get now.

    Args:
        valuations: the setting.
        method: ``"itemwise"`` (additive only: VCG separates into a second-price auction per item
            with no reserve), ``"enumerate"`` (exact, by enumerating all feasible assignments,
            unsold items allowed) or ``"auto"`` (itemwise for additive, enumerate for unit demand).
        max_assignments: refuse to enumerate more assignments than this (unit demand with 5
            bidders and 5 items has 1,546; 6 x 6 has 13,327).
    """
    n, m, demand = valuations.num_bidders, valuations.num_items, valuations.demand
    if method not in ("auto", "itemwise", "enumerate"):
        raise ConfigError(f"mechanism.method must be 'auto', 'itemwise' or 'enumerate', got {method!r}")
    if method == "itemwise" or (method == "auto" and demand == "additive"):
        if demand != "additive" and m > 1:
            raise ConfigError("mechanism.method='itemwise' for 'vcg' needs problem.demand='additive'")
        return make_second_price(valuations, reserve=0.0)
    count = _count_assignments(n, m, demand)
    if count > max_assignments:
        raise ConfigError(
            f"mechanism.name='vcg' enumerates assignments: {n} bidders x {m} items ({demand}) have {count}, "
            f"over mechanism.max_assignments={max_assignments}")
    assignments = jnp.asarray(feasible_assignments(n, m, demand), jnp.float32)  # [K, n, m]

    def vcg(bids):
        values = jnp.einsum("kij,bij->bki", assignments, bids)  # each bidder's value per assignment
        welfare = values.sum(-1)  # [batch, K]
        best = jnp.argmax(welfare, axis=1)  # first maximiser: the documented tie-break
        alloc = assignments[best]
        chosen_values = jnp.take_along_axis(values, best[:, None, None], axis=1)[:, 0]  # [batch, n]
        others_now = welfare.max(axis=1, keepdims=True) - chosen_values
        # Max over assignments of the others' welfare: zeroing i's value is the same as removing i,
        # since dropping i's items from any assignment keeps it feasible.
        others_without = jnp.max(welfare[:, :, None] - values, axis=1)
        return alloc, others_without - others_now

    return vcg


# --------------------------------------------------------------------------- grand bundle

def _bundle_values(bids, demand: str):
    return bids.sum(-1) if demand == "additive" else bids.max(-1)


def make_bundle_pricing(valuations: UniformValuations, price: float | None = None, search: str = "exact",
                        seed: int = 0, num_samples: int = 200_000) -> Mechanism:
    """Sells the grand bundle: a posted price for one bidder, a second-price auction with reserve for several.

    A bidder's bundle bid is the sum of her bids (additive) or her highest bid (unit demand, where
    the winner receives only her favourite item, lowest index on ties: it is worth the same to her).
    The highest bundle bid at or above the price ``p`` wins and pays ``max(p, second bundle bid)``;
    with one bidder that is a posted price. Truthful for both demands.

    Args:
        valuations: the setting.
        price: the price / reserve; ``None`` searches for the revenue-maximising one
            (:func:`optimal_bundle_price`).
        search, seed, num_samples: passed to :func:`optimal_bundle_price`.
    """
    if price is None:
        price = optimal_bundle_price(valuations, search=search, seed=seed, num_samples=num_samples)
    elif not (np.isfinite(price) and price >= 0):
        raise ConfigError(f"mechanism.price must be finite and >= 0, got {price}")
    p = jnp.float32(price)
    demand = valuations.demand

    def bundle_pricing(bids):
        bundle = _bundle_values(bids, demand)[..., None]  # [batch, bidders, 1]
        winner, others_best = _sell_each_item(bundle, bundle >= p)
        payments = _charge(winner, jnp.maximum(p, others_best))
        if demand == "additive":
            return jnp.broadcast_to(winner, bids.shape), payments
        favourite = jax.nn.one_hot(jnp.argmax(bids, axis=-1), bids.shape[-1], dtype=bids.dtype)
        return winner * favourite, payments

    return bundle_pricing


def _bundle_cdf(valuations: UniformValuations, x: np.ndarray) -> np.ndarray:
    """``[points, bidders]`` exact CDF of each bidder's bundle value (float64)."""
    lo, hi = np.asarray(valuations.low, float), np.asarray(valuations.high, float)
    width = hi - lo
    x = x[:, None, None]
    if valuations.demand == "unit":  # max of independent uniforms
        return np.prod(np.clip((x - lo) / width, 0.0, 1.0), axis=-1)
    # Sum of independent uniforms, by inclusion-exclusion over which items exceed their width.
    m = valuations.num_items
    cdf = np.zeros((x.shape[0], lo.shape[0]))
    for subset in itertools.product((0, 1), repeat=m):
        chosen = np.asarray(subset, float)
        shift = lo.sum(-1) + (width * chosen).sum(-1)
        cdf += (-1.0) ** chosen.sum() * np.maximum(x[:, :, 0] - shift, 0.0) ** m
    cdf /= math.factorial(m) * np.prod(width, axis=-1)
    return np.clip(cdf, 0.0, 1.0)


def _exact_revenue_curve(valuations: UniformValuations):
    """Revenue of the bundle auction as a function of the reserve, from exact CDFs.

    ``R(p) = p P(B1 >= p) + int_p^top P(B2 > x) dx`` with B1 >= B2 the top two bundle values; the
    integral is a trapezoid rule on 2^16 intervals, accurate far beyond Monte Carlo error.
    """
    top = float(np.max(_bundle_values(np.asarray(valuations.high, float), valuations.demand)))
    xs = np.linspace(0.0, top, 2 ** 16 + 1)
    g = _bundle_cdf(valuations, xs)
    cdf_first = np.prod(g, axis=1)
    others = np.stack([np.prod(np.delete(g, i, axis=1), axis=1) for i in range(g.shape[1])], 1)
    cdf_second = cdf_first + np.sum((1.0 - g) * others, axis=1)
    tail = 1.0 - cdf_second
    area_from_zero = np.concatenate([[0.0], np.cumsum((tail[1:] + tail[:-1]) / 2.0 * np.diff(xs))])

    def revenue(p):
        return p * (1.0 - np.interp(p, xs, cdf_first)) + area_from_zero[-1] - np.interp(p, xs, area_from_zero)

    return revenue, top


def _sampled_revenue_curve(valuations: UniformValuations, seed: int, num_samples: int):
    """Empirical revenue ``mean(1{B1 >= p} max(p, B2))`` from ``num_samples`` profiles."""
    values = np.asarray(valuations.sample(jax.random.PRNGKey(seed), num_samples), np.float64)
    bundle = np.sort(_bundle_values(values, valuations.demand), axis=1)
    first = bundle[:, -1]
    second = bundle[:, -2] if bundle.shape[1] > 1 else np.zeros(num_samples)
    first_sorted, second_sorted = np.sort(first), np.sort(second)
    second_suffix = np.concatenate([np.cumsum(second_sorted[::-1])[::-1], [0.0]])

    def revenue(p):
        p = np.asarray(p, float)
        wins = num_samples - np.searchsorted(first_sorted, p, side="left")
        above = np.searchsorted(second_sorted, p, side="right")
        excess = second_suffix[above] - p * (num_samples - above)  # sum of (B2 - p)_+
        return (p * wins + excess) / num_samples

    return revenue, float(first.max())


def optimal_bundle_price(valuations: UniformValuations, search: str = "exact", seed: int = 0,
                         num_samples: int = 200_000, grid_size: int = 2001) -> float:
    """Revenue-maximising price (reserve) for the grand bundle.

    A grid of ``grid_size`` prices on ``[0, top bundle value]``, then a second grid of the same
    size across the best point's two neighbouring cells.

    Args:
        valuations: the setting (independent uniforms).
        search: ``"exact"``: revenue from the exact CDF of bundle values (inclusion-exclusion for sums
            of uniforms, products for maxima) plus a fine quadrature; e.g. 1 bidder, 2 additive U[0,1]
            items gives ``sqrt(2/3)``. ``"sampled"``: revenue estimated on ``num_samples`` profiles
            drawn with ``seed`` (deterministic given the seed).
        seed: PRNG seed for ``"sampled"``.
        num_samples: profiles for ``"sampled"``.
        grid_size: prices per grid.
    """
    _require_uniform(valuations, "bundle_pricing")
    if search == "exact":
        if valuations.demand == "additive" and valuations.num_items > 16:
            raise ConfigError("mechanism.search='exact' sums at most 16 additive items (2^items terms); "
                              "use mechanism.search='sampled'")
        revenue, top = _exact_revenue_curve(valuations)
    elif search == "sampled":
        if num_samples < 1:
            raise ConfigError(f"mechanism.num_samples must be >= 1, got {num_samples}")
        revenue, top = _sampled_revenue_curve(valuations, seed, num_samples)
    else:
        raise ConfigError(f"mechanism.search must be 'exact' or 'sampled', got {search!r}")
    if grid_size < 3:
        raise ConfigError(f"mechanism.grid_size must be >= 3, got {grid_size}")
    grid = np.linspace(0.0, top, grid_size)
    best = int(np.argmax(revenue(grid)))  # first maximiser: the lowest best price
    fine = np.linspace(grid[max(best - 1, 0)], grid[min(best + 1, grid_size - 1)], grid_size)
    return float(fine[int(np.argmax(revenue(fine)))])


# --------------------------------------------------------------------------- registry

BASELINES: dict[str, Callable[..., Mechanism]] = {
    "vcg": make_vcg,
    "second_price": make_second_price,
    "first_price": make_first_price,
    "myerson": make_myerson,
    "itemwise_myerson": make_itemwise_myerson,
    "bundle_pricing": make_bundle_pricing,
}


def build_baseline(name: str, valuations: UniformValuations, **options) -> Mechanism:
    """Builds the baseline ``name`` for ``valuations``.

    Args:
        name: a key of :data:`BASELINES`.
        valuations: the setting.
        **options: the builder's keyword options (e.g. ``reserve`` for ``second_price``).

    Raises:
        ConfigError: unknown name or option, or a baseline that does not apply to the setting.
    """
    if name not in BASELINES:
        raise ConfigError(f"mechanism.name must be one of {sorted(BASELINES)}, got {name!r}")
    builder = BASELINES[name]
    accepted = [p for p in inspect.signature(builder).parameters if p != "valuations"]
    for option in options:
        if option not in accepted:
            raise ConfigError(f"mechanism.{option} is not an option of {name!r} (options: {accepted})")
    return builder(valuations, **options)
