"""Training throughput of the jitted bilevel trainer (RegretNet on 2x2 additive U[0,1] by default).

    python benchmarks/bench_trainer.py [batch=128] [misreport_steps=25] [mechanism=regretnet]
        [problem=auction/additive_2x2] [chunks=5] [steps_per_chunk=200] [overrides...]

``batch``, ``misreport_steps``, ``mechanism`` and ``problem`` are shorthands for the Hydra overrides
``trainer.batch_size``, ``inner.steps``, ``mechanism`` and ``problem``; anything else is passed on
as an override. Reports, after compilation and as the median over ``chunks`` timed chunks:

* outer training steps per second;
* samples x attack steps per second (batch x misreport steps x restarts x outer steps / s);
* GFLOP/s: the floating-point operations of one outer step as XLA's cost analysis of the compiled
  step counts them (``flops``, transcendentals not included), times outer steps per second. The
  count is taken from two one-step programs, with 0 and with 1 misreport step, because the cost
  analysis counts a loop body once whatever its trip count: ``F(S) = F(0) + S (F(1) - F(0))``.

Not a test: the numbers depend on the machine and its load, so the load average is printed
before and after; compare code versions by alternating runs (A, B, A, B).
"""

import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402

from mechjax import config as config_lib  # noqa: E402
from mechjax.core import loop  # noqa: E402
from mechjax.core.trainer import make_train  # noqa: E402
from mechjax.experiment import compose  # noqa: E402

SHORTHANDS = {"batch": "trainer.batch_size", "misreport_steps": "inner.steps", "mechanism": "mechanism",
              "problem": "problem", "steps_per_chunk": "trainer.steps_per_chunk"}


def parse(argv):
    """``(chunks, overrides)`` from ``key=value`` arguments (shorthands expanded)."""
    chunks = 5
    settings = {"problem": "auction/additive_2x2", "trainer.steps_per_chunk": "200"}
    extra = []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "chunks":
            chunks = int(value)
        elif key in SHORTHANDS:
            settings[SHORTHANDS[key]] = value
        else:
            extra.append(arg)
    explicit_problem = any(arg.partition("=")[0] == "problem" for arg in argv)
    if any(arg.startswith("+experiment=") for arg in extra) and not explicit_problem:
        settings.pop("problem")  # an experiment preset brings its own problem: the 2x2 default must not override it
    settings["trainer.steps"] = settings["trainer.steps_per_chunk"]
    return chunks, [f"{k}={v}" for k, v in settings.items()] + extra


def build(overrides):
    exp = config_lib.build(compose(overrides))
    return exp, make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)


def flops_per_outer_step(overrides, misreport_steps):
    """XLA's flop count of one outer step, or None when the compiled program reports none.

    ``misreport_steps`` is None for inner solvers without ascent steps (one program suffices).
    """
    counts = []
    for steps in ((None,) if misreport_steps is None else (0, 1)):
        inner = [] if steps is None else [f"inner.steps={steps}"]
        _, trainer = build(overrides + ["trainer.steps_per_chunk=1", "trainer.steps=1"] + inner)
        keys = loop.replica_keys(0, 1)
        state = jax.eval_shape(jax.vmap(trainer.init), keys)
        cost = jax.jit(lambda s, k: trainer.chunk(s, k)).lower(state, keys).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        if not cost or "flops" not in cost:
            return None
        counts.append(float(cost["flops"]))
    if misreport_steps is None:
        return counts[0]
    return counts[0] + misreport_steps * (counts[1] - counts[0])


def main(argv):
    chunks, overrides = parse(argv)
    load_before = os.getloadavg()
    exp, trainer = build(overrides)
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
    load_after = os.getloadavg()
    per_chunk = statistics.median(times)
    k, b = exp.trainer.steps_per_chunk, exp.trainer.batch_size
    misreport_steps = getattr(exp.inner, "steps", 0)
    attack_steps = misreport_steps * getattr(exp.inner, "restarts", 1)
    steps_per_s = k * exp.trainer.num_seeds / per_chunk
    flops = flops_per_outer_step(overrides, misreport_steps if hasattr(exp.inner, "steps") else None)
    params = sum(x.size for x in jax.tree.leaves(jax.tree.map(lambda p: p[0], state.params)))
    print(f"setting: {' '.join(overrides)}")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores; jax {jax.__version__}; devices {jax.devices()}; "
          f"replicas {exp.trainer.num_seeds}; mechanism parameters {params:,}")
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print(f"first chunk (compile + run): {compile_s:.2f} s")
    print(f"outer steps/s: {steps_per_s:.1f}  (median of {chunks} chunks of {k}; "
          f"min {k / max(times):.1f}, max {k / min(times):.1f})")
    print(f"samples x attack steps / s: {steps_per_s * b * attack_steps:.3g}  "
          f"(batch {b}, {misreport_steps} misreport steps x {attack_steps // max(misreport_steps, 1)} restarts)")
    if flops is not None:
        print(f"GFLOP per outer step (XLA cost analysis): {flops / 1e9:.3f};  GFLOP/s: {flops * steps_per_s / 1e9:.1f} "
              f"(median chunk; best chunk {flops * k / min(times) / 1e9:.1f})")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    main(sys.argv[1:])
