"""Training throughput of the jitted bilevel trainer (RegretNet by default on 2x2 additive U[0,1]).

    python benchmarks/bench_trainer.py [problem=auction/additive_2x2] [chunks=5] [overrides...]

Reports outer steps per second and (samples x attack steps) per second after compilation, the
median over ``chunks`` timed chunks. Not a test: numbers depend on the machine and its load.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from mechjax import config as config_lib  # noqa: E402
from mechjax.core import loop  # noqa: E402
from mechjax.core.trainer import make_train  # noqa: E402
from mechjax.experiment import compose  # noqa: E402


def main(argv):
    chunks = 5
    overrides = ["problem=auction/additive_2x2", "trainer.steps_per_chunk=500", "trainer.steps=500"]
    for arg in argv:
        if arg.startswith("chunks="):
            chunks = int(arg.split("=")[1])
        else:
            overrides.append(arg)
    exp = config_lib.build(compose(overrides))
    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    keys = loop.replica_keys(0, exp.trainer.num_seeds)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    t = time.perf_counter()
    state, metrics = trainer.chunk(state, keys)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t
    times = []
    for c in range(chunks):
        t = time.perf_counter()
        state, metrics = trainer.chunk(state, jax.vmap(lambda k: jax.random.fold_in(k, c + 1))(keys))
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t)
    per_chunk = statistics.median(times)
    k, b = exp.trainer.steps_per_chunk, exp.trainer.batch_size
    attack_steps = getattr(exp.inner, "steps", 0) * getattr(exp.inner, "restarts", 1)
    steps_per_s = k * exp.trainer.num_seeds / per_chunk
    print(f"setting: {' '.join(overrides)}")
    print(f"devices: {jax.devices()}  replicas: {exp.trainer.num_seeds}")
    print(f"first chunk (compile + run): {compile_s:.2f} s")
    print(f"outer steps/s: {steps_per_s:.1f}  (median of {chunks} chunks of {k}; min {k / max(times):.1f}, max {k / min(times):.1f})")
    print(f"samples x attack steps / s: {steps_per_s * b * attack_steps:.3g}  (batch {b}, {attack_steps} attack steps x restarts)")


if __name__ == "__main__":
    main(sys.argv[1:])
