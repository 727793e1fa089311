"""Same weights, other sizes: trained set-based auction nets evaluated off their training size.

Each trained run (from the ``auction_zoo`` table; trained here with its preset if missing) is
loaded and evaluated, with the same weights, on its own size and on other sizes, against one fixed
attacker. For scale, each size also gets the revenue of selling the items separately with
Myerson's reserve (DSIC). A second table counts each zoo architecture's parameters at its preset's
size and with one more item, which shows which weights depend on the auction's size.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Callable, Sequence

import jax

from mechjax.auctions.baselines import build_baseline
from mechjax.auctions.evaluate import AttackConfig, evaluate_auction, settle_text
from mechjax.errors import ConfigError
from mechjax.provenance import REPO_DIR
from mechjax.report import markdown_table

# Strong enough to find regret in a few hundred gradient steps, cheap enough to run on 5x2 on a CPU.
ATTACK = AttackConfig(steps=200, restarts=8, lr=0.02, grid=21, grid_init=2, num_samples=1024,
                      revenue_samples=65536, batch_size=256, allow_weak=True)
ZOO_PRESETS = ("regretnet_2x2", "equivariantnet_2x2", "regretformer_2x2", "rochetnet_1x2", "rochetnet_unit_1x2")


def parse_sizes(sizes: Sequence[str]) -> list[tuple[int, int]]:
    """``["3x3", "2x5"] -> [(3, 3), (2, 5)]`` (bidders x items), or a ConfigError naming ``sizes``."""
    out = []
    for size in sizes:
        parts = size.split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
            raise ConfigError(f"sizes: {size!r} is not <bidders>x<items> with both >= 1 (e.g. 3x3)")
        out.append((int(parts[0]), int(parts[1])))
    return out


def _cached_evaluation(run_dir: str, size: str, evaluate: Callable[[], dict]) -> dict:
    """``evaluate()``, stored under ``<run_dir>/cross_size/`` for this attacker; a re-run reads it back."""
    digest = hashlib.sha1(json.dumps(dataclasses.asdict(ATTACK), sort_keys=True).encode()).hexdigest()[:10]
    path = os.path.join(run_dir, "cross_size", f"{size}_{digest}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    started = time.perf_counter()
    summary = evaluate()
    summary["eval_wall_s"] = round(time.perf_counter() - started, 1)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def itemwise_reference(problem) -> float | None:
    """Revenue of selling each item separately by Myerson's auction, or None where it does not apply."""
    try:
        mechanism = build_baseline("itemwise_myerson", problem.valuations)
    except ConfigError:
        return None
    values = problem.sample(jax.random.key(0), ATTACK.revenue_samples)
    return float(jax.jit(mechanism)(values)[1].sum(axis=-1).mean())


def parameter_counts() -> list[dict]:
    """Trainable parameters of each zoo preset, at its own size and with one more item."""
    import flax.nnx as nnx

    from mechjax import config as config_lib  # the front door, at call time only
    from mechjax import experiment

    def count(overrides):
        exp = config_lib.build(experiment.compose(overrides))
        # abstractly: an eager build would compile one small program per weight shape and initialiser
        return exp, experiment.count_parameters(nnx.state(nnx.eval_shape(lambda: exp.mechanism(nnx.Rngs(0))), nnx.Param))

    rows = []
    for preset in ZOO_PRESETS:
        exp, own = count([f"+experiment={preset}"])
        p = exp.cfg["problem"]
        _, bigger = count([f"+experiment={preset}", f"problem.num_items={p['num_items'] + 1}",
                           "problem.optimal_revenue=null"])
        rows.append({"preset": preset, "mechanism": exp.cfg["mechanism"]["name"],
                     "size": f"{p['num_bidders']}x{p['num_items']} {p['demand']}", "parameters": own,
                     "parameters with one more item": bigger, "same weights for every size": own == bigger})
    return rows


def cross_size_study(run_dirs: dict[str, str], train_overrides: dict[str, tuple[str, ...]], seeds: Sequence[int],
                     sizes: Sequence[tuple[int, int]]) -> tuple[str, dict]:
    """Evaluates every run at its own size and at ``sizes``; returns (markdown, data).

    Args:
        run_dirs: ``"<net>_seed<s>" -> run directory`` of the trained nets.
        train_overrides: ``"<net>_seed<s>" -> Hydra overrides`` to train a missing run.
        seeds: the training seeds (for the header).
        sizes: ``(bidders, items)`` to evaluate on besides each run's own.
    """
    from mechjax import experiment  # the front door, at call time only
    from mechjax.auctions.registry import AuctionConfig

    rows = []
    for label, run_dir in run_dirs.items():
        if not os.path.exists(os.path.join(run_dir, "summary.json")):
            print(f"+ training {label} into {run_dir}", flush=True)
            experiment.train(experiment.compose(list(train_overrides[label])), run_dir)
        mechanism, _ = experiment.load(run_dir)
        mechanism = jax.jit(mechanism)
        p = experiment.read_config(run_dir)["problem"]
        name = experiment.read_config(run_dir)["mechanism"]["name"]
        for n, m in dict.fromkeys([(p["num_bidders"], p["num_items"]), *sizes]):
            problem = AuctionConfig(num_bidders=n, num_items=m, demand=p["demand"], low=p["low"], high=p["high"]).build()
            s = _cached_evaluation(run_dir, f"{n}x{m}", lambda: evaluate_auction(mechanism, problem, ATTACK))
            rows.append({"mechanism": name, "run": label, "trained on": f"{p['num_bidders']}x{p['num_items']}",
                         "evaluated on": f"{n}x{m}", "revenue": round(s["revenue"], 4),
                         "± stderr": round(s["revenue_stderr"], 4), "regret": s["regret"], "regret max": s["regret_max"],
                         "IR viol.": s["ir_violation"], "grid used": s["attack"]["grid_used"],
                         "item-wise Myerson revenue": itemwise_reference(problem), "eval wall [s]": s["eval_wall_s"]})
            print(rows[-1], flush=True)
    counts = parameter_counts()
    return _render(rows, counts, run_dirs, seeds), {"rows": rows, "parameters": counts,
                                                    "attack": dataclasses.asdict(ATTACK)}


def _render(rows: list, counts: list, run_dirs: dict, seeds: Sequence[int]) -> str:
    a = ATTACK
    default = AttackConfig()
    columns = ["mechanism", "run", "trained on", "evaluated on", "revenue", "± stderr", "regret", "regret max",
               "IR viol.", "grid used", "item-wise Myerson revenue", "eval wall [s]"]
    same = [r["preset"] for r in counts if r["same weights for every size"]]
    return "\n".join([
        f"- runs: {', '.join(os.path.relpath(d, REPO_DIR) for d in run_dirs.values())} (training seeds "
        f"{', '.join(map(str, seeds))}; trained by `experiments/reproduce.py table=auction_zoo`, or here with the "
        "same presets when missing)",
        "- wall time: a row evaluated by an earlier invocation is read back from <run>/cross_size/ and keeps its "
        "own eval wall time",
        f"- attacker (the same for every size): up to {a.steps} Adam steps (lr {a.lr} x support width) from truthful, "
        f"{a.restarts} random and, when a bidder has <= 2 items, the {a.grid_init} best points of an exhaustive "
        f"{a.grid}-point-per-item grid (the grid itself also counts){settle_text(dataclasses.asdict(a))}; "
        f"{a.num_samples} samples attacked, revenue on "
        f"{a.revenue_samples}; evaluation seed {a.seed}. Weaker than the default attacker ({default.steps} steps, "
        f"{1 + default.restarts + default.grid_init} starts, {default.grid}-point grid, {default.num_samples} "
        "samples) so that the largest sizes fit a CPU budget.",
        "- regret = expected ex post regret per bidder, averaged over bidders; regret max = the worst sample",
        "- item-wise Myerson revenue: each item sold separately by Myerson's optimal auction (DSIC), for scale",
        "", markdown_table(rows, columns), "",
        "No retraining or fine-tuning happens between rows: the first row of each run is its own size, the "
        "others reuse its weights.", "",
        "## Parameters of the auction model zoo (as the experiment presets configure them)", "",
        markdown_table(counts, ["preset", "mechanism", "size", "parameters", "parameters with one more item",
                                "same weights for every size"]), "",
        f"Presets whose parameter count does not change with the number of items: {', '.join(same) or 'none'}.",
    ])
