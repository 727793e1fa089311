"""Budgeting section of ``benchmarks/peers.py``: greedy, Phragmen and MES of ``mechjax.budgeting``
against pabutools, per election, on a fixed set of real pabulib elections.

The set: the ``count`` smallest approval elections (by file size) with at least ``MIN_VOTERS``
voters and ``MIN_PROJECTS`` projects under ``../shared/data/pabulib``. Each library times the rule alone (files parsed once,
beforehand: ours by ``read_pabulib``, pabutools by its own ``parse_pabulib``), alternating ours,
pabutools, ours, pabutools per election; the rule names and runners are those of
``mechjax.budgeting.peers`` (the agreement study's), so this measures the same calls.
"""

from __future__ import annotations

import glob
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "pabulib")
RULES = ("greedy", "phragmen", "mes")
MIN_VOTERS = 1000  # real city elections, not toy ones
MIN_PROJECTS = 10


def elections(data: str, count: int) -> list[str]:
    """The fixed benchmark set (paths), smallest files first."""
    from mechjax.budgeting.pabulib import read_pabulib
    chosen = []
    for path in sorted(glob.glob(os.path.join(data, "*.pb")), key=os.path.getsize):
        election = read_pabulib(path)
        if (election.vote_type == "approval" and election.num_voters >= MIN_VOTERS
                and election.num_projects >= MIN_PROJECTS):
            chosen.append(path)
            if len(chosen) == count:
                break
    return chosen


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(quick: bool, repeats: int, data: str = DATA, log=print) -> dict:
    """Rows per rule: elections/s of each library (total time over the set), ratio, agreement."""
    from mechjax.budgeting import peers
    skipped = []
    if not os.path.isdir(data):
        return {"rows": [], "skipped": [f"budgeting: no pabulib data at {os.path.abspath(data)}"]}
    if not peers.available():
        return {"rows": [], "skipped": ["budgeting: pabutools is not installed (pip install pabutools)"]}
    from pabutools.election import parse_pabulib

    from mechjax.budgeting.pabulib import read_pabulib
    paths = elections(data, 1 if quick else 8)
    ours_in = {p: read_pabulib(p) for p in paths}
    theirs_in = {p: parse_pabulib(p) for p in paths}
    rows = []
    for rule in RULES:
        ours_total = theirs_total = 0.0
        agree = 0
        for path in paths:
            ours_times, theirs_times = [], []
            for _ in range(repeats):  # alternating, best of each
                ours_out, seconds = _timed(lambda: peers.ours(rule, ours_in[path]))
                ours_times.append(seconds)
                theirs_out, seconds = _timed(lambda: peers.run_pabutools(rule, *theirs_in[path]))
                theirs_times.append(seconds)
            ours_total += min(ours_times)
            theirs_total += min(theirs_times)
            agree += int(ours_out == theirs_out)
        row = {"rule": rule, "elections": len(paths), "ours_per_s": len(paths) / ours_total,
               "pabutools_per_s": len(paths) / theirs_total, "ratio": theirs_total / ours_total,
               "agree": agree, "ours_s": ours_total, "pabutools_s": theirs_total}
        rows.append(row)
        log(f"  {rule:9s}: ours {row['ours_per_s']:.1f} elections/s, pabutools {row['pabutools_per_s']:.1f}, "
            f"ratio {row['ratio']:.1f}x, agree {agree}/{len(paths)}")
    files = [f"{os.path.basename(p)} ({ours_in[p].num_voters} voters, {ours_in[p].num_projects} projects)"
             for p in paths]
    return {"rows": rows, "skipped": skipped, "files": files}


def markdown(section: dict) -> list[str]:
    out = ["| rule | elections | ours elections/s | pabutools elections/s | ratio | same outcome |",
           "|---|---|---|---|---|---|"]
    for r in section["rows"]:
        out.append(f"| {r['rule']} | {r['elections']} | {r['ours_per_s']:.1f} | {r['pabutools_per_s']:.2f} | "
                   f"**{r['ratio']:.1f}x** | {r['agree']}/{r['elections']} |")
    if section.get("files"):
        out += ["", "Elections (rule time only, best of the alternating runs per election; pabutools "
                "`greedy_utilitarian_welfare` / `sequential_phragmen` / `method_of_equal_shares` with cost "
                "satisfaction, no completion): " + "; ".join(section["files"])]
    return out
