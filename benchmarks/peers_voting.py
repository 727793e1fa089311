"""Classical voting rules end to end against pref_voting: profiles per second and their ratio.

    python benchmarks/peers_voting.py [--quick] [--rules borda,copeland] [--rounds 7] [--rules-file F]

The work (issue #13): impartial-culture profiles of 11 voters x 5 candidates as a numpy int array
``[profiles, voters, candidates]``, winner *sets* back on the host; Kemeny also at 7 candidates.

- ours: the rule under ``jax.jit`` on the whole batch of 4,096 profiles, from the numpy array to
  a numpy winner mask (host-to-device transfer, dispatch and the copy back included). Compilation
  is the first call, reported separately as ``compile_s``. ``ours_checked_profiles_per_s`` is the
  public (un-jitted) call, which also validates every ballot on the host before dispatch.
- pref_voting: one profile at a time, building its ``Profile`` included (as a user pays it), on a
  subset of the same profiles, extrapolated per profile.
- the two sides alternate, round by round, so machine noise hits both; each side's rate is the
  median over rounds. ``agree`` counts the subset profiles whose winner sets are exactly equal.

Targets: every rule >= 1,000x pref_voting; Kemeny at 7 candidates >= 100x. Not a test: numbers
depend on the machine and its load (printed beside them). ``run`` is also called by
``benchmarks/peers.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax.voting import profiles, rules  # noqa: E402

VOTERS, CANDIDATES, PROFILES = 11, 5, 4096
TARGET = 1000.0
KEMENY_LARGE = 7  # Kemeny is also measured at 7 candidates, target KEMENY_LARGE_TARGET
KEMENY_LARGE_TARGET = 100.0


def _peer():
    """pref_voting's function for each of our rules, or None when pref_voting is not installed."""
    try:
        from pref_voting.c1_methods import copeland
        from pref_voting.iterative_methods import instant_runoff, instant_runoff_put, instant_runoff_tb
        from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs, ranked_pairs_tb
        from pref_voting.other_methods import kemeny_young
        from pref_voting.profiles import Profile
        from pref_voting.scoring_methods import borda, plurality
    except ImportError:
        return None

    def condorcet(profile):
        winner = profile.condorcet_winner()
        return [] if winner is None else [winner]

    methods = {
        "plurality": plurality, "borda": borda, "copeland": copeland, "maximin": minimax,
        "schulze": beat_path, "kemeny": kemeny_young, "instant_runoff": instant_runoff,
        "instant_runoff_put": instant_runoff_put, "instant_runoff_tb": instant_runoff_tb,
        "ranked_pairs": ranked_pairs, "ranked_pairs_tb": ranked_pairs_tb, "condorcet": condorcet}
    return {name: (lambda f: lambda ballots: f(Profile(ballots.tolist())))(f) for name, f in methods.items()}


def versions() -> dict:
    """Machine, load and library versions, for the table's header."""
    try:
        from importlib.metadata import version
        peer = version("pref_voting")
    except Exception:  # not installed
        peer = None
    return {"machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or 'cpu'}",
            "devices": str(jax.devices()), "jax": jax.__version__, "pref_voting": peer,
            "load": os.getloadavg()}


def _ours_seconds(call, rankings, calls: int) -> float:
    """Median wall time of ``calls`` end-to-end calls (numpy in, numpy winner mask out)."""
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        call(rankings)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _measure(name, rankings, peer, rounds, peer_seconds, calls):
    """One rule on one batch: alternating rounds of ours (whole batch) and the peer (a few profiles)."""
    rule = rules.RULES[name]
    fast = jax.jit(rule)  # traced input: shape checks only, no host validation

    def ours_call(r):
        return np.asarray(fast(r))

    t = time.perf_counter()
    ours = ours_call(rankings)
    compile_s = time.perf_counter() - t
    ours_times, peer_rates, theirs, peer_calls = [], [], [], 0
    np.asarray(rule(rankings))  # the public call jits its own copy: compile it before timing
    checked_times = []
    if peer is not None:
        peer(rankings[-1])  # warm-up (pref_voting compiles some helpers with numba)
    for _ in range(rounds):
        ours_times.append(_ours_seconds(ours_call, rankings, calls))
        checked_times.append(_ours_seconds(lambda r: np.asarray(rule(r)), rankings, 1))
        if peer is None:
            continue
        # each round times the peer for about peer_seconds (at least one profile), cycling through
        # the batch: a fast peer on an idle machine used to run out of profiles and time nothing
        done, t = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - t < peer_seconds:
            out = peer(rankings[peer_calls % len(rankings)])
            if peer_calls < len(rankings):
                theirs.append(out)  # the first pass is checked against ours
            peer_calls, done = peer_calls + 1, done + 1
        peer_rates.append(done / (time.perf_counter() - t))
    ours_rate = len(rankings) / statistics.median(ours_times)
    row = {"rule": name, "candidates": int(rankings.shape[-1]), "voters": int(rankings.shape[1]),
           "profiles": int(rankings.shape[0]), "ours_profiles_per_s": ours_rate,
           "ours_checked_profiles_per_s": len(rankings) / statistics.median(checked_times),
           "compile_s": compile_s, "peer_profiles": peer_calls}
    if peer is None:
        return {**row, "peer_profiles_per_s": None, "ratio": None, "agree": "pref_voting not installed"}
    peer_rate = statistics.median(peer_rates)
    same = sum(sorted(np.flatnonzero(ours[b]).tolist()) == sorted(int(c) for c in theirs[b])
               for b in range(len(theirs)))
    return {**row, "peer_profiles_per_s": peer_rate, "ratio": ours_rate / peer_rate,
            "agree": f"{same}/{len(theirs)}"}


def run(quick: bool = False, names=None, rounds: int | None = None) -> list[dict]:
    """Every classical rule (and Kemeny at 7 candidates) against pref_voting, end to end.

    Args:
        quick: a smoke-sized run (3 rounds, ~0.3 s of pref_voting per rule and round) instead of
            7 rounds of ~1.5 s.
        names: rules to measure (keys of ``mechjax.voting.rules.RULES``); all when None.
        rounds: alternating rounds per rule (overrides the default of ``quick``).

    Returns:
        One dict per rule and size: ``rule``, ``candidates``, ``voters``, ``profiles``,
        ``ours_profiles_per_s`` (jitted, end to end), ``ours_checked_profiles_per_s`` (public call
        with host validation), ``peer_profiles_per_s`` (None without pref_voting), ``ratio``,
        ``target``, ``meets_target``, ``compile_s``, ``peer_profiles`` and ``agree``
        (``"equal/compared"`` winner sets, or why nothing was compared).
    """
    names = list(rules.RULES) if names is None else list(names)
    unknown = sorted(set(names) - set(rules.RULES))
    if unknown:
        raise ValueError(f"unknown rules {unknown}; choose from {sorted(rules.RULES)}")
    rounds = rounds or (3 if quick else 7)
    peer_seconds, calls = (0.3, 3) if quick else (1.5, 5)
    peers = _peer()
    work = [(name, CANDIDATES, TARGET) for name in names]
    if "kemeny" in names:
        work.append(("kemeny", KEMENY_LARGE, KEMENY_LARGE_TARGET))
    batches = {}
    results = []
    for name, m, target in work:
        if m not in batches:
            batches[m] = np.asarray(profiles.impartial_culture(jax.random.key(0), PROFILES, VOTERS, m).rankings)
        peer = None if peers is None else peers[name]
        row = _measure(name, batches[m], peer, rounds, peer_seconds, calls)
        row["target"] = target
        row["meets_target"] = None if row["ratio"] is None else bool(row["ratio"] >= target)
        results.append(row)
    return results


def format_table(results: list[dict]) -> str:
    """The rows of ``run`` as a markdown table."""
    lines = ["| rule | candidates | compile [s] | ours [profiles/s] | ours, validated call [profiles/s] "
             "| pref_voting [profiles/s] | ratio | target | winner sets agree |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        peer = "-" if r["peer_profiles_per_s"] is None else f"{r['peer_profiles_per_s']:,.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:,.0f}x"
        mark = "" if r["meets_target"] is None else (" ok" if r["meets_target"] else " **missed**")
        lines.append(f"| {r['rule']} | {r['candidates']} | {r['compile_s']:.2f} | {r['ours_profiles_per_s']:,.0f} "
                     f"| {r['ours_checked_profiles_per_s']:,.0f} | {peer} | {ratio} | {r['target']:,.0f}x{mark} "
                     f"| {r['agree']} |")
    return "\n".join(lines)


def _load_rules(path: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location("rules_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke-sized run")
    parser.add_argument("--rules", default=None, help="comma-separated rule names (default: all)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per rule")
    parser.add_argument("--rules-file", default=None,
                        help="measure the RULES of this file instead (e.g. an older rules.py from "
                             "`git show COMMIT:mechjax/voting/rules.py`), for before/after tables")
    args = parser.parse_args(argv)
    if args.rules_file is not None:
        global rules
        rules = _load_rules(args.rules_file)
    before = versions()
    t = time.perf_counter()
    results = run(args.quick, None if args.rules is None else args.rules.split(","), args.rounds)
    after = os.getloadavg()
    print(f"impartial culture, {VOTERS} voters, {PROFILES} profiles per batch; {before['machine']}; "
          f"devices {before['devices']}; jax {before['jax']}, pref_voting {before['pref_voting']}")
    print(f"load average before {before['load'][0]:.2f} / {before['load'][1]:.2f} / {before['load'][2]:.2f}, "
          f"after {after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f}; wall time {time.perf_counter() - t:.0f} s")
    if before["pref_voting"] is None:
        print("skipped pref_voting: not installed (pip install .[peers])")
    print(format_table(results))


if __name__ == "__main__":
    main()
