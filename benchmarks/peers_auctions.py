"""Auction section of ``benchmarks/peers.py``: outer training steps per second of mechjax's RegretNet,
EquivariantNet and RegretFormer against the PyTorch ones of the RegretFormer authors' repository
(``dimonenka/optimaler``, driven from a local clone, never copied), and the machine's matmul peak.

Each (architecture, setting, batch / attack steps) runs in two long-lived worker processes
(``peers_workers.py``), one per library; after warm-up (compilation for mechjax; reported apart)
timed blocks alternate ours, peer, ours, peer, ... so load changes hit both. Block lengths are set
so one block takes about ``block_s`` seconds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "peers_workers.py")
ARCHS = ("RegretNet", "EquivariantNet", "RegretFormer")
SETTINGS = ("2x2", "3x10")
BATCHES = ((128, 25), (512, 50))
QUICK = {"settings": ("2x2",), "batches": ((16, 2),), "block_s": 0.2}
TARGETS = {(128, 25): 8.0, (512, 50): 3.0}  # issue 13: ratio to the PyTorch RegretNet
PEAK_FRACTION = 0.7  # ... or this share of the measured matmul peak where the peer nears the machine's limit


class Worker:
    """One worker process; ``info`` is its first report (parameters, warm-up, FLOPs)."""

    def __init__(self, argv: list[str]):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, WORKER, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1)
        self.info = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        self.proc.wait()
        self.log.seek(0)
        tail = self.log.read()[-2000:]
        raise RuntimeError(f"worker {self.proc.args[2:]} exited ({self.proc.returncode}):\n{tail}")

    def run(self, steps: int) -> float:
        """Outer steps per second over a block of ``steps`` steps."""
        self.proc.stdin.write(f"run {steps}\n")
        self.proc.stdin.flush()
        report = self._read()
        return report["steps"] / report["seconds"]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait(timeout=60)
        self.log.close()


def matmul_peak(shapes: list[tuple[int, int]], torch_ok: bool, pairs: int = 2) -> dict:
    """``{(rows, k): {"jax": GFLOP/s, "torch": GFLOP/s}}``, best of alternating jax / torch runs."""
    best: dict = {}
    kinds = ["gemm_jax"] + (["gemm_torch"] if torch_ok else [])
    for _ in range(pairs):
        for kind in kinds:
            out = subprocess.run([sys.executable, WORKER, kind, json.dumps(shapes)], capture_output=True, text=True,
                                 check=True).stdout
            report = json.loads(next(line[2:] for line in out.splitlines() if line.startswith("@@")))
            for row in report["gemm"]:
                slot = best.setdefault((row["rows"], row["k"]), {})
                slot[kind[5:]] = max(slot.get(kind[5:], 0.0), row["gflops"])
    return best


def _rates_summary(rates: list[float]) -> dict:
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": rates}


def measure(arch: str, setting: str, batch: int, steps: int, optimaler: str | None, repeats: int,
            block_s: float, log=print) -> dict:
    """One row: ours and (if a clone is given) the peer, alternating ``repeats`` timed pairs."""
    args = [arch, setting, str(batch), str(steps)]
    ours = Worker(["ours", *args])
    peer = None
    row = {"arch": arch, "setting": setting, "batch": batch, "attack_steps": steps, "ours_params": ours.info["params"],
           "ours_warmup_s": ours.info["warmup_s"], "flops_per_step": ours.info["flops_per_step"],
           "ours_library": ours.info["library"]}
    try:
        if optimaler:
            peer = Worker(["optimaler", *args, "--optimaler", optimaler])
            row.update(peer_params=peer.info["params"], peer_warmup_s=peer.info["warmup_s"],
                       peer_library=peer.info["library"])
        rate = ours.run(max(2, int(5 * block_s)))  # calibration block (not recorded)
        ours_block = max(1, min(int(rate * block_s), 4096))
        if peer:
            peer_block = max(1, int(peer.run(1) * block_s))
        ours_rates, peer_rates = [], []
        for _ in range(repeats):
            ours_rates.append(ours.run(ours_block))
            if peer:
                peer_rates.append(peer.run(peer_block))
        row["ours"] = _rates_summary(ours_rates)
        row["ours_block_steps"] = ours_block
        row["ours_gflops"] = row["ours"]["median"] * row["flops_per_step"] / 1e9
        if peer:
            row["peer"] = _rates_summary(peer_rates)
            row["peer_block_steps"] = peer_block
            row["ratio"] = row["ours"]["median"] / row["peer"]["median"]
            pair_ratios = [o / p for o, p in zip(ours_rates, peer_rates)]
            row["ratio_min"], row["ratio_max"] = min(pair_ratios), max(pair_ratios)
        log(f"  {arch:14s} {setting:4s} {batch}/{steps}: ours {row['ours']['median']:.2f} steps/s"
            + (f", peer {row['peer']['median']:.2f}, ratio {row['ratio']:.2f}" if peer else ""))
    finally:
        ours.close()
        if peer:
            peer.close()
    return row


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def optimaler_problem(path: str | None) -> str | None:
    """Why the peer cannot run, or None."""
    if not path:
        return "no --optimaler PATH given (a clone of github.com/dimonenka/optimaler)"
    if not os.path.isfile(os.path.join(path, "core", "trainer", "trainer.py")):
        return f"--optimaler {path} is not a clone of dimonenka/optimaler (no core/trainer/trainer.py)"
    if not torch_available():
        return "torch is not installed (pip install torch; a CPU wheel is enough)"
    try:
        import easydict  # noqa: F401
    except ImportError:
        return "easydict is not installed (the peer's configs need it: pip install easydict)"
    return None


def run(quick: bool, optimaler: str | None, repeats: int, block_s: float | None = None, log=print,
        progress=None) -> dict:
    """The auction section: rows, the matmul peaks, what was skipped and why.

    RegretNet's rows come first (the issue's targets are about it), and ``progress(section)`` is
    called after every row, so a run stopped early keeps the rows it finished.
    """
    settings = QUICK["settings"] if quick else SETTINGS
    batches = QUICK["batches"] if quick else BATCHES
    block_s = block_s or (QUICK["block_s"] if quick else 3.0)
    section = {"rows": [], "skipped": [], "block_s": block_s, "repeats": repeats,
               "planned": [f"{a} {s} {b}/{k}" for a in ARCHS for s in settings for b, k in batches]}
    why = optimaler_problem(optimaler)
    if why:
        section["skipped"].append(f"optimaler peer: {why}; mechjax measured alone")
        optimaler = None
    # RegretNet's hidden layer as the attack runs it: (bidders x batch) rows through 100 x 100
    shapes = sorted({(int(s.split("x")[0]) * b, 100) for s in settings for b, _ in batches} | {(1024, 1024)})
    section["matmul_peak_gflops"] = {f"{rows_}x{k}x{k}": v
                                     for (rows_, k), v in matmul_peak(shapes, torch_available()).items()}
    if not torch_available():
        section["skipped"].append("torch matmul peak: torch is not installed")
    for arch in ARCHS:
        for setting in settings:
            for batch, steps in batches:
                try:
                    section["rows"].append(measure(arch, setting, batch, steps, optimaler, repeats, block_s, log))
                except RuntimeError as error:
                    section["skipped"].append(f"{arch} {setting} {batch}/{steps}: {error}")
                    log(f"  {arch} {setting} {batch}/{steps} failed: {error}")
                if progress:
                    progress(section)
    return section


def targets(section: dict) -> list[str]:
    """Issue 13's training targets, met or missed, from the RegretNet rows."""
    lines = []
    for row in section["rows"]:
        target = TARGETS.get((row["batch"], row["attack_steps"]))
        if row["arch"] != "RegretNet" or target is None or "ratio" not in row:
            continue
        rows_ = int(row["setting"].split("x")[0]) * row["batch"]
        peak = max(section["matmul_peak_gflops"].get(f"{rows_}x100x100", {"": float("nan")}).values())
        share = row["ours_gflops"] / peak
        met = row["ratio"] >= target or share >= PEAK_FRACTION
        lines.append(f"RegretNet {row['setting']} {row['batch']}/{row['attack_steps']}: ratio {row['ratio']:.2f}x "
                     f"(target >= {target:g}x), {row['ours_gflops']:.1f} GFLOP/s = {100 * share:.0f}% of the "
                     f"measured peak {peak:.0f} for its hidden layer (alternative target >= "
                     f"{100 * PEAK_FRACTION:.0f}%): {'MET' if met else 'MISSED'}")
    return lines


def markdown(section: dict) -> list[str]:
    out = ["| net | setting | batch / attack steps | params ours / peer | ours steps/s (min-max) | "
           "peer steps/s (min-max) | ratio (pairwise min-max) | ours warm-up s / peer | ours GFLOP/s |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in section["rows"]:
        peer = r.get("peer")
        out.append(
            f"| {r['arch']} | {r['setting']} | {r['batch']} / {r['attack_steps']} | {r['ours_params']:,} / "
            + (f"{r['peer_params']:,}" if peer else "-") + " | "
            f"{r['ours']['median']:.2f} ({r['ours']['min']:.2f}-{r['ours']['max']:.2f}) | "
            + (f"{peer['median']:.2f} ({peer['min']:.2f}-{peer['max']:.2f}) | "
               f"**{r['ratio']:.2f}x** ({r['ratio_min']:.2f}-{r['ratio_max']:.2f}) | " if peer else "- | - | ")
            + f"{r['ours_warmup_s']:.1f} / " + (f"{r['peer_warmup_s']:.1f}" if peer else "-")
            + f" | {r['ours_gflops']:.1f} |")
    out += ["", "Matmul peak of this machine (GFLOP/s, best of alternating runs; a chain of `[rows, k] @ [k, k]` "
            "products, about 1 GFLOP per timed run; `rows x 100 x 100` is RegretNet's hidden layer at "
            "(bidders x batch) misreport rows):", "",
            "| shape | jax | torch |", "|---|---|---|"]
    for shape, v in section["matmul_peak_gflops"].items():
        out.append(f"| {shape} | {v.get('jax', float('nan')):.1f} | "
                   + (f"{v['torch']:.1f}" if "torch" in v else "-") + " |")
    done = {f"{r['arch']} {r['setting']} {r['batch']}/{r['attack_steps']}" for r in section["rows"]}
    failed = {s.split(":")[0] for s in section.get("skipped", [])}
    not_run = [p for p in section.get("planned", []) if p not in done and p not in failed]
    if not_run:
        out += ["", "**Not measured** (the run was stopped, or was still running when this was written): "
                + "; ".join(not_run)]
    libs = sorted({r.get("peer_library") for r in section["rows"] if r.get("peer_library")})
    if libs:
        out += ["", "Peer threads (the faster of torch's default and one thread, chosen per row after warm-up): "
                + "; ".join(libs)]
    return out
