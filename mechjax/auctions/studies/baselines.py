"""Revenue and exact grid regret of every classical baseline on every uniform setting.

Revenue is a Monte Carlo mean over ``samples`` value profiles with its standard error; regret is
exact on a grid: every bidder tries every point of a ``grid x grid`` lattice over her report box
(``4 (grid - 1) + 1`` points for one item) on ``regret_samples`` profiles. Where a closed form is
known (:mod:`mechjax.auctions.closed_forms`) it is shown next to the estimate.
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np

from mechjax.auctions.baselines import BASELINES, build_baseline
from mechjax.auctions.closed_forms import SETTINGS, closed_form, single_item_revenues
from mechjax.auctions.valuations import UniformValuations
from mechjax.errors import ConfigError
from mechjax.report import markdown_table
from mechjax.testing.auctions import grid_regret

# (row label, baseline name, options)
VARIANTS = (
    ("vcg", "vcg", {}),
    ("second_price", "second_price", {}),
    ("second_price(reserve=monopoly)", "second_price", {"reserve": "monopoly"}),
    ("first_price", "first_price", {}),
    ("myerson", "myerson", {}),
    ("itemwise_myerson", "itemwise_myerson", {}),
    ("bundle_pricing", "bundle_pricing", {}),
)
OPTIONS = {"samples": 1_000_000, "regret_samples": 2000, "grid": 51,
           "settings": tuple(SETTINGS), "baselines": tuple(dict.fromkeys(name for _, name, _ in VARIANTS))}


def monte_carlo_revenue(mechanism, valuations: UniformValuations, key, samples: int, chunk: int = 100_000):
    """Mean total payment at truthful bids and its standard error, over ``samples`` profiles."""
    totals = []
    for index, k in enumerate(jax.random.split(key, math.ceil(samples / chunk))):
        size = min(chunk, samples - index * chunk)
        values = valuations.sample(k, chunk)[:size]  # one shape, one compilation
        totals.append(np.asarray(mechanism(values)[1], np.float64).sum(axis=1))
    totals = np.concatenate(totals)
    return float(totals.mean()), float(totals.std(ddof=1) / math.sqrt(totals.size))


def grid_points(valuations: UniformValuations, grid: int) -> int:
    """Points per item of the regret grid: ``grid`` for two items, ``4 (grid - 1) + 1`` for one."""
    return grid if valuations.num_items == 2 else 4 * (grid - 1) + 1


def grid_regret_summary(mechanism, valuations: UniformValuations, key, samples: int, grid: int):
    """Mean (over bidders and profiles) exact grid regret, its standard error, and the largest seen."""
    values = valuations.sample(key, samples)
    regret = np.asarray(grid_regret(mechanism, valuations, values, points_per_item=grid_points(valuations, grid)),
                        np.float64)
    per_profile = regret.mean(axis=1)
    return float(per_profile.mean()), float(per_profile.std(ddof=1) / math.sqrt(samples)), float(regret.max())


def _check(options: dict) -> None:
    for name, low in (("samples", 2), ("regret_samples", 2), ("grid", 2)):
        if options[name] < low:
            raise ConfigError(f"{name} must be >= {low}, got {options[name]}")
    for name, choices in (("settings", SETTINGS), ("baselines", BASELINES)):
        unknown = [v for v in options[name] if v not in choices]
        if unknown or not options[name]:
            raise ConfigError(f"{name}: unknown or empty {unknown}; choose from {sorted(choices)}")


def baselines_study(seed: int, options: dict) -> tuple[str, dict]:
    """Runs the study; returns the markdown body and the rows (see the module docstring)."""
    _check(options)
    key_revenue, key_regret = jax.random.PRNGKey(seed), jax.random.PRNGKey(seed + 1)
    rows, skipped = [], {}
    for setting in options["settings"]:
        valuations = SETTINGS[setting]
        for label, name, kwargs in VARIANTS:
            if name not in options["baselines"]:
                continue
            try:
                mechanism = jax.jit(build_baseline(name, valuations, **kwargs))
            except ConfigError as error:
                skipped.setdefault(str(error), []).append(f"{setting} / {label}")
                continue
            tic = time.perf_counter()
            revenue, revenue_se = monte_carlo_revenue(mechanism, valuations, key_revenue, options["samples"])
            regret, regret_se, regret_max = grid_regret_summary(mechanism, valuations, key_regret,
                                                                options["regret_samples"], options["grid"])
            rows.append({"setting": setting, "baseline": label, "revenue": revenue, "revenue_se": revenue_se,
                         "closed_form": closed_form(setting, label), "regret": regret, "regret_se": regret_se,
                         "regret_max": regret_max, "seconds": round(time.perf_counter() - tic, 1)})
            print(setting, label, f"{rows[-1]['seconds']} s", flush=True)
    return _render(rows, skipped, seed, options), {"rows": rows, "not_applicable": skipped}


def _render(rows: list, skipped: dict, seed: int, options: dict) -> str:
    shown = []
    for r in rows:
        reference, cell = r["closed_form"], ""
        if reference is not None and r["revenue_se"] > 0:
            cell = f"{reference:.4f} ({(r['revenue'] - reference) / r['revenue_se']:+.1f} SE)"
        elif reference is not None:  # the payment does not vary with the values
            cell = f"{reference:.4f} (differs by {abs(r['revenue'] - reference):.1e})"
        shown.append({"setting": r["setting"], "baseline": r["baseline"],
                      "revenue": f"{r['revenue']:.4f} ± {r['revenue_se']:.4f}", "closed form": cell,
                      "grid regret (mean ± SE)": f"{r['regret']:.5f} ± {r['regret_se']:.5f} (max {r['regret_max']:.4f})",
                      "seconds": r["seconds"]})
    two = 2 * single_item_revenues(2)["optimal"]
    return "\n".join([
        f"- revenue: profiles from PRNGKey({seed}) ({options['samples']} profiles, in chunks of 100k); regret: "
        f"profiles from PRNGKey({seed + 1}) ({options['regret_samples']} profiles); bundle prices by exact search "
        "(no seed)",
        f"- regret attacker: exhaustive grid, {options['grid']} x {options['grid']} misreports per bidder for 2 items, "
        f"{4 * (options['grid'] - 1) + 1} for 1 item (a lower bound on true regret; exact for the grid)",
        "- revenue: the mean total payment at truthful bids ± its standard error; 'closed form' (where known, "
        "`mechjax.auctions.closed_forms`) is followed by the estimate's distance in standard errors. Closed forms: "
        f"single item, n bidders U[0,1], Myerson E[max(2 v_(1) - 1, 0)] ({single_item_revenues(2)['optimal']:.4f} "
        f"for n = 2), second price (n-1)/(n+1); one additive bidder, two U[0,1] items: separate prices 1/2 each, "
        f"grand bundle at sqrt(2/3): {closed_form('1x2_additive_U01', 'bundle_pricing'):.4f}; two such bidders, "
        f"item-wise Myerson: {two:.4f}. VCG (and second price without reserve) earns nothing from a single bidder.",
        "- first price is evaluated at truthful bids, which is not its equilibrium: its revenue is not comparable "
        "and its regret shows what an attacker finds",
        "", markdown_table(shown, ["setting", "baseline", "revenue", "closed form", "grid regret (mean ± SE)",
                                   "seconds"]),
        "", "Not applicable (the builder's ConfigError):", "",
        *([f"- {', '.join(where)}: {reason}" for reason, where in skipped.items()] or ["- none"]),
    ])
