"""Run trained set-based auction nets on auction sizes they were not trained on.

    python experiments/cross_size.py                      # the auction_zoo runs, seed 0
    python experiments/cross_size.py runs=experiments/runs/auction_zoo/equivariantnet_2x2_seed0 sizes=3x3,2x5,5x2

Each run directory (from ``experiments/reproduce.py table=auction_zoo``; trained here with its
preset if missing) is loaded with ``mechjax.load`` and evaluated, with the same weights, on its own
size and on every size in ``sizes``, against a fixed attacker (stated in the output). For context
each size also gets the revenue of selling the items separately with Myerson's reserve (DSIC,
from ``mechjax.auctions.baselines`` when present). Writes ``experiments/results/equivariant_cross_size.md``.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from mechjax import experiment  # noqa: E402
from mechjax.auctions.evaluate import AttackConfig, evaluate_auction  # noqa: E402
from mechjax.auctions.registry import AuctionConfig  # noqa: E402
from mechjax.report import markdown_table, write_text  # noqa: E402
from mechjax.reproduce import REPO_DIR, git_commit, hardware  # noqa: E402

DEFAULT_RUNS = ("experiments/runs/auction_zoo/equivariantnet_2x2_seed0",)
PRESET_OF = {"equivariantnet_2x2_seed0": "equivariantnet_2x2", "regretformer_2x2_seed0": "regretformer_2x2"}
# Strong enough to find regret in a few hundred gradient steps, cheap enough to run on 5x2 on a CPU:
# 200 Adam steps from truthful, 8 random and (<= 2 items) 2 grid starts, plus a 21-point grid.
ATTACK = AttackConfig(steps=200, restarts=8, lr=0.02, grid=21, grid_init=2, num_samples=1024,
                      revenue_samples=65536, batch_size=256, allow_weak=True)


def parse(argv):
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    runs = args["runs"].split(",") if "runs" in args else list(DEFAULT_RUNS)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.get("sizes", "3x3,2x5,5x2").split(",")]
    return runs, sizes, args.get("out", os.path.join(REPO_DIR, "experiments", "results", "equivariant_cross_size.md"))


def ensure_trained(run_dir: str) -> None:
    if os.path.exists(os.path.join(run_dir, "summary.json")):
        return
    preset = PRESET_OF.get(os.path.basename(run_dir.rstrip("/")))
    if preset is None:
        sys.exit(f"{run_dir} holds no finished run; train it first (experiments/train.py ... hydra.run.dir={run_dir})")
    print(f"+ training {preset} into {run_dir}", flush=True)
    experiment.train(experiment.compose([f"+experiment={preset}", "seed=0", "progress=false"]), run_dir)


def cached_evaluation(run_dir: str, size: str, evaluate) -> dict:
    """``evaluate()``, stored under ``<run_dir>/cross_size/`` for this attacker; a re-run reads it back."""
    import dataclasses
    import hashlib
    import json
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
    try:
        from mechjax.auctions import baselines
        mechanism = baselines.build_baseline("itemwise_myerson", problem.valuations)
    except Exception:  # optional context: the baselines module may be absent or refuse the setting
        return None
    values = problem.sample(jax.random.key(0), ATTACK.revenue_samples)
    return float(jax.jit(mechanism)(values)[1].sum(axis=-1).mean())


ZOO_PRESETS = ("regretnet_2x2", "equivariantnet_2x2", "regretformer_2x2", "rochetnet_1x2", "rochetnet_unit_1x2")


def parameter_counts() -> list[dict]:
    """Trainable parameters of each architecture as its experiment preset configures it."""
    import flax.nnx as nnx
    from mechjax import config as config_lib
    rows = []
    for preset in ZOO_PRESETS:
        exp = config_lib.build(experiment.compose([f"+experiment={preset}"]))
        p = exp.cfg["problem"]
        rows.append({"preset": preset, "mechanism": exp.cfg["mechanism"]["name"],
                     "size": f"{p['num_bidders']}x{p['num_items']} {p['demand']}",
                     "parameters": experiment.count_parameters(nnx.state(exp.mechanism(nnx.Rngs(0)), nnx.Param)),
                     "depends on size": exp.cfg["mechanism"]["name"] in ("regretnet", "rochetnet")})
    return rows


def main(argv):
    runs, sizes, out = parse(argv)
    started = time.perf_counter()
    rows = []
    for run_dir in runs:
        run_dir = os.path.join(REPO_DIR, run_dir) if not os.path.isabs(run_dir) else run_dir
        ensure_trained(run_dir)
        mechanism, train_problem = experiment.load(run_dir)
        cfg = experiment.read_config(run_dir)
        name, p = cfg["mechanism"]["name"], cfg["problem"]
        train_size = f"{p['num_bidders']}x{p['num_items']}"
        for n, m in [(p["num_bidders"], p["num_items"]), *sizes]:
            problem = AuctionConfig(num_bidders=n, num_items=m, demand=p["demand"], low=p["low"], high=p["high"]).build()
            s = cached_evaluation(run_dir, f"{n}x{m}", lambda: evaluate_auction(jax.jit(mechanism), problem, ATTACK))
            rows.append({"mechanism": name, "trained on": train_size, "evaluated on": f"{n}x{m}",
                         "revenue": round(s["revenue"], 4), "± stderr": round(s["revenue_stderr"], 4),
                         "regret": s["regret"], "regret max": s["regret_max"], "IR viol.": s["ir_violation"],
                         "grid used": s["attack"]["grid_used"], "item-wise Myerson revenue": itemwise_reference(problem),
                         "eval wall [s]": s["eval_wall_s"]})
            print(rows[-1], flush=True)
    columns = ["mechanism", "trained on", "evaluated on", "revenue", "± stderr", "regret", "regret max", "IR viol.",
               "grid used", "item-wise Myerson revenue", "eval wall [s]"]
    a = ATTACK
    text = "\n".join([
        "# Same weights, other sizes: set-based auction nets evaluated off their training size", "",
        "Reproduce with:", "", "```bash", "python experiments/cross_size.py " + " ".join(argv), "```", "",
        f"- runs: {', '.join(runs)} (training seed 0; each trained by `experiments/reproduce.py table=auction_zoo seeds=0`)",
        f"- commit: `{git_commit()}`", f"- hardware: {hardware()}",
        f"- wall time (evaluation only, this invocation): {time.perf_counter() - started:.0f} s; a row evaluated by an "
        "earlier invocation is read back from <run>/cross_size/ and keeps its own eval wall time",
        f"- attacker (the same for every size): {a.steps} Adam steps (lr {a.lr} x support width) from truthful, "
        f"{a.restarts} random and, when a bidder has <= 2 items, the {a.grid_init} best points of an exhaustive "
        f"{a.grid}-point-per-item grid (the grid itself also counts); {a.num_samples} samples attacked, revenue on "
        f"{a.revenue_samples}; evaluation seed {a.seed}. Weaker than the 2x2 results' default attacker (300 steps, "
        "21 starts, 41-point grid, 4096 samples) so that 5x2 fits a CPU budget.",
        "- regret = expected ex post regret per bidder, averaged over bidders; regret max = the worst sample",
        "- item-wise Myerson revenue: each item sold separately by Myerson's optimal auction (DSIC), for scale",
        "", markdown_table(rows, columns), "",
        "No retraining or fine-tuning happens between rows: the first row of each mechanism is its own size, the "
        "others reuse its weights. Regret off the training size is the price of transfer.", "",
        "## Parameters of the auction model zoo (as the experiment presets configure them)", "",
        markdown_table(parameter_counts(), ["preset", "mechanism", "size", "parameters", "depends on size"]), "",
        "RegretNet's input and output layers grow with bidders x items, and RochetNet's menu with the items; "
        "EquivariantNet's and RegretFormer's weights are the same for every size.",
    ])
    write_text(out, text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
