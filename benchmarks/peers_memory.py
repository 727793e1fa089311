"""Memory section of ``benchmarks/peers.py``: peak resident memory of whole training runs.

Each job runs as ``python experiments/train.py ...`` in a child process (training and the full
evaluation that follows it); its peak resident set is the kernel's ``ru_maxrss`` for that child
alone (``os.wait4``), which counts the Python process with JAX, XLA's compiled code and every array
(or, when the parent was larger at fork, the child's ``VmHWM`` polled every half second).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (name, overrides); the evaluation is the configured default (attack=default) unless quick
JOBS = (
    ("main job (default config: RegretNet 1x2)", ["trainer.steps=1000"]),
    ("additive 5x10 RegretNet", ["problem=auction/additive_5x10", "trainer.steps=200"]),
)
QUICK = ["trainer.steps=10", "trainer.steps_per_chunk=10", "inner.steps=2", "attack=quick", "attack.num_samples=64",
         "attack.revenue_samples=1024", "attack.steps=5", "attack.allow_weak=true"]


def peak_rss(command: list[str], cwd: str, log_path: str,
             timeout_s: float | None = None) -> tuple[int, float, int, bool]:
    """``(peak resident bytes, wall seconds, exit status, stopped)`` of ``command``; past ``timeout_s``
    the child is stopped and the peak is the one it had reached (the kernel keeps it for the reaper)."""
    start = time.perf_counter()
    stopped = False
    polled = 0
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            polled = max(polled, _high_water_mark(proc.pid))
            if timeout_s is not None and time.perf_counter() - start > timeout_s:
                proc.kill()
                stopped = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss * 1024  # Linux: KiB
    # A forked child's ru_maxrss starts at the parent's resident size (before exec); when it is no
    # larger than that, the child's own peak is the high-water mark polled after exec.
    if peak <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024:
        peak = polled
    return peak, time.perf_counter() - start, proc.returncode, stopped


def _high_water_mark(pid: int) -> int:
    """Peak resident bytes of a live process since its exec (``VmHWM``), 0 if unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _summary(run_dir: str) -> dict:
    for name in ("summary.json",):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            with open(path) as handle:
                return json.load(handle)
    return {}


def _last_step(run_dir: str):
    """The last training step a run logged (metrics.jsonl), or None."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        lines = [line for line in handle if line.strip()]
    return json.loads(lines[-1]).get("step") if lines else None


def run(quick: bool, log=print, timeout_s: float | None = None) -> dict:
    """Peak RSS of each job; ``timeout_s`` stops a job and records the peak it had reached."""
    rows, skipped = [], []
    for name, overrides in JOBS:
        run_dir = tempfile.mkdtemp(prefix="mechjax_peers_memory_")
        if quick:  # the quick settings replace the job's own step count
            overrides = [o for o in overrides if not o.startswith("trainer.steps=")] + QUICK
        args = [*overrides, f"hydra.run.dir={run_dir}", "progress=false", "plots=false"]
        command = [sys.executable, os.path.join(ROOT, "experiments", "train.py"), *args]
        log_path = os.path.join(run_dir, "stdout.log")
        rss, wall, code, stopped = peak_rss(command, ROOT, log_path, timeout_s)
        if code != 0 and not stopped:
            with open(log_path) as handle:
                tail = handle.read()[-1500:]
            skipped.append(f"memory, {name}: exit status {code}: {tail}")
            log(f"  {name}: failed (exit {code}); log {log_path}")
            continue
        summary = _summary(run_dir)
        note = ""
        if stopped:
            note = (f"stopped at the {timeout_s:.0f} s limit after training step {_last_step(run_dir)} "
                    "(the evaluation runs after the last step): the peak it had reached")
        shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints of a throwaway run
        row = {"job": name, "command": "python experiments/train.py " + " ".join(a for a in args
                                                                                 if not a.startswith("hydra.")),
               "peak_rss_mib": rss / 2**20, "wall_s": wall,
               "train_wall_s": summary.get("train_wall_s", summary.get("wall_s")), "eval_wall_s": summary.get("eval_wall_s"),
               "note": note}
        rows.append(row)
        log(f"  {name}: peak RSS {row['peak_rss_mib']:.0f} MiB, wall {wall:.0f} s {note}")
    return {"rows": rows, "skipped": skipped}


def markdown(section: dict) -> list[str]:
    out = ["| job | command | peak RSS (MiB) | wall s (train / eval) | note |", "|---|---|---|---|---|"]
    for r in section["rows"]:
        split = ""
        if r.get("train_wall_s") is not None and r.get("eval_wall_s") is not None:
            split = f" ({r['train_wall_s']:.0f} / {r['eval_wall_s']:.0f})"
        out.append(f"| {r['job']} | `{r['command']}` | {r['peak_rss_mib']:.0f} | {r['wall_s']:.0f}{split} | "
                   f"{r.get('note', '')} |")
    return out
