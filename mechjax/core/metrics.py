"""Run-directory logging: one JSON line per logged chunk, truncated on resume."""

from __future__ import annotations

import json
import math
import os
from typing import Iterable, Optional

import numpy as np


def to_python(metrics: dict) -> dict:
    """Per-replica arrays -> floats (the mean over replicas) plus ``<name>_seeds`` lists when >1 replica."""
    out = {}
    for name, value in metrics.items():
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        out[name] = float(arr.mean())
        if arr.size > 1:
            out[f"{name}_seeds"] = [float(v) for v in arr]
    return out


def first_non_finite(metrics: dict) -> Optional[str]:
    """Name of the first metric with a non-finite value in any replica, or None."""
    for name, value in metrics.items():
        if not np.all(np.isfinite(np.asarray(value))):
            return name
    return None


class MetricsLog:
    """Appends JSON lines to ``path``; :meth:`truncate` drops lines past a resumed step."""

    def __init__(self, path: str):
        self.path = path

    def read(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate(self, max_step: int) -> list[dict]:
        """Keeps the lines with ``step <= max_step`` (rewritten atomically); returns them."""
        kept = [row for row in self.read() if row["step"] <= max_step]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            for row in kept:
                f.write(json.dumps(row) + "\n")
        os.replace(tmp, self.path)
        return kept

    def append(self, row: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                for k, v in row.items()}) + "\n")

    def extend(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.append(row)
