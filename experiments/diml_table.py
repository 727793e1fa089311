"""DIML against every baseline on congestion tolls and public goods, several seeds.

Writes ``experiments/results/diml_table.md`` (and the raw per-seed numbers as ``.json``):

    python experiments/diml_table.py --seeds 5 --games congestion,public_goods

Each seed draws its own mechanism, training data (256 episodes x 81 joint actions of logit-Q
learners, alpha=0.25, beta=3, epsilon=0.06) and held-out data (64 episodes), fits all estimators
and scores them (see ``mechjax.inverse.evaluate``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diml_common  # noqa: E402

from mechjax.inverse import FitConfig, evaluate  # noqa: E402

NAMES = {"trivial": "trivial (all payoffs equal)", "behaviour_cloning": "behaviour cloning",
         "tabular_mle": "tabular MLE", "parametric_mle": "parametric MLE (correct family)",
         "diml": "**DIML (neural payoff map)**"}


def tiny(cfg: evaluate.InstanceConfig) -> evaluate.InstanceConfig:
    """A seconds-long configuration for smoke tests."""
    small = FitConfig(steps=20, steps_per_chunk=10, batch_size=16, burn_in=8)
    return dataclasses.replace(cfg, episodes=16, steps=12, heldout_episodes=8, kl_episodes=16, fit=small,
                               diml_fit=small, counterfactual=cfg.counterfactual[:1])


def table(game: str, runs: list[dict], cfg: evaluate.InstanceConfig) -> str:
    shifted = ", ".join(f"{chr(65 + i)}: alpha={c.alpha}, beta={c.beta}, epsilon={c.epsilon}"
                        for i, c in enumerate(cfg.counterfactual))
    lines = [f"## {game}", "",
             f"Counterfactual learners ({shifted}); KL(true || learned) of expected joint-action visitation "
             f"(product of the agents' policies averaged over simulated states), {cfg.kl_episodes} runs x "
             f"{cfg.steps + 1} steps per mechanism, common random numbers.", "",
             "| estimator | payoff-diff MSE, held-out contexts | trivial / estimator (mean; worst seed) "
             "| payoff-diff MSE, all contexts | held-out NLL per agent-step | KL shifted A | KL shifted B | fit s |",
             "|---|---|---|---|---|---|---|---|"]
    for name in evaluate.ESTIMATORS:
        if name not in runs[0]:
            continue
        rows = [r[name] for r in runs]
        ratio = [r["trivial"]["mse_heldout"] / r[name]["mse_heldout"] if "trivial" in r else np.nan for r in runs]
        cells = [NAMES[name], diml_common.mean_sd([x["mse_heldout"] for x in rows]),
                 f"{np.mean(ratio):.1f}x; {np.min(ratio):.1f}x",
                 diml_common.mean_sd([x.get("mse_all") for x in rows]),
                 diml_common.mean_sd([x["nll"] for x in rows]),
                 diml_common.mean_sd([x["kl_0"] for x in rows]), diml_common.mean_sd([x.get("kl_1") for x in rows]),
                 diml_common.mean_sd([x["fit_s"] for x in rows], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    inst = [r["_instance"] for r in runs]
    lines += ["", f"True mechanism: held-out NLL {diml_common.mean_sd([i['true_nll'] for i in inst])}; "
              "KL between two independent simulations of the true mechanism (the sampling-noise floor): "
              f"A {diml_common.mean_sd([i['kl_floor_0'] for i in inst])}, "
              f"B {diml_common.mean_sd([i.get('kl_floor_1') for i in inst])}.", "",
              "Per-seed payoff-diff MSE on held-out contexts:", "",
              "| estimator | " + " | ".join(f"seed {i['seed']}" for i in inst) + " |",
              "|---|" + "---|" * len(inst)]
    for name in evaluate.ESTIMATORS:
        if name in runs[0]:
            lines.append(f"| {name} | " + " | ".join(f"{r[name]['mse_heldout']:.4f}" for r in runs) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--games", default="congestion,public_goods")
    parser.add_argument("--estimators", default=",".join(evaluate.ESTIMATORS))
    parser.add_argument("--out", default="diml_table.md")
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke configuration")
    parser.add_argument("--overwrite", action="store_true", help="overwrite an existing results file")
    args = parser.parse_args(argv)
    cfg = evaluate.InstanceConfig()
    cfg = tiny(cfg) if args.tiny else cfg
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    started = time.perf_counter()
    runs = {}
    for game in args.games.split(","):
        runs[game] = []
        for seed in seeds:
            runs[game].append(evaluate.run_instance(game, seed, cfg, tuple(args.estimators.split(","))))
            print(game, seed, {k: round(v["mse_heldout"], 4) for k, v in runs[game][-1].items() if k != "_instance"},
                  flush=True)
    wall = time.perf_counter() - started
    notes = (
        "Payoff-diff MSE: mean over contexts, agents and own actions of the squared error of "
        "u_i(a, a_-i) - mean_b u_i(b, a_-i) (the identified part of a payoff map); held-out contexts are "
        "the joint actions of the held-out trajectories. Every likelihood estimator is trained by "
        "`mechjax.inverse.fit` through `mechjax.core.trainer.make_train`. "
        f"MLE baselines: {cfg.fit}. DIML: {cfg.diml_fit}. Weight decay (AdamW, on parameters with >= 2 "
        "dimensions only) was chosen on dev seeds 100 and 101 "
        "(never reported) by held-out NLL, which needs no knowledge of the true payoffs: DIML among "
        "{0.03, 0.3, 1, 3, 10}, tabular MLE among {0.1, 1, 3} (summed over both games). Behaviour cloning uses "
        "pseudo-count 1 toward each agent's marginal action frequencies. Mean ± sample sd over seeds."
    )
    text = diml_common.header("DIML vs baselines: congestion tolls and public goods", seeds, wall, notes)
    text += "\n" + "\n".join(table(game, runs[game], cfg) for game in runs)
    path = diml_common.write(args.out, text, args.overwrite)
    diml_common.write(args.out.replace(".md", ".json"), json.dumps(runs, indent=1), args.overwrite)
    print("wrote", path, f"in {wall:.0f} s")


if __name__ == "__main__":
    main()
