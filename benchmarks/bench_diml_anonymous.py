"""DIML on large anonymous games: wall time per epoch and recovery at n = 40, 80, 120 agents.

    python benchmarks/bench_diml_anonymous.py --agents 40,80,120 --seeds 3

Writes ``experiments/results/diml_anonymous.md``. Per (n, seed): an anonymous game with 5
actions (payoff from own action and the others' action shares, never a dense tensor), training
data of logit-Q learners (alpha=0.25, beta=3, epsilon=0.06), and two DIML fits through the
shared trainer: the unstructured anonymous neural map and the correctly specified parametric
family. An epoch is one pass over the data in windows: ceil(episodes * (steps + 1) /
(window * batch)) outer steps; its wall time is the median chunk time after compilation, per
step, times the steps per epoch. Numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import jax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments"))
import diml_common  # noqa: E402

from mechjax.inverse import LogitQ, evaluate, metrics, simulate, train  # noqa: E402
from mechjax.inverse.games import TrivialGame  # noqa: E402

LEARNER = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)
SHIFTED = LogitQ(alpha=0.1, beta=5.0, epsilon=0.02)
MODELS = {"anonymous_neural": dict(learning_rate=3e-3, weight_decay=0.03),
          "anonymous": dict(learning_rate=3e-2, weight_decay=0.0)}


def run(n, seed, args):
    k_game, k_train, k_test, k_kl = jax.random.split(jax.random.key(seed), 4)
    game = evaluate.make_game("anonymous", k_game, n)
    started = time.perf_counter()
    actions = simulate(game, LEARNER, k_train, args.episodes, args.steps).block_until_ready()
    simulate_s = time.perf_counter() - started
    test = simulate(game, LEARNER, k_test, args.heldout, args.steps)
    steps_per_epoch = math.ceil(args.episodes * (args.steps + 1) / (args.window * args.batch))
    trivial = TrivialGame(n, game.num_actions)
    row = {"n": n, "seed": seed, "simulate_s": simulate_s, "steps_per_epoch": steps_per_epoch,
           "true_nll": metrics.heldout_nll(game, LEARNER, test),
           "trivial_mse": metrics.payoff_difference_mse(game, trivial, test),
           "trivial_kl": metrics.visitation_kl(game, trivial, SHIFTED, k_kl, args.kl_episodes, args.steps)}
    for model in args.models.split(","):
        opts = MODELS[model]
        result = train(actions, game.num_actions, LEARNER, model, steps=args.fit_steps, steps_per_chunk=args.chunk,
                       batch_size=args.batch, window=args.window, burn_in=args.burn_in, **opts)
        walls = [r["wall_s"] for r in result.history]
        chunk_s = statistics.median(b - a for a, b in zip(walls[:-1], walls[1:]))
        row[model] = {
            "epoch_s": chunk_s / args.chunk * steps_per_epoch,
            "step_ms": 1000 * chunk_s / args.chunk,
            "first_chunk_s": walls[0],  # includes compilation
            "epochs": args.fit_steps / steps_per_epoch,
            "mse": metrics.payoff_difference_mse(game, result.game, test),
            "nll": metrics.heldout_nll(result.game, LEARNER, test),
            "kl": metrics.visitation_kl(game, result.game, SHIFTED, k_kl, args.kl_episodes, args.steps),
        }
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="40,80,120")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=8)
    parser.add_argument("--kl-episodes", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--burn-in", type=int, default=24)
    parser.add_argument("--fit-steps", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", default="diml_anonymous.md")
    parser.add_argument("--overwrite", action="store_true", help="overwrite an existing results file")
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds))
    started = time.perf_counter()
    rows = []
    for n in [int(x) for x in args.agents.split(",")]:
        for seed in seeds:
            rows.append(run(n, seed, args))
            print(n, seed, {m: round(rows[-1][m]["epoch_s"], 3) for m in args.models.split(",")}, flush=True)
    wall = time.perf_counter() - started
    m = diml_common.mean_sd
    lines = ["| n | model | wall s per epoch | ms per outer step | first chunk s (compile) | epochs trained "
             "| payoff-diff MSE, held-out contexts | trivial MSE | held-out NLL | true NLL | KL shifted (shares) "
             "| trivial KL |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n in sorted({r["n"] for r in rows}):
        sub = [r for r in rows if r["n"] == n]
        for model in args.models.split(","):
            x = [r[model] for r in sub]
            lines.append(f"| {n} | {model} | {m([v['epoch_s'] for v in x], 3)} | {m([v['step_ms'] for v in x], 1)} | "
                         f"{m([v['first_chunk_s'] for v in x], 1)} | {x[0]['epochs']:.0f} | "
                         f"{m([v['mse'] for v in x])} | {m([r['trivial_mse'] for r in sub])} | "
                         f"{m([v['nll'] for v in x])} | {m([r['true_nll'] for r in sub])} | "
                         f"{m([v['kl'] for v in x])} | {m([r['trivial_kl'] for r in sub])} |")
    notes = (f"Data per seed: {args.episodes} episodes x {args.steps + 1} joint actions; held-out {args.heldout} "
             f"episodes. Training: batch {args.batch} windows of {args.window} joint actions, history replay "
             f"burn-in {args.burn_in}, {args.fit_steps} outer steps in chunks of {args.chunk}; "
             f"{rows[0]['steps_per_epoch']} outer steps per epoch. KL: expected per-step action shares (joint "
             f"actions are too many to histogram) of {SHIFTED}, {args.kl_episodes} runs per mechanism, "
             "common random numbers. "
             f"Optimiser settings per model (Adam/AdamW, not tuned): {MODELS}. Mean ± sample sd over seeds.")
    text = diml_common.header("DIML on large anonymous games", seeds, wall, notes) + "\n" + "\n".join(lines) + "\n"
    path = diml_common.write(args.out, text, args.overwrite)
    diml_common.write(args.out.replace(".md", ".json"), json.dumps(rows, indent=1), args.overwrite)
    print("wrote", path, f"in {wall:.0f} s")


if __name__ == "__main__":
    main()
