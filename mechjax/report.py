"""Plain-text tables for the console and for experiments/results/."""

from __future__ import annotations

import os

import numpy as np


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return str(value)


class SeedValue(float):
    """A mean over seeds that remembers the per-seed values (for the console table only)."""

    values: tuple = ()

    def __new__(cls, mean: float, values):
        obj = super().__new__(cls, mean)
        obj.values = tuple(values)
        return obj


def _with_seed_values(mean, per_seed: list):
    """``mean`` (a combined summary) with every number that varies by seed a :class:`SeedValue`."""
    if isinstance(mean, dict):
        return {k: (_with_seed_values(v, [s.get(k) if isinstance(s, dict) else None for s in per_seed])
                    if all(isinstance(s, dict) and k in s for s in per_seed) else v)
                for k, v in mean.items()}
    if isinstance(mean, list) and all(isinstance(s, list) and len(s) == len(mean) for s in per_seed):
        return [_with_seed_values(m, [s[i] for s in per_seed]) for i, m in enumerate(mean)]
    if (isinstance(mean, (int, float)) and not isinstance(mean, bool) and len(set(per_seed)) > 1
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in per_seed)):
        return SeedValue(float(mean), per_seed)
    return mean


def _fmt_cell(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_fmt_cell(v) for v in value) + "]"
    if isinstance(value, SeedValue):
        arr = np.asarray(value.values, dtype=float)
        seeds = ", ".join(_fmt(float(v)) for v in arr)
        return (f"{_fmt(float(value))} ± {_fmt(float(arr.std()))} (min {_fmt(float(arr.min()))}, "
                f"max {_fmt(float(arr.max()))}; seeds: {seeds})")
    return _fmt(value)


def summary_table(summary: dict, title: str = "summary") -> str:
    """A short aligned table of the headline numbers of a run or evaluation.

    The rows come from the problem kind's ``registry.SUMMARY_ROWS`` hook (``summary["kind"]``),
    then the generic ones: steps, training and evaluation wall time, run directory, notes. With
    several seeds (``summary["per_seed"]``) every number that differs between seeds shows
    mean ± std, min, max and each seed's value.
    """
    from mechjax import registry
    view = _with_seed_values(summary, summary["per_seed"]) if summary.get("per_seed") else summary
    hook = registry.SUMMARY_ROWS.get(summary.get("kind"))
    rows = list(hook(view)) if hook else []
    if summary.get("per_seed"):
        rows.append(("seeds", len(summary["per_seed"])))
    rows += [("steps", summary.get("steps")),
             ("training wall time [s]", summary.get("train_wall_s")),
             ("evaluation wall time [s]", summary.get("eval_wall_s")),
             ("run directory", summary.get("run_dir")),
             ("note", summary.get("note"))]
    rows = [(k, v) for k, v in rows if v is not None]
    width = max((len(k) for k, _ in rows), default=0)
    lines = [f"== {title} ==", *(f"{k.ljust(width)}  {_fmt_cell(v)}" for k, v in rows)]
    return "\n".join(lines)


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A GitHub-flavoured markdown table of ``rows`` restricted to ``columns``."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def write_text(path: str, text: str) -> str:
    """Writes a results file (parent folders made), ending in exactly one newline; returns ``path``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")
    return path
