"""Profiles per second of the batched classical voting rules against pref_voting.

    python benchmarks/bench_voting_rules.py [voters=11] [candidates=5] [batch=4096] [ref=200]
        [repeats=5] [ref_seconds=20]

Ours: each rule under ``jax.jit`` (no host validation) on ``batch`` impartial-culture profiles,
end to end (numpy rankings in, numpy winner masks out), the median of ``repeats`` timed calls
after a warm-up call (compile time reported separately).
pref_voting: the same profiles one at a time (``Profile`` construction included, as a user would
pay it), on the first ``ref`` of them (fewer if a rule exceeds ``ref_seconds``), after one
warm-up call; ``ranked_pairs`` uses its default algorithm and is skipped above 6 candidates, where
enumerating tie-breaking orders can take minutes per profile. Both sides
are checked to agree on those profiles. Not a test: numbers depend on the machine and its load.
``peers_voting.py`` measures the issue-13 setting (11 x 5, Kemeny also at 7) with ours and
pref_voting alternating, round by round; this script is for other sizes.
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from mechjax.voting import profiles, rules  # noqa: E402


def _reference():
    try:
        from pref_voting.c1_methods import copeland
        from pref_voting.iterative_methods import instant_runoff, instant_runoff_put, instant_runoff_tb
        from pref_voting.margin_based_methods import beat_path, minimax, ranked_pairs, ranked_pairs_tb
        from pref_voting.other_methods import kemeny_young
        from pref_voting.profiles import Profile
        from pref_voting.scoring_methods import borda, plurality
    except ImportError:
        return None, {}

    def cw(p):
        c = p.condorcet_winner()
        return [] if c is None else [c]
    return Profile, {
        "plurality": plurality, "borda": borda, "copeland": copeland, "maximin": minimax,
        "schulze": beat_path, "kemeny": kemeny_young, "instant_runoff": instant_runoff,
        "instant_runoff_put": instant_runoff_put, "instant_runoff_tb": instant_runoff_tb,
        "ranked_pairs": ranked_pairs, "ranked_pairs_tb": ranked_pairs_tb, "condorcet": cw}


def main(argv):
    opts = dict(voters=11, candidates=5, batch=4096, ref=200, repeats=5, ref_seconds=20)
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in opts:
            raise SystemExit(f"unknown option {key!r}; options: {sorted(opts)}")
        opts[key] = int(value)
    n, m, batch = opts["voters"], opts["candidates"], opts["batch"]
    rankings = np.asarray(profiles.impartial_culture(jax.random.key(0), batch, n, m).rankings)
    Profile, reference = _reference()
    print(f"impartial culture, {n} voters, {m} candidates; ours on {batch} profiles (jit, median of "
          f"{opts['repeats']}), pref_voting on {opts['ref']}; devices: {jax.devices()}")
    print(f"{'rule':20s} {'compile s':>10s} {'ours prof/s':>13s} {'pref_voting prof/s':>19s} {'speed-up':>9s}  agree")
    for name, rule in rules.RULES.items():
        fast = jax.jit(rule)
        t = time.perf_counter()
        ours = np.asarray(fast(rankings))
        compile_s = time.perf_counter() - t
        times = []
        for _ in range(opts["repeats"]):
            t = time.perf_counter()
            np.asarray(fast(rankings))  # end to end: the winner masks back on the host
            times.append(time.perf_counter() - t)
        ours_rate = batch / statistics.median(times)
        ref_rate, agree = float("nan"), "-"
        if name == "ranked_pairs" and m > 6:
            agree = "pref_voting skipped: it enumerates tie-breaking orders"
        elif name in reference:
            reference[name](Profile(rankings[-1].tolist()))  # warm-up (pref_voting uses numba)
            theirs, t = [], time.perf_counter()
            for r in rankings[:min(opts["ref"], batch)]:  # stop early past the time budget
                theirs.append(reference[name](Profile(r.tolist())))
                if time.perf_counter() - t > opts["ref_seconds"]:
                    break
            k = len(theirs)
            ref_rate = k / (time.perf_counter() - t)
            same = sum(sorted(np.nonzero(ours[b])[0].tolist()) == sorted(theirs[b]) for b in range(k))
            agree = f"{same}/{k}"
        print(f"{name:20s} {compile_s:10.2f} {ours_rate:13,.0f} {ref_rate:19,.0f} "
              f"{ours_rate / ref_rate:9.0f}x  {agree}", flush=True)


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):
        sys.exit(print(__doc__))
    main(sys.argv[1:])
