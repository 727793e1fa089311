"""Agreement with pabutools on real and random elections, and the timings behind the benchmark.

pabutools runs in a child process (so a per-election timeout can stop it cleanly) on its own
parse of the file (``parse_pabulib``), which also checks our reader; our rules run on
:func:`~mechjax.budgeting.pabulib.read_pabulib`'s election. Results are appended to a JSON-lines
cache, one line per (file, rule), so long studies resume where they stopped.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time

import numpy as np

from mechjax.budgeting import peers
from mechjax.budgeting.pabulib import read_pabulib

RULES = ("mes_budget_increase_greedy", "greedy", "phragmen", "mes")
APPROVAL_ONLY = ("phragmen",)  # pabutools's Phragmén takes approval profiles only


def _child(path, rule, satisfaction, queue, multiprofile=False):
    from pabutools.election import parse_pabulib
    instance, profile = parse_pabulib(path)
    if multiprofile:
        profile = profile.as_multiprofile()
    start = time.perf_counter()
    funded = peers.run_pabutools(rule, instance, profile, satisfaction)
    queue.put((sorted(funded), time.perf_counter() - start))


def run_pabutools_file(path, rule, satisfaction="cost", timeout=None, multiprofile=False):
    """``(funded ids or None, seconds or None)``: pabutools on the file, None past ``timeout``.

    ``multiprofile``: pabutools runs on ``profile.as_multiprofile()`` (identical ballots merged with
    a multiplicity, which pabutools's rules accept as they accept a profile). pabutools's greedy,
    MES and budget increase depend on the voters only through sums over ballots weighted by
    multiplicity (identical ballots always hold identical budgets), and its tie-breaking looks at
    projects only, so the outcome is the same; it is faster where many ballots repeat.
    """
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(path, rule, satisfaction, queue, multiprofile), daemon=True)
    child.start()
    try:
        funded, seconds = queue.get(timeout=timeout)
    except Exception:  # queue.Empty on timeout, or the child died
        funded, seconds = None, None
    child.join(1)
    if child.is_alive():
        child.kill()
        child.join()
    return funded, seconds


def compare_file(path, rule, timeout=None, satisfaction="cost", multiprofile=False) -> dict:
    """One (file, rule) record: our and pabutools's funded sets and seconds (rule only, no parsing)."""
    election = read_pabulib(path)
    start = time.perf_counter()
    ours = sorted(peers.ours(rule, election, satisfaction))
    ours_seconds = time.perf_counter() - start
    theirs, theirs_seconds = run_pabutools_file(path, _pabutools_rule(rule, election), satisfaction, timeout,
                                                multiprofile)
    return {"file": os.path.basename(path), "rule": rule, "voters": election.num_voters,
            "projects": election.num_projects, "vote_type": election.vote_type,
            "ours": ours, "ours_seconds": ours_seconds, "pabutools": theirs,
            "pabutools_seconds": theirs_seconds, "timeout": timeout,
            "pabutools_profile": "multiprofile" if multiprofile else "profile",
            "agree": None if theirs is None else ours == theirs}


def load_cache(cache_path) -> dict:
    """``{(file, rule): record}`` from a JSON-lines cache (missing file: empty)."""
    records = {}
    if os.path.exists(cache_path):
        with open(cache_path) as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    records[(record["file"], record["rule"])] = record
    return records


def compare_real(paths, rules=RULES, timeout=None, cache_path=None, log=print, retry_timeouts=False,
                 multiprofile=False) -> list:
    """Records for every (file, rule), computing those the cache lacks (smallest files first).

    A record whose pabutools run timed out is recomputed only if ``retry_timeouts`` and the new
    ``timeout`` is longer.
    """
    cache = load_cache(cache_path) if cache_path else {}
    out = []
    for rule in rules:
        for path in sorted(paths, key=os.path.getsize):
            key = (os.path.basename(path), rule)
            record = cache.get(key)
            stale = record is not None and retry_timeouts and record["pabutools"] is None and (
                timeout is None or (record["timeout"] or 0) < timeout)
            if record is None or stale:
                election_type = read_pabulib(path).vote_type if rule in APPROVAL_ONLY else "approval"
                if election_type not in ("approval", "choose-1"):
                    continue
                record = compare_file(path, rule, timeout, multiprofile=multiprofile)
                if cache_path:
                    os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
                    with open(cache_path, "a") as handle:
                        handle.write(json.dumps(record) + "\n")
                log(f"{rule:28s} {record['file'][:60]:60s} ours {record['ours_seconds']:8.3f}s  "
                    f"pabutools {record['pabutools_seconds'] if record['pabutools_seconds'] is not None else float('nan'):9.2f}s  "
                    f"agree {record['agree']}")
            out.append(record)
    return out


def _pabutools_rule(rule, election):
    """The pabutools rule to compare ``rule`` with on ``election``.

    pabutools's budget increase never ends when the budget is 0: its step is 1% of the budget, so the
    virtual budget never moves (pabutools 1.1; seen on random elections). With a budget of 0 no
    increase is possible without exceeding the real budget, so MES + budget increase + greedy is, by
    definition, MES + greedy there, and pabutools's MES + greedy is what is compared.
    """
    if rule == "mes_budget_increase_greedy" and election.exact_budget == 0:
        return "mes_greedy"
    return rule


def compare_random(count, seed=0, max_voters=30, max_projects=10, cardinal=False,
                   rules=("greedy", "phragmen", "mes", "mes_greedy", "mes_budget_increase_greedy"),
                   cache_path=None, log=None) -> dict:
    """``{rule: (agreeing, compared)}`` on ``count`` random tie-heavy elections.

    Election ``i`` is the ``i``-th drawn from ``numpy.random.default_rng(seed)`` by
    :func:`~mechjax.budgeting.synthetic.random_election` (so any one can be redrawn). With
    ``cache_path``, each election's outcome per rule is appended to a JSON-lines cache keyed by
    (seed, sizes, cardinal, index), and a rerun reuses it: long studies resume where they stopped.
    """
    from mechjax.budgeting.synthetic import random_election
    rules = tuple(r for r in rules if not (cardinal and r == "phragmen"))  # pabutools's Phragmen: approvals only
    key = {"seed": seed, "max_voters": max_voters, "max_projects": max_projects, "cardinal": cardinal}
    cached = {}
    if cache_path and os.path.exists(cache_path):
        with open(cache_path) as handle:
            for line in handle:
                record = json.loads(line) if line.strip() else None
                if record and all(record.get(k) == v for k, v in key.items()) and set(rules) <= set(record["same"]):
                    cached[record["index"]] = record["same"]
    rng = np.random.default_rng(seed)
    tally = {rule: [0, 0] for rule in rules}
    satisfaction = "scores" if cardinal else "cost"
    for index in range(count):
        election = random_election(rng, max_voters, max_projects, cardinal=cardinal)  # drawn even when cached
        same = cached.get(index)
        if same is None:
            instance, profile = peers.to_pabutools(election)
            same = {rule: peers.ours(rule, election, satisfaction) == peers.run_pabutools(
                        _pabutools_rule(rule, election), instance, profile, satisfaction)
                    for rule in rules}
            if cache_path:
                os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
                with open(cache_path, "a") as handle:
                    handle.write(json.dumps({**key, "index": index, "voters": election.num_voters,
                                             "projects": election.num_projects, "same": same,
                                             "budget_zero": election.exact_budget == 0}) + "\n")
            if log and (index + 1) % 50 == 0:
                log(f"random {key}: {index + 1}/{count}")
        for rule in rules:
            tally[rule][0] += int(same[rule])
            tally[rule][1] += 1
    return {rule: tuple(v) for rule, v in tally.items() if v[1]}


def merge_records(paths, rules, pabutools_records, reference_records=None) -> list:
    """One record per (file, rule) over ``paths`` (Phragmén: approval-type files only): the cached
    pabutools record where there is one, else a stub with ``pabutools=None`` (not run), each with
    ``reference`` / ``reference_seconds`` from the independent exact reference's cache (or None)."""
    reference_records = reference_records or {}
    out = []
    for rule in rules:
        for path in sorted(paths, key=os.path.getsize):
            name = os.path.basename(path)
            record = pabutools_records.get((name, rule))
            if record is None:
                if rule in APPROVAL_ONLY and read_pabulib(path).vote_type not in ("approval", "choose-1"):
                    continue
                record = {"file": name, "rule": rule, "pabutools": None, "pabutools_seconds": None, "timeout": None,
                          "agree": None, "not_run": True}
            record = dict(record)
            reference = reference_records.get((name, rule))
            record["reference"] = reference["reference"] if reference else None
            record["reference_seconds"] = reference["reference_seconds"] if reference else None
            out.append(record)
    return out


def cached_records(paths, rules, pabutools_caches, reference_cache, remeasure_all: bool = True) -> list:
    """:func:`merge_records` over the JSON-lines caches, with our rule rerun now (:func:`remeasure`) on
    every record, or only where the cache lacks our time when ``remeasure_all`` is false; every record
    then has ``agree`` and ``agree_reference``."""
    pabutools = {}
    for cache in pabutools_caches:
        pabutools.update(load_cache(cache))
    records = merge_records(paths, rules, pabutools, load_cache(reference_cache))
    remeasure([r for r in records if remeasure_all or "ours_seconds" not in r],
              {os.path.basename(p): p for p in paths})
    for r in records:
        r.setdefault("agree_reference", None if r.get("reference") is None else r["ours"] == r["reference"])
    return records


def remeasure(records, by_name, repeats: int = 2) -> None:
    """Reruns our rule for every record now (best of ``repeats``), updating its funded set, time,
    size and agreement with the cached pabutools outcome and with the reference's (so cached
    records reflect the current code)."""
    for record in records:
        election = read_pabulib(by_name[record["file"]])
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ours = sorted(peers.ours(record["rule"], election))
            times.append(time.perf_counter() - start)
        record["ours"], record["ours_seconds"] = ours, min(times)
        record["voters"], record["projects"] = election.num_voters, election.num_projects
        record["agree"] = None if record.get("pabutools") is None else ours == record["pabutools"]
        record["agree_reference"] = None if record.get("reference") is None else ours == record["reference"]


def main(argv=None) -> None:
    """Fills a cache in the background, e.g. (from the repository root)::

        nohup nice -n 15 python -m mechjax.budgeting.agreement --cache experiments/runs/pb_agreement/real.jsonl \\
            --rules mes_budget_increase_greedy --multiprofile --retry-timeouts &
    """
    import argparse
    import glob
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--rules", nargs="+", default=list(RULES))
    parser.add_argument("--data", default=None, help="folder of .pb files (default: ../shared/data/pabulib)")
    parser.add_argument("--timeout", type=float, default=0.0, help="seconds per election and rule (0: none)")
    parser.add_argument("--multiprofile", action="store_true")
    parser.add_argument("--retry-timeouts", action="store_true")
    parser.add_argument("--random", type=int, default=0, metavar="COUNT",
                        help="instead of the real elections: COUNT random tie-heavy ones (see compare_random)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-voters", type=int, default=30)
    parser.add_argument("--max-projects", type=int, default=10)
    parser.add_argument("--cardinal", action="store_true")
    args = parser.parse_args(argv)
    if args.random:
        tally = compare_random(args.random, args.seed, args.max_voters, args.max_projects, args.cardinal,
                               cache_path=args.cache, log=lambda s: print(s, flush=True))
        print(tally, "done", flush=True)
        return
    if args.data is None:
        from mechjax.budgeting.problem import default_data_dir
        args.data = default_data_dir()
    paths = sorted(glob.glob(os.path.join(args.data, "*.pb")))
    compare_real(paths, tuple(args.rules), args.timeout or None, args.cache, log=lambda s: print(s, flush=True),
                 retry_timeouts=args.retry_timeouts, multiprofile=args.multiprofile)
    print("done", flush=True)


if __name__ == "__main__":
    main()
