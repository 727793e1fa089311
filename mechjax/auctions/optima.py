"""Known optimal revenues of auction settings, looked up by the setting itself.

``problem.optimal_revenue: auto`` (the default) asks :func:`known_optimum` for the setting the
config describes (bidders, items, demand, support), so an override such as
``problem.num_bidders=5 problem.num_items=10`` gets the optimum of *that* setting, or none, and
never the one a preset was written for. An explicit number must agree with a known optimum.

Sources: single-item settings with i.i.d. uniform values use Myerson's optimal auction (second
price with reserve ``max(low, high / 2)``), computed here in closed form for any number of
bidders; the two-item single-bidder settings are the published optima below (literature
values, not results of this library).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from mechjax.errors import ConfigError

# Relative tolerance for an explicit optimal_revenue against the table (the 1x2 optimum is quoted
# as 0.549 or 0.550 in papers).
TOLERANCE = 2e-3


@dataclass(frozen=True)
class KnownOptimum:
    """An optimal revenue and where it comes from."""

    revenue: float
    source: str


# (bidders, items, demand, ((low, high) per item)) -> optimum. One-bidder two-item settings.
PUBLISHED: dict[tuple, KnownOptimum] = {
    (1, 2, "additive", ((0.0, 1.0), (0.0, 1.0))): KnownOptimum(
        0.5491, "Manelli & Vincent (2006): items at 2/3 each, the bundle at (4 - sqrt 2) / 3"),
    (1, 2, "additive", ((4.0, 16.0), (4.0, 7.0))): KnownOptimum(9.781, "Daskalakis, Deckelbaum & Tzamos (2017)"),
    (1, 2, "unit", ((0.0, 1.0), (0.0, 1.0))): KnownOptimum(0.3843, "Pavlov (2011)"),
    (1, 2, "unit", ((2.0, 3.0), (2.0, 3.0))): KnownOptimum(2.1370, "Pavlov (2011)"),
}


def myerson_single_item(num_bidders: int, low: float, high: float) -> float:
    """Optimal expected revenue for one item and ``n`` bidders with i.i.d. U[low, high] values.

    Myerson: sell to the highest virtual value ``2v - high`` if it is positive (reserve
    ``r = max(low, high / 2)``). With ``u = F(v)`` the revenue is
    ``int_{F(r)}^1 (2 low - high + 2 (high - low) u) n u^(n-1) du``.
    """
    n, a, b = num_bidders, float(low), float(high)
    u_r = (max(a, b / 2) - a) / (b - a)
    return (2 * a - b) * (1 - u_r**n) + 2 * (b - a) * n / (n + 1) * (1 - u_r ** (n + 1))


def known_optimum(num_bidders: int, num_items: int, demand: str,
                  low: Sequence[float], high: Sequence[float]) -> Optional[KnownOptimum]:
    """The optimum of a setting (values i.i.d. across bidders, item j ~ U[low[j], high[j]]), or None."""
    support = tuple((round(float(lo), 9), round(float(hi), 9)) for lo, hi in zip(low, high))
    if num_items == 1:  # demand makes no difference with one item
        lo, hi = support[0]
        return KnownOptimum(myerson_single_item(num_bidders, lo, hi),
                            f"Myerson (1981), closed form: {num_bidders} bidders, one item, U[{lo:g}, {hi:g}]")
    return PUBLISHED.get((num_bidders, num_items, demand, support))


def resolve_optimum(setting: str, value, num_bidders: int, num_items: int, demand: str,
                    low: Sequence[float], high: Sequence[float]) -> tuple[Optional[float], Optional[str]]:
    """``problem.optimal_revenue`` -> ``(optimum or None, its source)``.

    Args:
        setting: how the setting is described in errors.
        value: ``"auto"`` (look it up), ``None`` (no optimum), or a number (checked against the table).

    Raises:
        ConfigError: a number that disagrees with the known optimum, or a string other than ``auto``.
    """
    known = known_optimum(num_bidders, num_items, demand, low, high)
    if value == "auto":
        return (known.revenue, known.source) if known else (None, None)
    if value is None:
        return None, None
    if isinstance(value, str):
        raise ConfigError(f"problem.optimal_revenue must be auto, null or a number, got {value!r}")
    if not value > 0:
        raise ConfigError(f"problem.optimal_revenue must be > 0, got {value}")
    if known is not None and abs(value - known.revenue) > TOLERANCE * known.revenue:
        raise ConfigError(f"problem.optimal_revenue={value} disagrees with the known optimum {known.revenue:.6g} "
                          f"of {setting} ({known.source}); use optimal_revenue=auto")
    return float(value), ("given in the config" if known is None else known.source)
