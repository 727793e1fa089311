"""Markdown for the voting results tables (``mechjax.voting.tables``): one line per rule, learned or classical.

Every number comes from a run's ``summary.json`` written by ``mechjax.voting.evaluate``; the
"reading" lines under each table are computed from the same summaries.
"""

from __future__ import annotations

from mechjax.report import markdown_table


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.1f}"


def _size_key(row: dict) -> str:
    return f"{row['voters']}x{row['candidates']}"


def _non_empty(rows: list, columns: list) -> list:
    """The columns some row has a value for (an axiom that never applied leaves an empty column)."""
    return [c for c in columns if any(r.get(c) not in (None, "") for r in rows)]


def _common(row, seed, s: dict) -> dict:
    learned = not row.evaluate_only
    out = {"rule": row.name, "kind": "learned" if learned else "classical", "seed": seed if learned else "",
           "steps": s.get("steps") if learned else "", "train wall [s]": s.get("wall_s") if learned else "",
           "eval wall [s]": s.get("eval_wall_s", s.get("wall_s"))}
    for axiom, value in (s.get("axioms") or {}).items():
        out[axiom] = _pct(value["rate"])
    out["manipulable [%]"] = _pct(s.get("manipulability"))
    gain = (s.get("manipulation") or {}).get("mean_best_gain")
    out["mean best gain"] = "" if gain is None else f"{gain:.2e}"
    return out


def _protocol(results: list) -> str:
    s = results[0][2]
    manipulation = s.get("manipulation") or {}
    axioms = s.get("axioms") or {}
    sizes = ", ".join(f"{r['voters']} voters x {r['candidates']} candidates" for r in s.get("sizes", []))
    return "\n".join([
        f"- held-out profiles: {s.get('eval_profiles')} drawn like the training batches, evaluation seed "
        f"{s.get('eval_seed')} (no training key); fixed sizes: {sizes}",
        f"- axiom audits on {max((a['applicable'] for a in axioms.values()), default=0)} held-out profiles at the "
        "training maxima; rates in % of the profiles where the axiom applies (anonymity/neutrality/monotonicity/"
        "participation are sampled checks, so upper bounds)",
        f"- manipulability: share of {manipulation.get('profiles')} profiles where some voter gains by "
        f"misreporting by more than 1e-6 in expected utility; attacker: {manipulation.get('attacker')} (exact: "
        "every misreport is tried); a classical rule's winner set is a uniform lottery",
    ])


def render_mimicry(results: list) -> str:
    """Accuracy of learned rules against their targets, at training and larger sizes, plus audits."""
    rows, size_cols = [], []
    for row, seed, s in results:
        out = _common(row, seed, s)
        out["target"] = s.get("target")
        out["accuracy [%]"] = _pct(s.get("accuracy"))
        for size in s.get("sizes", []):
            col = f"acc. {_size_key(size)} [%]"
            if col not in size_cols:
                size_cols.append(col)
            out[col] = _pct(size.get("accuracy"))
        rows.append(out)
    axioms = [a for a in ("condorcet", "pareto", "monotonicity", "participation") if any(a in r for r in rows)]
    columns = _non_empty(rows, ["rule", "kind", "target", "seed", "accuracy [%]", *size_cols, *axioms,
                                "manipulable [%]", "mean best gain", "steps", "train wall [s]", "eval wall [s]"])
    return "\n".join([
        _protocol(results),
        "- accuracy: the rule's most likely candidate is one of the target rule's winners (ties kept)",
        "", markdown_table(rows, columns), "", *mimicry_reading(results)])


def render_welfare(results: list) -> str:
    """Welfare of learned and classical rules on the same held-out profiles."""
    rows = []
    optimum = results[0][2].get("welfare_utilitarian_optimum")
    for row, seed, s in results:
        out = _common(row, seed, s)
        for name in ("utilitarian", "egalitarian", "nash"):
            out[name] = round(s[f"welfare_{name}"], 4)
        out["% of cardinal optimum"] = f"{100 * s['welfare_utilitarian'] / s['welfare_utilitarian_optimum']:.2f}"
        for size in s.get("sizes", []):
            out[f"utilitarian {_size_key(size)}"] = round(size["welfare_utilitarian"], 4)
        rows.append(out)
    size_cols = [k for k in rows[0] if k.startswith("utilitarian ")]
    axioms = [a for a in ("condorcet", "pareto", "monotonicity", "participation") if any(a in r for r in rows)]
    columns = _non_empty(rows, ["rule", "kind", "seed", "utilitarian", "% of cardinal optimum", "egalitarian", "nash",
                                *size_cols, *axioms, "manipulable [%]", "mean best gain", "steps", "train wall [s]",
                                "eval wall [s]"])
    best = max((r for r in rows if r["kind"] == "classical"), key=lambda r: r["utilitarian"], default=None)
    learned = [r for r in rows if r["kind"] == "learned"]
    lines = [
        _protocol(results),
        "- welfare of the outcome lottery, in expected utility per voter: utilitarian = mean, egalitarian = "
        "worst-off voter, nash = mean log; cardinal optimum = the candidate with the highest mean utility "
        f"(a rule that saw utilities, not rankings, could reach it): {optimum:.4f}",
    ]
    if best is not None and learned:
        lines.append("- best classical rule on utilitarian welfare: "
                     f"{best['rule']} {best['utilitarian']}; learned: "
                     + ", ".join(f"{r['rule']} seed {r['seed']} {r['utilitarian']}" for r in learned))
    for row, seed, s in results:
        paired = s.get("best_classical_utilitarian") or {}
        if not row.evaluate_only and "difference" in paired:
            lines.append(f"- {row.name} seed {seed} minus the best classical rule ({paired['rule']}), paired on the "
                         f"same profiles: {paired['difference']:+.5f} ± {paired['difference_stderr']:.5f} (standard error)")
    classical = next((s.get("welfare_classical") for row, _, s in results if not row.evaluate_only), None) or {}
    extra = [{"rule": r, **{k: round(v, 4) for k, v in w.items()}} for r, w in
             sorted(classical.items(), key=lambda item: -item[1]["utilitarian"])]
    tail = ["", "Every classical rule on the same held-out profiles (uniform tie-breaking):", "",
            markdown_table(extra, ["rule", "utilitarian", "egalitarian", "nash"])] if extra else []
    return "\n".join([*lines, "", markdown_table(rows, columns), *tail, "", *welfare_reading(results)])


def _gain(s: dict):
    return (s.get("manipulation") or {}).get("mean_best_gain")


def _learned(results: list) -> list:
    return [(row, seed, s) for row, seed, s in results if not row.evaluate_only]


def mimicry_reading(results: list) -> list[str]:
    """Lines computed from the summaries: accuracy range, weakest mimic per size, gain vs target."""
    learned = _learned(results)
    if not learned:
        return []
    lines = ["Reading (computed from the rows above):", ""]
    accuracy = [(s["accuracy"], row.name, seed) for row, seed, s in learned if s.get("accuracy") is not None]
    if accuracy:
        low, high = min(accuracy), max(accuracy)
        lines.append(f"- accuracy at the training sizes: lowest {_pct(low[0])}% ({low[1]} seed {low[2]}), highest "
                     f"{_pct(high[0])}% ({high[1]} seed {high[2]})")
    sizes = {}
    for row, seed, s in learned:
        for size in s.get("sizes", []):
            if size.get("accuracy") is not None:
                sizes.setdefault(_size_key(size), []).append((size["accuracy"], row.name, seed))
    for size, values in sizes.items():
        low = min(values)
        lines.append(f"- {size}: lowest accuracy {_pct(low[0])}% ({low[1]} seed {low[2]})")
    targets = {row.name: _gain(s) for row, _, s in results if row.evaluate_only}
    gaps = [(abs(_gain(s) - targets[row.name]), row.name, seed) for row, seed, s in learned
            if _gain(s) is not None and targets.get(row.name) is not None]
    if gaps:
        worst = max(gaps)
        lines.append(f"- mean best manipulation gain, mimic vs its target rule: largest difference {worst[0]:.2e} "
                     f"({worst[1]} seed {worst[2]})")
    return lines


def welfare_reading(results: list) -> list[str]:
    """Lines computed from the summaries: welfare and manipulation of learned rules vs classical ones."""
    from mechjax.voting.rules import LOTTERIES
    learned = _learned(results)
    if not learned:
        return []
    lines = ["Reading (computed from the rows above):", ""]
    for row, seed, s in learned:
        lines.append(f"- {row.name} seed {seed}: utilitarian welfare {s['welfare_utilitarian']:.4f}, mean best "
                     f"manipulation gain {_fmt_gain(_gain(s))}, manipulable on {_pct(s.get('manipulability'))}% of the "
                     "profiles")
    first = learned[0]
    for row, seed, s in learned[1:]:
        a, b = _gain(first[2]), _gain(s)
        if a is not None and b:
            lines.append(f"- mean best gain, {first[0].name} / {row.name} (seed {seed}): {a / b:.3g}-fold")
    classical = [(row.name, s) for row, _, s in results if row.evaluate_only]
    deterministic = [(_gain(s), name) for name, s in classical if name not in LOTTERIES and _gain(s) is not None]
    if deterministic:
        low, high = min(deterministic), max(deterministic)
        lines.append(f"- deterministic classical rules' mean best gain: {low[0]:.2e} ({low[1]}) to {high[0]:.2e} "
                     f"({high[1]})")
    for name, s in classical:
        if name in LOTTERIES:
            lines.append(f"- {name} (a lottery): utilitarian welfare {s['welfare_utilitarian']:.4f}, mean best gain "
                         f"{_fmt_gain(_gain(s))}, manipulable on {_pct(s.get('manipulability'))}% of the profiles")
            for size in s.get("sizes", []):
                versus = ", ".join(f"{row.name} {entry['welfare_utilitarian']:.4f}" for row, _, ls in learned
                                   for entry in ls.get("sizes", []) if _size_key(entry) == _size_key(size))
                lines.append(f"  - at {_size_key(size)}: {size['welfare_utilitarian']:.4f} (learned: {versus})")
    return lines


def _fmt_gain(gain) -> str:
    return "n/a" if gain is None else f"{gain:.2e}"
