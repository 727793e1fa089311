"""How strong is the relaxed-ballot manipulation search? Recall against the exhaustive search.

On impartial-culture profiles every voter's best single-voter misreport is searched by the
exhaustive search over all m! ballots (the truth), the naive attacker (the training-time
``Adversary``: 25 Adam steps, one random start, rounded), the relaxed search
(:mod:`mechjax.voting.relaxed_search`, default settings) and two ablations (gradient only; no
gradient). Mechanisms: softmax-Borda at a few temperatures, and trained learned rules. Above the
exhaustive limit the softmax-Borda rule keeps an exact reference in closed form; a learned rule's
reference there is the best gain any attacker found.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable, Optional

import jax
import numpy as np

from mechjax.report import markdown_table
from mechjax.voting import manipulation, profiles
from mechjax.voting.evaluate import as_ranking_rule
from mechjax.voting.relaxed_search import RelaxedSearch, relaxed_manipulation
from mechjax.voting.studies.recall import ATOL, naive_attack, recall, softmax_borda, softmax_borda_exact

ATTACKERS = {
    "relaxed search (default)": RelaxedSearch(),
    "ablation: gradient only": RelaxedSearch(structured=False, local_rounds=0),
    "ablation: no gradient": RelaxedSearch(steps=0),
}
NET_ATTACKERS = ("relaxed search (default)", "ablation: no gradient")  # the gradient-only ablation is slow on nets
NAIVE = "naive: training Adversary (25 steps, 1 random start), rounded"
DEFAULT = "relaxed search (default)"


def _attack_all(name: str, mechanism: Callable, rankings: np.ndarray, key, exact: Optional[np.ndarray],
                exact_label: str, exact_wall: float, learned: bool) -> list[dict]:
    """Rows for every attacker; ``exact=None``: no exhaustive reference, compare with the best found."""
    found = []
    started = time.perf_counter()
    gain, relaxed_gain = naive_attack(mechanism, rankings, key)
    found.append((NAIVE, gain, time.perf_counter() - started,
                  {"relaxed gain it believes": round(float(relaxed_gain.max(-1).mean()), 5)}))
    for label, search in ATTACKERS.items():
        if learned and label not in NET_ATTACKERS:
            continue
        started = time.perf_counter()
        result = relaxed_manipulation(mechanism, rankings, key=key, search=search)
        found.append((label, result.gain, time.perf_counter() - started, {}))
        print(name, label, f"{found[-1][2]:.1f} s", flush=True)
    if exact is None:
        exact = np.max([np.maximum(g, 0) for _, g, _, _ in found], axis=0)
    base = {"mechanism": name, "candidates": rankings.shape[-1], "profiles": rankings.shape[0]}
    rows = [{**base, "attacker": exact_label, **recall(exact, exact), "wall [s]": round(exact_wall, 1)}]
    for label, gain, wall, extra in found:
        rows.append({**base, "attacker": label, **recall(gain, exact), "wall [s]": round(wall, 1), **extra})
    return rows


def relaxed_attack_study(seed: int, options: dict, nets: dict[str, Callable]) -> tuple[str, dict]:
    """Runs the study (``options``: see ``mechjax.voting.tables``); ``nets``: label -> learned rule."""
    voters, sizes, big = options["voters"], options["sizes"], options["big"]
    big_net_profiles = min(options["big_net_profiles"], options["big_profiles"])
    started, load_start = time.perf_counter(), os.getloadavg()
    key = jax.random.key(seed)
    rules = {**{f"softmax-Borda T={t}": softmax_borda(t) for t in options["temperatures"]}, **nets}
    rows = []
    for name, mechanism in rules.items():
        learned = name in nets
        for m in sizes:
            k_profiles, k_attack = jax.random.split(jax.random.fold_in(key, m))
            count = options["net_profiles"] if learned else options["profiles"]
            rankings = np.asarray(profiles.impartial_culture(k_profiles, count, voters, m).rankings)
            t = time.perf_counter()
            exact = manipulation.single_voter_manipulation(jax.jit(as_ranking_rule(mechanism)), rankings).gain
            rows += _attack_all(name, mechanism, rankings, k_attack, exact, f"exhaustive: all {m}! ballots",
                                time.perf_counter() - t, learned)
    if big:
        k_profiles, k_attack = jax.random.split(jax.random.fold_in(key, big))
        rankings = np.asarray(profiles.impartial_culture(k_profiles, options["big_profiles"], voters, big).rankings)
        for temperature in options["temperatures"]:
            t = time.perf_counter()
            exact = softmax_borda_exact(rankings, temperature)
            rows += _attack_all(f"softmax-Borda T={temperature}", softmax_borda(temperature), rankings, k_attack,
                                exact, f"exhaustive in closed form: all {big}! ballots", time.perf_counter() - t, False)
        for name, mechanism in nets.items():  # no exact reference: the best any attacker found
            rows += _attack_all(name, mechanism, rankings[:big_net_profiles], k_attack, None,
                                "reference: best of the attackers below (no exhaustive search)", 0.0, True)
    load = {"start": round(load_start[0], 1), "end": round(os.getloadavg()[0], 1),
            "wall_s": round(time.perf_counter() - started, 1)}
    return _render(rows, seed, options, load), {"rows": rows, "load_average": load}


def _pick(rows: list, setting: tuple, attacker: str) -> Optional[dict]:
    return next((r for r in rows if (r["mechanism"], r["candidates"]) == setting and r["attacker"] == attacker), None)


def _reference(rows: list, setting: tuple) -> dict:
    """A setting's first row: the exhaustive search, or the best-found reference where there is none."""
    return next(r for r in rows if (r["mechanism"], r["candidates"]) == setting)


def _reading(rows: list) -> list[str]:
    lines = []
    settings = list(dict.fromkeys((r["mechanism"], r["candidates"]) for r in rows))  # in table order
    overstated = 0
    for setting in settings:
        naive, ours = _pick(rows, setting, NAIVE), _pick(rows, setting, DEFAULT)
        reference = _reference(rows, setting)
        best = reference["mean best gain"]
        overstated += naive["relaxed gain it believes"] > best
        optimum = "best known gain" if reference["attacker"].startswith("reference") else "exhaustive optimum"
        lines.append(f"- {setting[0]}, m={setting[1]}: relaxed search vs naive: manipulable voters found "
                     f"{ours['voters found']} vs {naive['voters found']}, at their {optimum} "
                     f"{ours['voters at optimum']} vs {naive['voters at optimum']}, fraction of each voter's best gain "
                     f"{ours['voter gain fraction']} vs {naive['voter gain fraction']}; the naive attacker believes it "
                     f"gains {naive['relaxed gain it believes']} on relaxed ballots (mean best real gain: reference "
                     f"{best}, relaxed search {ours['mean best gain']}, naive {naive['mean best gain']})")
    gradient = [f"{mech.split(' (')[0]} m={m}: {_pick(rows, (mech, m), DEFAULT)['voters at optimum']} vs "
                f"{_pick(rows, (mech, m), 'ablation: no gradient')['voters at optimum']}" for mech, m in settings]
    exact = {s for s in settings if not _reference(rows, s)["attacker"].startswith("reference")}
    exact_rows = [r for r in rows if (r["mechanism"], r["candidates"]) in exact]
    return [*lines, "", "Reading (computed from the rows above):", "",
            f"- soundness: {sum(r['above exhaustive'] for r in exact_rows)} reported gains (all attackers, all settings "
            "with an exhaustive reference) exceed the exhaustive search's (must be 0)",
            "- a profile needs only one manipulable voter, so profile-level recall hides weak attackers; the "
            "per-voter columns ('voters found', 'voters at optimum', 'voter gain fraction') separate them",
            f"- the naive attacker's relaxed gain exceeds the reference best real gain in {overstated} of "
            f"{len(settings)} settings",
            "- 'voters at optimum', default vs no-gradient ablation: " + "; ".join(gradient)]


def _render(rows: list, seed: int, options: dict, load: dict) -> str:
    columns = ["mechanism", "candidates", "profiles", "attacker", "exhaustive manipulable", "profiles found",
               "voters found", "voters at optimum", "voter gain fraction", "mean best gain ratio", "mean best gain",
               "relaxed gain it believes", "above exhaustive", "wall [s]"]
    big = options["big"]
    return "\n".join([
        f"- profiles: impartial culture, {options['voters']} voters, key `fold_in(key({seed}), m)` split into "
        f"profiles and attack keys; {options['profiles']} profiles per size for softmax-Borda, "
        f"{options['net_profiles']} for learned rules"
        + (f", {options['big_profiles']} at m={big} ({min(options['big_net_profiles'], options['big_profiles'])} of "
           "them for learned rules, whose reference there is the best gain any attacker found, since the exhaustive "
           f"search is too slow for a network at m! = {math.factorial(big)} ballots)" if big else "")
        + "; the gradient-only ablation is not run on learned rules (time)",
        f"- relaxed search settings (default): `{ATTACKERS[DEFAULT]}`",
        f"- utilities: Borda utilities (m-1-pos)/(m-1) of the sincere ranking; a manipulation is a gain > {ATOL}; "
        f"'voters at optimum': the found gain is within {ATOL} of the exhaustive best",
        "- 'profiles found' / 'voters found': fraction of the exhaustively manipulable profiles / voters in which "
        "the attacker finds a real manipulation; 'voter gain fraction': mean over the exhaustively manipulable "
        "voters of the fraction of the voter's exhaustive best gain found; 'mean best gain ratio': mean over "
        "profiles of the best voter's real gain, relative to the exhaustive search's; 'above exhaustive': gains "
        "the exhaustive search contradicts (must be 0); every relaxed-search gain is the exact gain of a real ballot",
        f"- load average: {load['start']} at start, {load['end']} at end (wall times grow with the load)",
        "", markdown_table(rows, columns), "", *_reading(rows),
    ])
