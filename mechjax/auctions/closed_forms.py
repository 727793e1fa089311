"""Known expected revenues of classical auctions at truthful bids, to check Monte Carlo estimates.

Each is derived by hand for a uniform setting (the derivation is in the comment next to it) and
checked against simulation in ``tests/test_auction_baselines.py``.
"""

from __future__ import annotations

import math
from typing import Optional

from mechjax.auctions.valuations import UniformValuations

# The settings of the baselines table, named "<bidders>x<items>_<demand>_<values>".
SETTINGS: dict[str, UniformValuations] = {
    "1x2_additive_U01": UniformValuations.iid(1, 2),
    "1x2_additive_U4-16xU4-7": UniformValuations.per_item(1, (4, 4), (16, 7)),
    "1x2_unit_U01": UniformValuations.iid(1, 2, demand="unit"),
    "1x2_unit_U23": UniformValuations.iid(1, 2, 2.0, 3.0, demand="unit"),
    "2x2_additive_U01": UniformValuations.iid(2, 2),
    "2x2_unit_U01": UniformValuations.iid(2, 2, demand="unit"),
    "single_item_n2": UniformValuations.iid(2, 1),
    "single_item_n3": UniformValuations.iid(3, 1),
    "single_item_n5": UniformValuations.iid(5, 1),
}


def single_item_revenues(n: int) -> dict[str, float]:
    """n bidders, one item, values U[0,1]: optimal (Myerson) and second-price revenue."""
    optimal = 2 * n / (n + 1) * (1 - 0.5 ** (n + 1)) - (1 - 0.5 ** n)  # E[max(2 v_(1) - 1, 0)]
    return {"optimal": optimal, "second_price": (n - 1) / (n + 1), "first_price_truthful": n / (n + 1)}


def closed_form(setting: str, label: str) -> Optional[float]:
    """The known revenue of baseline ``label`` (a row label of the baselines table) in ``setting``.

    Returns:
        The expected revenue at truthful bids, or None where no closed form is known here.
    """
    if setting.startswith("single_item_n"):
        r = single_item_revenues(int(setting.rsplit("n", 1)[1]))
        return {"vcg": r["second_price"], "second_price": r["second_price"], "myerson": r["optimal"],
                "itemwise_myerson": r["optimal"], "second_price(reserve=monopoly)": r["optimal"],
                "first_price": r["first_price_truthful"]}.get(label)  # truthful bids: the winner pays E[v_(1)]
    if setting == "1x2_additive_U01":  # separate prices 1/2 each, or one grand-bundle price:
        # P(v1 + v2 >= p) = 1 - p^2 / 2 for p <= 1; revenue p (1 - p^2/2) peaks at p = sqrt(2/3).
        return {"itemwise_myerson": 0.5, "second_price(reserve=monopoly)": 0.5,
                "bundle_pricing": 2 / 3 * math.sqrt(2 / 3)}.get(label)
    if setting == "1x2_additive_U4-16xU4-7":  # posted prices 8 (sells w.p. 2/3) and 4 (always sells)
        return {"itemwise_myerson": 8 * 2 / 3 + 4, "second_price(reserve=monopoly)": 8 * 2 / 3 + 4,
                "vcg": 0.0, "second_price": 0.0}.get(label)
    if setting == "1x2_unit_U01":  # price p for the favourite item sells w.p. 1 - p^2; p* = 1/sqrt(3)
        return {"bundle_pricing": 2 / (3 * math.sqrt(3)), "vcg": 0.0}.get(label)
    if setting == "1x2_unit_U23":  # sells w.p. 1 - (p - 2)^2; p* = 2 + (sqrt(28) - 4) / 6
        price = 2 + (math.sqrt(28) - 4) / 6
        return {"bundle_pricing": price * (1 - (price - 2) ** 2), "vcg": 0.0}.get(label)
    if setting == "2x2_additive_U01":  # two independent 2-bidder single-item auctions
        r = single_item_revenues(2)
        return {"vcg": 2 * r["second_price"], "second_price": 2 * r["second_price"],
                "itemwise_myerson": 2 * r["optimal"], "second_price(reserve=monopoly)": 2 * r["optimal"],
                "first_price": 2 * r["first_price_truthful"]}.get(label)
    return None
