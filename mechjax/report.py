"""Plain-text tables for the console and for experiments/results/."""

from __future__ import annotations

import os


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return str(value)


def summary_table(summary: dict, title: str = "summary") -> str:
    """A short aligned table of the headline numbers of a run or evaluation."""
    rows = [("revenue", summary.get("revenue")), ("regret (strong attacker)", summary.get("regret")),
            ("regret max", summary.get("regret_max")), ("IR violation", summary.get("ir_violation")),
            ("steps", summary.get("steps")), ("wall time [s]", summary.get("wall_s")),
            ("run directory", summary.get("run_dir"))]
    if "welfare_utilitarian" in summary:  # a voting rule
        axioms = summary.get("axioms") or {}
        best = summary.get("best_classical_utilitarian") or {}
        rows[:4] = [("accuracy vs target", summary.get("accuracy")),
                    ("utilitarian welfare", summary.get("welfare_utilitarian")),
                    (f"best classical ({best.get('rule')})" if best else "best classical", best.get("welfare")),
                    *((f"{a} satisfaction", v["rate"]) for a, v in axioms.items()),
                    ("manipulable (exhaustive)", summary.get("manipulability"))]
    attack = summary.get("attack")
    if isinstance(attack, dict):
        rows.insert(4, ("attacker", f"{attack.get('steps')} steps x {1 + attack.get('restarts', 0) + attack.get('grid_init', 0)}"
                                    f" starts, grid {attack.get('grid') if attack.get('grid_used') else 'off'}"))
    if summary.get("revenue_exceeds_optimum"):
        rows.insert(1, ("WARNING", f"revenue exceeds the optimum {summary.get('optimal_revenue')} by more "
                                   "than regret explains: the attacker missed deviations"))
    rows = [(k, v) for k, v in rows if v is not None]
    width = max(len(k) for k, _ in rows)
    lines = [f"== {title} ==", *(f"{k.ljust(width)}  {_fmt(v)}" for k, v in rows)]
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
