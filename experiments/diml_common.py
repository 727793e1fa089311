"""Shared plumbing of the DIML experiment scripts: provenance header, formatting, safe writing."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

from mechjax.provenance import git_commit

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def hardware() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{os.cpu_count()}-core CPU ({model}), shared with other workers (load average at write time: "
            f"{load}); {platform.system()}")


def header(title: str, seeds, wall_s: float, notes: str = "") -> str:
    command = "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
    lines = [
        f"# {title}",
        "",
        f"- command: `{command}`",
        f"- seeds: {list(seeds)}",
        f"- commit: {git_commit(('mechjax/inverse', 'experiments'))}",
        f"- hardware: {hardware()}",
        f"- wall time: {wall_s:.0f} s",
    ]
    if notes:
        lines += ["", notes.strip()]
    return "\n".join(lines) + "\n"


def mean_sd(values, digits: int = 4) -> str:
    values = np.asarray([v for v in values if v is not None], np.float64)
    if values.size == 0:
        return "n/a"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1) if values.size > 1 else 0.0:.{digits}f}"


def write(name: str, text: str, overwrite: bool) -> str:
    """Writes ``results/<name>``; refuses to overwrite an existing file unless ``overwrite``."""
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, name)
    if os.path.exists(path) and not overwrite:
        raise SystemExit(f"{path} exists; pass --overwrite to overwrite it")
    with open(path, "w") as f:
        f.write(text)
    return path
