"""Resolution speed: delegation graphs of 10^6 voters resolved by batched pointer jumping.

Prints, for each size, the compile time and the median / best wall time of ``resolve_full``
(casters, weights, path lengths, cycle members) after compilation, over ``--repeats`` calls on
the same graph (``block_until_ready``), plus the exact accuracy dynamic program on 10^3..10^4
casters. Also checks one 10^6 graph against the plain-Python reference on 2,000 sampled voters
(the full reference takes minutes). Run: ``python benchmarks/bench_delegation.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax.delegation.accuracy import accuracy  # noqa: E402
from mechjax.delegation.graphs import random_delegations  # noqa: E402
from mechjax.delegation.resolve import _resolve, rounds  # noqa: E402


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return float(np.median(times)), float(np.min(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--batch", type=int, default=1, help="graphs per call")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cast-prob", type=float, default=0.3, help="probability that a voter casts")
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    try:
        print("load average before:", os.getloadavg())
    except OSError:
        pass
    print("| voters | function | graphs per call | max pointer-jumping rounds | compile [s] | median [s] | best [s] | voters/s (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        delegate = jax.device_put(random_delegations(jax.random.key(n), args.batch, n, args.cast_prob))
        if args.batch == 1:
            delegate = delegate[0]
        for full in (False, True):  # resolve (casters, weights) and resolve_full (+ paths, cycles)
            t = time.perf_counter()
            jax.block_until_ready(_resolve(delegate, full=full))
            compile_s = time.perf_counter() - t
            med, best = _time(lambda: _resolve(delegate, full=full), args.repeats)
            print(f"| {n:,} | {'resolve_full' if full else 'resolve'} | {args.batch} | {rounds(n)} | {compile_s:.2f} | "
                  f"{med:.4f} | {best:.4f} | {n * args.batch / med:,.0f} |")
        if n >= 1_000_000 and args.batch == 1:
            res = jax.device_get(_resolve(delegate))
            d = np.asarray(delegate)
            rng = np.random.default_rng(0)
            ok = 0
            for i in rng.choice(n, 2000, replace=False):  # walk i's chain in Python
                seen, j, hops = set(), int(i), 0
                while d[j] != j and j not in seen:
                    seen.add(j)
                    j, hops = int(d[j]), hops + 1
                ok += (res.caster[i] == (j if d[j] == j else -1)) and (res.path_length[i] == (hops if d[j] == j else -1))
            print(f"  reference check on 2,000 sampled voters of the 10^6 graph: {ok}/2000 agree; "
                  f"votes lost in cycles {int((res.caster < 0).sum()):,}, weights sum {int(res.weight.sum()):,}")
    print("\n| casters | accuracy DP compile [s] | median [s] |")
    print("|---|---|---|")
    for n in (1000, 10000):
        w = np.ones(n, np.int32)
        p = np.full(n, 0.51, np.float32)
        fn = jax.jit(lambda w, p: accuracy(w, p, max_total=n))
        t = time.perf_counter()
        jax.block_until_ready(fn(w, p))
        compile_s = time.perf_counter() - t
        med, _ = _time(lambda: fn(w, p), 3)
        print(f"| {n:,} | {compile_s:.2f} | {med:.3f} |")
    try:
        print("load average after:", os.getloadavg())
    except OSError:
        pass


if __name__ == "__main__":
    main()
