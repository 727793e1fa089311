"""Identifiability made visible: mechanisms that differ by c_i (or c_i(a_-i)) are indistinguishable.

Writes ``experiments/results/diml_identifiability.md``:

    python experiments/diml_identifiability.py --seeds 5

For each seed: a congestion mechanism u (``--game``), data from logit-Q learners playing it, and two shifted
mechanisms, u + c_i (an agent-specific constant, c ~ N(0, 3^2)) and u + c_i(a_-i) (a constant per
agent and others' joint action). We report how far apart the raw payoff tensors are, the largest
difference in the log-likelihood of any observed action, and what the library's comparison
metrics say. The same is done for a DIML estimate and its shift, so fitted models obey it too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diml_common  # noqa: E402

from mechjax.inverse import DenseGame, LogitQ, evaluate, fit, log_likelihood, metrics, simulate  # noqa: E402
from mechjax.testing.inverse import gauge_shift  # noqa: E402

LEARNER = LogitQ(alpha=0.25, beta=3.0, epsilon=0.06)
SHIFTED = LogitQ(alpha=0.1, beta=5.0, epsilon=0.02)


def compare(game, other, actions, key, episodes, steps) -> dict:
    raw = float(jnp.mean((game.payoffs - other.payoffs) ** 2))
    gap = float(jnp.max(jnp.abs(log_likelihood(game, LEARNER, actions) - log_likelihood(other, LEARNER, actions))))
    return {
        "raw_payoff_mse": raw,
        "max_loglik_gap": gap,
        "total_loglik": float(log_likelihood(other, LEARNER, actions).sum()),
        "payoff_diff_mse": metrics.payoff_difference_mse(game, other),
        "equivalent": metrics.equivalent(game, other),
        "kl_shifted": metrics.visitation_kl(game, other, SHIFTED, key, episodes, steps),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--game", default="congestion")
    parser.add_argument("--episodes", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--fit-steps", type=int, default=500)
    parser.add_argument("--out", default="diml_identifiability.md")
    parser.add_argument("--overwrite", action="store_true", help="overwrite an existing results file")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    started = time.perf_counter()
    rows = []
    for seed in seeds:
        key = jax.random.key(seed)
        k_game, k_data, k_shift, k_kl = jax.random.split(key, 4)
        game = DenseGame(evaluate.make_game(args.game, k_game).payoffs)
        actions = simulate(game, LEARNER, k_data, args.episodes, args.steps)
        constant = gauge_shift(game, k_shift, per_context=False)
        per_context = gauge_shift(game, k_shift, per_context=True)
        learned = DenseGame(fit(actions, game.num_actions, LEARNER, "neural", steps=args.fit_steps,
                                steps_per_chunk=args.fit_steps, burn_in=24, learning_rate=3e-3,
                                weight_decay=1.0).payoffs)
        learned_shift = gauge_shift(learned, k_shift, per_context=False)
        row = {"seed": seed, "total_loglik_true": float(log_likelihood(game, LEARNER, actions).sum())}
        for name, (a, b) in {"u vs u + c_i": (game, constant), "u vs u + c_i(a_-i)": (game, per_context),
                             "DIML vs DIML + c_i": (learned, learned_shift)}.items():
            row[name] = compare(a, b, actions, k_kl, 256, args.steps)
        control = DenseGame(game.payoffs.at[0, 0].add(0.5))  # moves agent 0's payoff of action 0 only
        row["u vs u + 0.5 on one action (control)"] = compare(game, control, actions, k_kl, 256, args.steps)
        rows.append(row)
        print(seed, {k: (v["max_loglik_gap"], v["equivalent"]) for k, v in row.items() if isinstance(v, dict)},
              flush=True)
    wall = time.perf_counter() - started
    pairs = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    lines = ["| pair | raw payoff MSE (not gauge-fixed) | max abs log-lik gap, any observed action "
             "| payoff-diff MSE (metric) | `metrics.equivalent` | visitation KL, shifted learner |",
             "|---|---|---|---|---|---|"]
    for pair in pairs:
        vals = [r[pair] for r in rows]
        lines.append(f"| {pair} | {diml_common.mean_sd([v['raw_payoff_mse'] for v in vals], 3)} | "
                     f"{max(v['max_loglik_gap'] for v in vals):.2e} (max over seeds) | "
                     f"{max(v['payoff_diff_mse'] for v in vals):.2e} (max over seeds) | "
                     f"{sum(v['equivalent'] for v in vals)}/{len(vals)} seeds | "
                     f"{diml_common.mean_sd([v['kl_shifted'] for v in vals])} |")
    notes = (f"Data: {args.episodes} episodes x {args.steps + 1} joint actions per seed of {LEARNER}. "
             f"Shifted learner for the KL: {SHIFTED}, expected joint-action visitation over 256 runs per mechanism, "
             "common random numbers. "
             f"DIML: neural payoff map, {args.fit_steps} steps. The control row changes a payoff *difference* "
             "and must be told apart. float32 arithmetic: log-likelihood gaps of ~1e-6 are rounding.")
    text = diml_common.header("Identifiability: payoff differences only", seeds, wall, notes) + "\n" + "\n".join(
        lines) + "\n"
    path = diml_common.write(args.out, text, args.overwrite)
    diml_common.write(args.out.replace(".md", ".json"), json.dumps(rows, indent=1), args.overwrite)
    print("wrote", path, f"in {wall:.0f} s")


if __name__ == "__main__":
    main()
