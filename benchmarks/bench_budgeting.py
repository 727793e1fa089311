"""Speed (and agreement) of our MES + budget increase + greedy completion vs pabutools on every
real pabulib election.

    nice -n 10 python benchmarks/bench_budgeting.py [--timeout 600] [--rules mes_budget_increase_greedy]
        [--cache experiments/runs/pb_agreement/real.jsonl] [--data ../shared/data/pabulib]

Each (election, rule) is timed on the rule alone (no parsing) for both libraries; pabutools runs
in a child process and is stopped after ``--timeout`` seconds (recorded as a lower bound).
Records go to a JSON-lines cache (resumable; ``experiments/reproduce.py table=pb_agreement``
reads the same cache). The summary gives totals over the elections both finished, the slowest
single election of each library, and how many pabutools runs timed out.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mechjax.budgeting.agreement import cached_records, compare_real  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def summarise(records, rule):
    rows = [r for r in records if r["rule"] == rule]
    done = [r for r in rows if r["pabutools_seconds"] is not None]
    timed_out = [r for r in rows if r["pabutools_seconds"] is None and not r.get("not_run")]
    not_run = [r for r in rows if r.get("not_run")]
    ours_total = sum(r["ours_seconds"] for r in rows)
    ours_done = sum(r["ours_seconds"] for r in done)
    theirs_done = sum(r["pabutools_seconds"] for r in done)
    lines = [f"rule {rule}: {len(rows)} elections, pabutools finished {len(done)}, timed out {len(timed_out)}"
             + (f" (after {timed_out[0]['timeout']} s each)" if timed_out else "") + f", not run {len(not_run)}",
             f"  agree with pabutools on {sum(1 for r in done if r['agree'])} of {len(done)} compared"]
    ref = [r for r in rows if r.get("agree_reference") is not None]
    if ref:
        unchecked = [r for r in rows if r["agree"] is None]
        lines.append(f"  agree with the exact reference on {sum(r['agree_reference'] for r in ref)} of {len(ref)}; "
                     f"where pabutools did not finish: {sum(bool(r.get('agree_reference')) for r in unchecked)} of "
                     f"{len(unchecked)}; reference = pabutools on "
                     f"{sum(r['reference'] == r['pabutools'] for r in done if r.get('reference') is not None)} of "
                     f"{sum(1 for r in done if r.get('reference') is not None)} both ran")
    lines.append(f"  ours total {ours_total:.2f} s over all {len(rows)}; on the {len(done)} both finished: "
                 f"ours {ours_done:.2f} s, pabutools {theirs_done:.1f} s, ratio {theirs_done / max(ours_done, 1e-9):.0f}x")
    if timed_out:
        bound = theirs_done + sum(r["timeout"] for r in timed_out)
        lines.append(f"  counting each timeout as its limit (a lower bound, elections not run excluded): pabutools >= "
                     f"{bound:.1f} s, ratio >= {bound / max(ours_total, 1e-9):.0f}x")
    if rows:
        slow = max(rows, key=lambda r: r["ours_seconds"])
        lines.append(f"  our slowest: {slow['file']} ({slow['voters']} voters, {slow['projects']} projects): "
                     f"ours {slow['ours_seconds']:.2f} s, pabutools "
                     + (f"{slow['pabutools_seconds']:.1f} s" if slow["pabutools_seconds"] is not None
                        else "not run" if slow.get("not_run") else f">{slow['timeout']} s (timed out)")
                     + (f", exact reference {slow['reference_seconds']:.2f} s" if slow.get("reference_seconds") else ""))
    if done:
        slow = max(done, key=lambda r: r["pabutools_seconds"])
        lines.append(f"  pabutools's slowest finished: {slow['file']} ({slow['voters']} voters, {slow['projects']} "
                     f"projects): pabutools {slow['pabutools_seconds']:.1f} s, ours {slow['ours_seconds']:.2f} s, "
                     f"ratio {slow['pabutools_seconds'] / slow['ours_seconds']:.0f}x")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "pabulib"))
    parser.add_argument("--timeout", type=float, default=600.0, help="pabutools seconds per election and rule")
    parser.add_argument("--rules", default="mes_budget_increase_greedy")
    runs = os.path.join(ROOT, "experiments", "runs", "pb_agreement")
    parser.add_argument("--cache", default=os.path.join(runs, "real.jsonl"))
    parser.add_argument("--summary-caches", default=",".join(os.path.join(runs, c) for c in (
        "real.jsonl", "real_other_rules.jsonl")), help="with --summary-only: the pabutools caches to read")
    parser.add_argument("--reference-cache", default=os.path.join(runs, "real_reference.jsonl"),
                        help="with --summary-only: the exact reference's cache (mechjax/budgeting/exact_reference.py)")
    parser.add_argument("--limit", type=int, default=0, help="only the N smallest files (0: all)")
    parser.add_argument("--retry-timeouts", action="store_true")
    parser.add_argument("--summary-only", action="store_true", help="summarise the cache, run no pabutools")
    parser.add_argument("--remeasure-ours", action="store_true",
                        help="with --summary-only: rerun our rules now on every election (times and agreement with the "
                             "cached outcomes); without it, only where the cache lacks our time")
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(args.data, "*.pb")), key=os.path.getsize)
    if args.limit:
        paths = paths[:args.limit]
    if not paths:
        sys.exit(f"no .pb files under {args.data}")
    rules = tuple(args.rules.split(","))
    if args.summary_only:
        print(f"{len(paths)} files; caches {args.summary_caches}; reference {args.reference_cache}")
        # our rule runs now on every record with --remeasure-ours, else only where the cache has no time of ours
        records = cached_records(paths, rules, args.summary_caches.split(","), args.reference_cache,
                                 remeasure_all=args.remeasure_ours)
        for rule in rules:
            print(summarise(records, rule))
        return
    records = compare_real(paths, rules, args.timeout, args.cache, log=lambda s: print(s, flush=True),
                           retry_timeouts=args.retry_timeouts)
    for rule in rules:
        print(summarise(records, rule))


if __name__ == "__main__":
    main()
