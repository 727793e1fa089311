"""Worker processes of the auction peer benchmark (``benchmarks/peers_auctions.py`` starts them).

    python benchmarks/peers_workers.py ours|optimaler ARCH SETTING BATCH STEPS [--optimaler PATH]
    python benchmarks/peers_workers.py gemm_jax|gemm_torch SHAPES_JSON

A trainer worker builds one trainer (mechjax's jitted ``make_train``, or the PyTorch ``Trainer`` of
the optimaler clone, imported from that clone, never copied), warms it up, prints one ``@@``-prefixed
JSON line (parameters, warm-up seconds, FLOPs), and then answers ``run K`` lines on stdin with the
seconds K outer steps took. Keeping each library in its own long-lived process lets the parent
alternate timed blocks (ours, peer, ours, peer) without the two thread pools meeting, and without
paying compilation again. Lines not starting with ``@@`` are the libraries' own chatter.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (bidders, items, mechjax problem preset, optimaler config module)
SETTINGS = {
    "2x2": (2, 2, "auction/additive_2x2", "additive_2x2_uniform_config"),
    "3x10": (3, 10, "auction/additive_3x10", "additive_3x10_uniform_config"),
}
# The peer's architectures at its settings' widths, and the mechjax overrides that come closest:
# RegretNet is the same network (same parameter count); EquivariantNet and RegretFormer differ in
# structure (mechjax: separate allocation/payment trunks; pre-norm blocks with a feed-forward layer),
# so depth and token width follow the peer and the free width is set to match the parameter count.
OURS_MECHANISM = {
    ("RegretNet", "2x2"): ["mechanism=regretnet", "mechanism.hidden=[100,100]", "mechanism.activation=tanh"],
    ("RegretNet", "3x10"): ["mechanism=regretnet", "mechanism.hidden=[100,100,100,100,100]",
                            "mechanism.activation=tanh"],
    ("EquivariantNet", "2x2"): ["mechanism=equivariantnet", "mechanism.channels=[23,23]", "mechanism.activation=relu"],
    ("EquivariantNet", "3x10"): ["mechanism=equivariantnet", "mechanism.channels=[23,23,23,23,23]",
                                 "mechanism.activation=relu"],
    ("RegretFormer", "2x2"): ["mechanism=regretformer", "mechanism.dim=64", "mechanism.heads=2", "mechanism.blocks=1",
                              "mechanism.hidden=256", "mechanism.activation=tanh"],
    ("RegretFormer", "3x10"): ["mechanism=regretformer", "mechanism.dim=128", "mechanism.heads=4",
                               "mechanism.blocks=2", "mechanism.hidden=448", "mechanism.activation=tanh"],
}
MAX_CHUNK = 4096  # the most outer steps one timed block of ours may run (one compiled chunk)


def emit(record: dict) -> None:
    print("@@" + json.dumps(record), flush=True)


def ours_overrides(arch: str, setting: str, batch: int, steps: int) -> list[str]:
    return [f"problem={SETTINGS[setting][2]}", *OURS_MECHANISM[(arch, setting)], "inner=adversary",
            f"inner.steps={steps}", f"trainer.batch_size={batch}", f"trainer.steps_per_chunk={MAX_CHUNK}",
            f"trainer.steps={MAX_CHUNK}", f"trainer.train_size={max(65536, batch)}", "trainer.num_seeds=1"]


def _xla_flops(fn, *args) -> float:
    import jax
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0]
    return float(cost.get("flops", float("nan")))


def _ours_flops(trainer, params, bidders: int, items: int, batch: int, steps: int) -> float:
    """FLOPs of one outer step as XLA counts them: ``steps`` attack steps (forward + input gradient on
    the ``bidders * batch`` misreport profiles) plus the outer step (forward on the batch and on the
    misreports, backward to the parameters). Optimiser updates and sampling are left out."""
    import jax
    import jax.numpy as jnp
    profiles = jnp.full((batch, bidders, items), 0.5, jnp.float32)
    misreports = jnp.full((bidders * batch, bidders, items), 0.5, jnp.float32)

    def attack_utility(reports):
        alloc, pay = trainer.outcome_fn(params, True)(reports)
        return jnp.sum(alloc * reports) - jnp.sum(pay)

    def outer_loss(p):
        alloc, pay = trainer.outcome_fn(p, True)(profiles)
        alloc_m, pay_m = trainer.outcome_fn(p, True)(misreports)
        return -jnp.sum(pay) + jnp.sum(alloc_m * misreports) - jnp.sum(pay_m) + 0.0 * jnp.sum(alloc)

    attack = _xla_flops(jax.grad(attack_utility), misreports)
    outer = _xla_flops(jax.grad(outer_loss), params)
    return steps * attack + outer


def ours_worker(arch: str, setting: str, batch: int, steps: int) -> None:
    sys.path.insert(0, ROOT)
    import jax
    import numpy as np

    from mechjax import config as config_lib
    from mechjax.core import loop
    from mechjax.core.trainer import make_train
    from mechjax.experiment import compose

    exp = config_lib.build(compose(ours_overrides(arch, setting, batch, steps)))
    trainer = make_train(exp.problem, exp.mechanism, exp.inner, exp.constraint, exp.optimizer, exp.trainer)
    keys = loop.replica_keys(0, 1)
    start = time.perf_counter()
    state = jax.jit(jax.vmap(trainer.init))(keys)
    state, metrics = trainer.chunk(state, keys, 0, 1)
    jax.block_until_ready(metrics)
    warmup = time.perf_counter() - start
    params = jax.tree.map(lambda x: x[0], state.params)
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    bidders, items = SETTINGS[setting][:2]
    emit({"params": count, "warmup_s": warmup, "flops_per_step": _ours_flops(trainer, params, bidders, items, batch,
                                                                             steps),
          "library": f"jax {jax.__version__}", "devices": str(jax.devices())})
    block = 0
    for line in sys.stdin:
        if not line.startswith("run"):
            break
        k = min(int(line.split()[1]), MAX_CHUNK)
        block += 1
        block_keys = jax.vmap(lambda key: jax.random.fold_in(key, block))(keys)
        start = time.perf_counter()
        state, metrics = trainer.chunk(state, block_keys, 0, k)
        jax.block_until_ready(metrics)
        emit({"steps": k, "seconds": time.perf_counter() - start})


def _stub_tensorboard() -> None:
    """The peer's Trainer opens a TensorBoard writer; without tensorboard installed, a writer that
    only remembers its log directory stands in (the timed loop never logs)."""
    try:
        import torch.utils.tensorboard  # noqa: F401
        return
    except Exception:
        pass
    module = types.ModuleType("torch.utils.tensorboard")

    class SummaryWriter:
        def __init__(self, log_dir=None, **_):
            self.log_dir = log_dir or tempfile.mkdtemp(prefix="optimaler_")
            os.makedirs(self.log_dir, exist_ok=True)

        def add_scalar(self, *args, **kwargs):
            pass

    module.SummaryWriter = SummaryWriter
    sys.modules["torch.utils.tensorboard"] = module


def optimaler_worker(arch: str, setting: str, batch: int, steps: int, path: str) -> None:
    import copy
    import importlib
    import warnings

    warnings.filterwarnings("ignore", category=SyntaxWarning)  # the peer compares strings with `is`
    sys.path.insert(0, os.path.abspath(path))
    import torch
    _stub_tensorboard()
    from core.clip_ops.clip_ops import clip_op_01
    from core.data.uniform_01_generator import Generator
    from core.nets.additive_net import AdditiveNet
    from core.nets.additive_net_attention import AdditiveNetAttention
    from core.nets.additive_net_exchangeable import AdditiveNetExchangeable
    from core.trainer.trainer import Trainer

    cfg = copy.deepcopy(importlib.import_module("core.configs." + SETTINGS[setting][3]).cfg)
    cfg.architecture = arch
    cfg.save_data = tempfile.mkdtemp(prefix="optimaler_run_")
    cfg.train.batch_size = batch
    cfg.train.gd_iter = steps
    cfg.train.num_batches = max(65536, batch) // batch  # the same fixed training set size as ours
    cfg.train.num_instances = cfg.train.num_batches * batch
    cfg.train.print_iter = 10**9
    device = torch.device("cpu")
    net_class = {"RegretNet": AdditiveNet, "EquivariantNet": AdditiveNetExchangeable,
                 "RegretFormer": AdditiveNetAttention}[arch]
    net = net_class(cfg, device).to(device)
    with open(os.devnull, "w") as quiet:  # the peer prints its config on construction
        stdout, sys.stdout = sys.stdout, quiet
        try:
            trainer = Trainer(cfg, net, clip_op_01, device)
        finally:
            sys.stdout = stdout
    trainer.train_gen, trainer.val_gen = Generator(cfg, "train"), Generator(cfg, "val")
    start = time.perf_counter()
    trainer.train_epoch(1)
    warmup = time.perf_counter() - start
    # On a loaded machine torch's default thread pool can be many times slower than one thread (its
    # workers wait on each other at every small op); the peer gets whichever is faster here, and one
    # thread outright when the load average exceeds the cores.
    threads = {}
    candidates = sorted({torch.get_num_threads(), 1}, reverse=True)
    if os.getloadavg()[0] > os.cpu_count():  # oversubscribed: the pool can only lose, and probing it costs minutes
        candidates = [1]
    for count in candidates:
        torch.set_num_threads(count)
        start = time.perf_counter()
        trainer.train_epoch(2)
        threads[count] = time.perf_counter() - start
    torch.set_num_threads(min(threads, key=threads.get))
    emit({"params": sum(p.numel() for p in net.parameters() if p.requires_grad), "warmup_s": warmup,
          "library": f"torch {torch.__version__} ({torch.get_num_threads()} threads; one step with "
                     + ", ".join(f"{c}: {s:.2f} s" for c, s in threads.items()) + ")"})
    iteration = 2
    for line in sys.stdin:
        if not line.startswith("run"):
            break
        k = int(line.split()[1])
        start = time.perf_counter()
        for _ in range(k):
            iteration += 1
            trainer.train_epoch(iteration)
        emit({"steps": k, "seconds": time.perf_counter() - start})


def _best_rate(run, flops: float, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return flops / min(times) / 1e9


def gemm_worker(kind: str, shapes: list) -> None:
    """GFLOP/s of ``[rows, k] @ [k, k]`` chained ``chain`` times (about 1 GFLOP a run) (square weights keep the chain's
    values bounded and let one compiled loop, or one Python loop, run many products)."""
    import numpy as np
    out = []
    rng = np.random.default_rng(0)
    for rows, k in shapes:
        chain = int(np.clip(1e9 / (2.0 * rows * k * k), 2, 200))  # about 1 GFLOP per timed run
        weight = np.linalg.qr(rng.standard_normal((k, k)))[0].astype(np.float32)  # orthogonal: no blow-up
        x = rng.standard_normal((rows, k)).astype(np.float32)
        flops = 2.0 * rows * k * k * chain
        if kind == "gemm_jax":
            import jax
            import jax.numpy as jnp
            fn = jax.jit(lambda a, w: jax.lax.fori_loop(0, chain, lambda _, v: v @ w, a))
            xa, wa = jnp.asarray(x), jnp.asarray(weight)
            fn(xa, wa).block_until_ready()
            rate = _best_rate(lambda: fn(xa, wa).block_until_ready(), flops)
        else:
            import torch
            xt, wt = torch.from_numpy(x), torch.from_numpy(weight)

            def run():
                v = xt
                for _ in range(chain):
                    v = v @ wt
                return v
            run()
            rate = _best_rate(run, flops)
        out.append({"rows": rows, "k": k, "gflops": rate})
    emit({"gemm": out})


def main(argv):
    kind = argv[0]
    if kind in ("gemm_jax", "gemm_torch"):
        return gemm_worker(kind, json.loads(argv[1]))
    arch, setting, batch, steps = argv[1], argv[2], int(argv[3]), int(argv[4])
    if kind == "ours":
        return ours_worker(arch, setting, batch, steps)
    path = argv[argv.index("--optimaler") + 1]
    return optimaler_worker(arch, setting, batch, steps, path)


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    main(sys.argv[1:])
