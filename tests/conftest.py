"""Shared test setup. JAX runs strictly here: rank promotion raises, and 4 simulated CPU devices
shard every batch (so code that only works on one device, or relies on implicit broadcasting,
fails in the tests rather than on a cluster)."""

import os

# Before anything imports jax: the device count is fixed when the CPU backend starts. 4 devices,
# not 8: with pytest -n 2 every worker runs its own simulated devices on 2 CI cores, and 8 starved
# collectives under load (test_sharding.py checks 8 devices in a process of its own). They share 2 CI cores, so a collective may wait long for its slowest device: XLA's
# default of 40 s before aborting the process is raised (a real hang still ends, after 5 minutes).
STRICT_XLA_FLAGS = ("--xla_force_host_platform_device_count=4",
                    "--xla_cpu_collective_call_terminate_timeout_seconds=300",
                    "--xla_cpu_collective_timeout_seconds=300")
# Compilation is most of a cold suite's time (CI has no cache: 2,118 s cold against 843 s warm on one
# 2-core machine). LLVM at -O2 instead of XLA's default -O3 compiles the programs that unroll (every
# PRNG draw: threefry's rounds) in about half the time, and trained no slower: benchmarks/RESULTS.md
# ("Test suite time"). -O0 was tried at stop 18 and reverted: it slowed the execution-heavy tests more
# than it saved. Users' runs keep XLA's default.
FAST_COMPILE_XLA_FLAGS = ("--xla_backend_optimization_level=2",)
for _flag in (*STRICT_XLA_FLAGS, *FAST_COMPILE_XLA_FLAGS):
    if _flag.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _flag).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ["JAX_NUMPY_RANK_PROMOTION"] = "raise"

# Compilation dominates the suite's time (a tiny preset run spends ~8 of its ~14 s in XLA), and many
# tests compile the very same programs: in process, in the pytest-xdist workers and in the child
# processes of the CLI, notebook, launcher and distributed tests. JAX's persistent compilation cache
# (keyed by the program, the JAX version, the devices and the compile flags, so a hit is the same
# executable) lets them share: tests/test_{cli,resume,evaluate,checkpoint}.py took a quarter less time on
# a cold cache (180 s -> 134 s), a 2x2 preset smoke 14.7 s -> 5.7 s on a warm one.
# Set through the environment so that child processes inherit it; an outside setting wins.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".pytest_cache", "jax-compilation"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")  # tiny programs recompile faster than they load
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(2 << 30))  # bytes; least recently used go first

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

import pytest  # noqa: E402

from mechjax import experiment  # noqa: E402

CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")
REPO_DIR = os.path.dirname(CONF_DIR)

# A weak, fast evaluation attacker for smoke runs only (never for reported numbers).
TINY_ATTACK = ["attack.steps=5", "attack.restarts=1", "attack.grid=3", "attack.grid_init=1",
               "attack.num_samples=64", "attack.revenue_samples=256", "attack.batch_size=64", "attack.allow_weak=true"]
TINY = ["trainer=tiny", "progress=false", "plots=false", *TINY_ATTACK]


def compose_config(overrides=(), config_name="config"):
    """The config that ``experiments/train.py <overrides>`` would see."""
    return experiment.compose(overrides, config_name=config_name, conf_dir=CONF_DIR)


@pytest.fixture
def compose_cfg():
    return compose_config


# Where the suite's compilation goes: MECHJAX_COMPILE_LOG=<dir> makes every test process append one line
# per compiled program (test id, program name, seconds spent tracing, lowering and compiling, or loading
# from the persistent cache) to <dir>/compile-<pid>.tsv; `python benchmarks/suite_compile.py <dir>` sums
# them by test and by program. Child processes (CLI, notebook, launcher tests) are not counted.
if os.environ.get("MECHJAX_COMPILE_LOG"):
    from jax import monitoring as _monitoring

    _COMPILE_LOG = os.path.join(os.environ["MECHJAX_COMPILE_LOG"], f"compile-{os.getpid()}.tsv")
    os.makedirs(os.path.dirname(_COMPILE_LOG), exist_ok=True)

    def _log_compile(event, duration, fun_name="", **_):
        if event.startswith("/jax/core/compile/"):
            test = os.environ.get("PYTEST_CURRENT_TEST", "-").rsplit(" ", 1)[0]
            with open(_COMPILE_LOG, "a") as f:
                f.write(f"{test}\t{fun_name}\t{event.rsplit('/', 1)[-1]}\t{duration:.4f}\n")

    _monitoring.register_event_duration_secs_listener(_log_compile)
