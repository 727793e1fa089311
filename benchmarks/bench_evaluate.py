"""The strong evaluator's throughput against training's, and the eval/train time ratio of a preset.

    python benchmarks/bench_evaluate.py [+experiment=regretformer_2x2] [rounds=3] [train_steps=100] [overrides...]

Times, alternately so that machine noise hits both, ``rounds`` training chunks of ``train_steps``
outer steps (the preset's trainer, its own attack included) and ``rounds`` chunks of the
evaluation attack (``attack.batch_size`` samples each, grid and ascent), after compiling both.
Prints for each: samples x attack steps per second (training: batch x inner.steps x restarts per
outer step; evaluation: samples x attack.steps x starts, its grid included in the time), in wall
time and in CPU time of this process (the fairer measure on a loaded machine), and the projected
wall times of the whole preset: training ``trainer.steps`` steps, evaluation ``attack.num_samples``
attacked and ``attack.revenue_samples`` priced, plus its compilation. Not a test: numbers depend on
the machine and its load (printed).
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax import config as config_lib  # noqa: E402
from mechjax.auctions.evaluate import REVENUE_CHUNK_FACTOR, REVENUE_KEY, attack_plan  # noqa: E402
from mechjax.auctions.evaluate_attack import make_attack_chunk, make_revenue_chunk  # noqa: E402
from mechjax.auctions.registry import attack_config  # noqa: E402
from mechjax.core import loop  # noqa: E402
from mechjax.core.trainer import make_train  # noqa: E402
from mechjax.experiment import compose  # noqa: E402


def timed(fn, *args):
    """``(wall seconds, CPU seconds of this process)`` of ``fn(*args)`` run to completion."""
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv):
    rounds, train_steps, overrides = 3, 100, []
    for arg in argv:
        if arg.startswith("rounds="):
            rounds = int(arg.split("=")[1])
        elif arg.startswith("train_steps="):
            train_steps = int(arg.split("=")[1])
        else:
            overrides.append(arg)
    cfg = compose(overrides)
    full_steps = cfg["trainer"]["steps"]
    exp = config_lib.build(compose([*overrides, f"trainer.steps_per_chunk={train_steps}",
                                    f"trainer.steps={train_steps}", "trainer.num_seeds=1"]))
    attack = attack_config(exp.cfg.get("attack"))
    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    keys = loop.replica_keys(0, 1)
    state = jax.jit(jax.vmap(trainer.init))(keys)
    mechanism = jax.jit(trainer.outcome_fn(loop.replica_params(state, 0)))
    plan = attack_plan(exp.problem, mechanism, attack)
    attack_chunk, _ = make_attack_chunk(exp.problem, mechanism, attack, plan["chunk"])
    revenue_chunk = min(attack.batch_size * REVENUE_CHUNK_FACTOR, attack.revenue_samples)
    revenue_fn = make_revenue_chunk(exp.problem, mechanism, revenue_chunk)
    eval_key = jax.random.key(attack.seed)

    train_compile = timed(lambda: trainer.chunk(state, keys)[1])
    eval_compile = timed(attack_chunk, eval_key, np.int32(0))
    revenue_compile = timed(revenue_fn, eval_key, np.int32(0))
    train_t, eval_t, revenue_t = [], [], []
    for r in range(rounds):
        round_keys = jax.vmap(lambda k: jax.random.fold_in(k, r + 1))(keys)
        train_t.append(timed(lambda: trainer.chunk(state, round_keys)[1]))
        eval_t.append(timed(attack_chunk, eval_key, np.int32(r + 1)))
        revenue_t.append(timed(revenue_fn, jax.random.fold_in(eval_key, REVENUE_KEY), np.int32(r + 1)))

    inner_steps = getattr(exp.inner, "steps", 0) * getattr(exp.inner, "restarts", 1)
    train_work = train_steps * exp.trainer.batch_size * inner_steps  # per chunk
    eval_work = plan["chunk"] * attack.steps * plan["starts"]
    print(f"setting: {' '.join(overrides) or '(main job)'}   devices: {jax.devices()}")
    print(f"load average before/after: {load0} / {os.getloadavg()}")
    print(f"evaluation plan: {plan}")
    print(f"compile (first call, wall/cpu s): train chunk {train_compile[0]:.1f}/{train_compile[1]:.1f}, attack "
          f"chunk {eval_compile[0]:.1f}/{eval_compile[1]:.1f}, revenue chunk {revenue_compile[0]:.1f}/{revenue_compile[1]:.1f}")
    rows = {}
    for name, times, work in (("train", train_t, train_work), ("eval", eval_t, eval_work)):
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        rows[name] = (wall, cpu)
        rate = f"{work / wall:.3g} wall, {work / cpu:.3g} cpu" if work else "no attack"
        print(f"{name:5s}: {wall:.2f} s wall / {cpu:.2f} s cpu per chunk (median of {rounds}; wall "
              f"{[round(t[0], 2) for t in times]});  samples x attack steps / s: {rate}")
    if train_work:
        for i, unit in enumerate(("wall", "cpu")):
            print(f"throughput eval / train ({unit}): {(eval_work / rows['eval'][i]) / (train_work / rows['train'][i]):.2f}")
    revenue_wall = statistics.median(t[0] for t in revenue_t)
    revenue_cpu = statistics.median(t[1] for t in revenue_t)
    chunks = plan["chunks"]
    revenue_chunks = -(-attack.revenue_samples // revenue_chunk)
    for i, unit in enumerate(("wall", "cpu")):
        train_s = full_steps / train_steps * rows["train"][i]
        eval_s = (chunks * rows["eval"][i] + revenue_chunks * (revenue_wall, revenue_cpu)[i]
                  + eval_compile[i] + revenue_compile[i])
        print(f"projected full preset ({unit} s): train {train_s:.0f} ({full_steps} steps, compile excluded), "
              f"eval {eval_s:.0f} ({chunks} chunks + {revenue_chunks} revenue chunks + compile): "
              f"eval/train = {eval_s / train_s:.3f}")


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    load0 = os.getloadavg()
    main(sys.argv[1:])
