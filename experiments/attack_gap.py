"""How much regret a weak attacker hides: train against a weak adversary, evaluate weak and strong.

    python experiments/attack_gap.py                       # RegretNet on additive 1x2 and 2x2, seed 0

For each setting, RegretNet is trained with a deliberately weak training attacker (one ascent step
from a fresh random misreport, no warm start; ``inner.steps=1 inner.warm_start=false``), then the
same weights are evaluated twice: by a weak evaluation attacker (5 Adam steps from the truthful
report only, no grid: what a careless paper might report) and by the library's default strong one
(``conf/attack/default.yaml``). Runs land in ``experiments/runs/attack_gap/`` (resumed if present);
the table goes to ``experiments/results/attack_gap.md``.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from mechjax import experiment  # noqa: E402
from mechjax.auctions.evaluate import AttackConfig, evaluate_auction  # noqa: E402
from mechjax.report import markdown_table, write_text  # noqa: E402
from mechjax.reproduce import REPO_DIR, git_commit, hardware  # noqa: E402

SETTINGS = {"additive_1x2": 10000, "additive_2x2": 10000}  # problem preset -> training steps
WEAK_TRAINING = ["inner.steps=1", "inner.warm_start=false", "inner.restarts=1"]
WEAK = AttackConfig(steps=5, restarts=0, grid=0, grid_init=0, allow_weak=True)
STRONG = AttackConfig()  # the default: 300 steps x 21 starts and a 41-point grid per item


def main(argv):
    args = dict(a.split("=", 1) for a in argv if "=" in a)
    seed = int(args.get("seed", 0))
    runs_root = args.get("runs", os.path.join(REPO_DIR, "experiments", "runs", "attack_gap"))
    started = time.perf_counter()
    rows = []
    for preset, steps in SETTINGS.items():
        run_dir = os.path.join(runs_root, f"regretnet_{preset}_seed{seed}")
        overrides = [f"problem=auction/{preset}", "mechanism=regretnet", *WEAK_TRAINING, f"trainer.steps={steps}",
                     f"seed={seed}", "progress=false", "plots=false", "attack.allow_weak=true"]
        t = time.perf_counter()
        summary = experiment.train(experiment.compose(overrides), run_dir)
        train_wall = summary["wall_s"]
        mechanism, problem = experiment.load(run_dir)
        mechanism = jax.jit(mechanism)
        for label, attack in (("weak: 5 steps from truthful, no grid", WEAK),
                              ("strong (default): 300 steps x 21 starts + 41-point grid", STRONG)):
            s = evaluate_auction(mechanism, problem, attack)
            rows.append({"setting": preset, "evaluation attacker": label, "revenue": round(s["revenue"], 4),
                         "± stderr": round(s["revenue_stderr"], 4), "regret": s["regret"],
                         "regret max": s["regret_max"], "optimum": problem.optimal_revenue,
                         "revenue above optimum unexplained": s["revenue_exceeds_optimum"],
                         "train wall [s]": train_wall})
            print(rows[-1], flush=True)
        print(f"{preset}: {time.perf_counter() - t:.0f} s", flush=True)
    gaps = []
    for weak, strong in zip(rows[::2], rows[1::2]):
        ratio = strong["regret"] / weak["regret"] if weak["regret"] > 0 else float("inf")
        worst = strong["regret max"] / weak["regret max"] if weak["regret max"] > 0 else float("inf")
        gaps.append(f"- {weak['setting']}: the strong attacker finds {strong['regret']:.4g} regret per bidder where "
                    f"the weak one finds {weak['regret']:.4g} ({ratio:.3g}x); worst sample {strong['regret max']:.4g} "
                    f"vs {weak['regret max']:.4g} ({worst:.3g}x)")
    columns = ["setting", "evaluation attacker", "revenue", "± stderr", "regret", "regret max", "optimum",
               "revenue above optimum unexplained", "train wall [s]"]
    text = "\n".join([
        "# Attack gap: regret a weak attacker does not see", "",
        "Reproduce with:", "", "```bash", "python experiments/attack_gap.py " + " ".join(argv), "```", "",
        f"- mechanism: RegretNet (`conf/mechanism/regretnet.yaml`), trained {', '.join(f'{k} for {v} steps' for k, v in SETTINGS.items())} "
        f"against a weak training attacker: `{' '.join(WEAK_TRAINING)}` (one ascent step from a fresh random "
        "misreport per outer step; the default is 25 warm-started steps)",
        f"- seeds: training seed {seed}; evaluation seed {STRONG.seed} (both attackers see the same samples)",
        f"- commit: `{git_commit()}`", f"- hardware: {hardware()}",
        f"- wall time (training + both evaluations, this invocation): {time.perf_counter() - started:.0f} s",
        f"- weak evaluation attacker: {WEAK.steps} Adam steps from the truthful report, no random starts, no grid; "
        f"strong: {STRONG.steps} steps from {1 + STRONG.restarts + STRONG.grid_init} starts and an exhaustive "
        f"{STRONG.grid}-point grid per item (<= 2 items); {STRONG.num_samples} samples attacked, revenue on "
        f"{STRONG.revenue_samples}",
        "- 'revenue above optimum unexplained': revenue beats the known optimum by more than the measured regret "
        "and 3 standard errors can explain, i.e. the attacker provably missed deviations (1x2 only; 2x2 has no "
        "known optimum)",
        "", markdown_table(rows, columns), "", *gaps, "",
        "Reading: the weak evaluation attacker under-reports regret by the factors above, on the same samples and "
        "the same weights. Compare with RegretNet trained against the default (25 warm-started steps) attacker in "
        "experiments/results/regretnet.md: training against a weak adversary buys revenue with regret. "
        "On 1x2 the revenue above the optimum is not flagged: with regret of either size the evaluator's sound "
        "bound (OPT d/(1-d) + regret/d, minimised over d) allows it, so the optimum check cannot replace a strong "
        "attacker here.",
    ])
    write_text(os.path.join(REPO_DIR, "experiments", "results", "attack_gap.md"), text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
