"""EM for a Plackett-Luce mixture at scale: 10^6 rankings from 10^5 annotators, on this machine.

    python benchmarks/bench_alignment.py [--annotators 100000] [--judgements 10] [--steps 300]

Draws a 3-type population over 20 responses, 10 three-way rankings per annotator, and times
``fit_mixture_full`` (make_train, E-step inner solver, minibatches of 8,192 annotators); prints the
wall time (with and without compilation), the reward error and the assignment ARI.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax import alignment as al  # noqa: E402
from mechjax.alignment.identifiability import matched_errors  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--annotators", type=int, default=100_000)
    parser.add_argument("--judgements", type=int, default=10)
    parser.add_argument("--types", type=int, default=3)
    parser.add_argument("--responses", type=int, default=20)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8192)
    args = parser.parse_args(argv)
    pop = al.random_population(jax.random.key(0), args.types, args.responses, rationality=2.0,
                               weights=np.full(args.types, 1.0 / args.types))
    started = time.perf_counter()
    data = al.sample_judgements(pop, jax.random.key(1), args.annotators, args.judgements, args.k)
    sample_s = time.perf_counter() - started
    timings = []
    for steps in (1, args.steps):  # the 1-step run measures compilation and setup
        started = time.perf_counter()
        fit = al.fit_mixture_full(data.rankings, data.annotator, args.responses, args.types, jax.random.key(2),
                                  steps=steps, restarts=2, batch_size=args.batch)
        timings.append(time.perf_counter() - started)
    err, _ = matched_errors(pop.rationality * pop.utilities, pop.weights, fit.rewards, fit.weights)
    ari = al.adjusted_rand_index(data.types[::args.judgements], fit.assignment)
    print(f"rankings {len(data.rankings):,} from {args.annotators:,} annotators (K={args.responses}, k={args.k}, "
          f"T={args.types}); devices {jax.devices()}")
    print(f"sampling {sample_s:.1f} s; EM {args.steps} steps of {args.batch} annotators: {timings[1]:.1f} s "
          f"(1-step run incl. compilation and the full-data E-step: {timings[0]:.1f} s)")
    print(f"reward error (RMS, matched) {err:.4f}; assignment ARI {ari:.4f}; log-lik/annotator {fit.loglik:.4f}")


if __name__ == "__main__":
    main()
