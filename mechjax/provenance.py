"""Where a number came from: the git commit and the hardware, for results files and run summaries."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Sequence

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_commit(paths: Sequence[str] = ()) -> str:
    """HEAD's short hash, marked when tracked files differ from it (the run used the working tree).

    Args:
        paths: where to look for uncommitted changes (relative to the repository); all tracked
            files when empty. ``"abc1234+dirty"`` without paths, otherwise the mark names them.

    Returns:
        The stamp, or ``"unknown"`` outside a git checkout.
    """
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *paths],
                               cwd=REPO_DIR, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    if not dirty:
        return head
    return head + (f" + uncommitted changes under {', '.join(paths)}" if paths else "+dirty")


def hardware() -> str:
    """CPU, core count and the JAX devices."""
    import jax
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, JAX {jax.__version__} on {devices}"
