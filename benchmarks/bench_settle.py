"""What the strong evaluator's early stop saves and what it loses, on a trained run.

    python benchmarks/bench_settle.py <run_dir> [samples=1024] [settle_tol=1e-6] [check_every=10] [repeats=1]

Attacks the same ``samples`` evaluation samples (the run's evaluation seed, chunk by chunk) with the
library's default attacker twice, alternately: every ascent run for all its steps
(``settle_tol=null``) and stopped once settled. Prints, per sample and bidder, how much regret the
early stop lost (or gained: it keeps the best utility of every check, not only the last), the mean
regret of each, the ascent steps run, and wall and CPU time of each attack (compilation apart).
Not a test: the times depend on the machine and its load (printed).
"""

import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax.auctions.evaluate import AttackConfig  # noqa: E402
from mechjax.auctions.evaluate_attack import make_attack_chunk  # noqa: E402
from mechjax.experiment import _load  # noqa: E402


def timed(fn, *args):
    """``(result, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(argv):
    run_dir, options = argv[0], dict(arg.split("=", 1) for arg in argv[1:])
    samples = int(options.get("samples", 1024))
    repeats = int(options.get("repeats", 1))
    tol = float(options.get("settle_tol", 1e-6))
    check_every = int(options.get("check_every", AttackConfig.check_every))
    mechanism, problem, _ = _load(run_dir)
    mechanism = jax.jit(mechanism)
    base = AttackConfig(check_every=check_every)
    chunk = min(base.batch_size, samples)
    attacks = {"full": dataclasses.replace(base, settle_tol=None),
               "early": dataclasses.replace(base, settle_tol=tol)}
    fns = {name: make_attack_chunk(problem, mechanism, attack, chunk)[0] for name, attack in attacks.items()}
    key = jax.random.key(base.seed)
    load0 = os.getloadavg()
    compile_s = {name: timed(fn, key, np.int32(0))[1] for name, fn in fns.items()}
    regret = {name: [] for name in fns}
    steps = {name: [] for name in fns}
    wall = {name: 0.0 for name in fns}
    cpu = {name: 0.0 for name in fns}
    for _ in range(repeats):
        for name in fns:
            regret[name].clear()
            steps[name].clear()
        for index in range(-(-samples // chunk)):
            for name, fn in fns.items():
                (r, _, s), w, c = timed(fn, key, np.int32(index))
                regret[name].append(np.asarray(r, np.float64))
                steps[name].extend(np.asarray(s).tolist())
                wall[name] += w / repeats
                cpu[name] += c / repeats
    full, early = (np.concatenate(regret[name])[:samples] for name in ("full", "early"))
    lost = full - early  # > 0: the early stop found less regret on that (sample, bidder)
    print(f"run: {run_dir}   samples: {samples}   devices: {jax.devices()}")
    print(f"attacker: {base.steps} steps max, {1 + base.restarts + base.grid_init} starts, grid {base.grid}; "
          f"check every {check_every} steps, settle_tol {tol:g}")
    print(f"load average before/after: {load0} / {os.getloadavg()}")
    print("| attack | regret (mean over samples and bidders) | regret max | ascent steps per tile, mean | "
          "wall s | CPU s | compile s |")
    print("|---|---|---|---|---|---|---|")
    for name, values in (("full", full), ("early", early)):
        print(f"| {name} | {values.mean():.6g} | {values.max():.6g} | {np.mean(steps[name]):.1f} | "
              f"{wall[name]:.1f} | {cpu[name]:.1f} | {compile_s[name]:.1f} |")
    print(f"regret lost by the early stop: mean {lost.mean():.3g} ({lost.mean() / max(full.mean(), 1e-12):.2%} "
          f"of the full attack's), largest on one sample {lost.max():.3g}, largest gained {-lost.min():.3g}; "
          f"samples losing more than 1e-5: {(lost > 1e-5).sum()} of {lost.size}")
    print(f"early/full time: wall {wall['early'] / wall['full']:.3f}, CPU {cpu['early'] / cpu['full']:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
