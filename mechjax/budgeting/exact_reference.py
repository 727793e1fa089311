"""An independent exact reference for MES + budget increase + greedy on approval elections.

Used by the ``pb_agreement`` table where pabutools itself would take hours (the largest real
elections): written from the rule's definition, with exact rationals (``gmpy2.mpq``), on
pabutools's own parse of the file (``parse_pabulib``), and sharing no code with
:mod:`mechjax.budgeting.mes` / :mod:`mechjax.budgeting.rules` (nothing of ours is imported). Its
semantics are pabutools's (read off pabutools's documentation and rule definitions), and it is
checked against pabutools on every election where pabutools finished.

The definitions (cost satisfaction: a voter's satisfaction from a funded project is its cost if
they approve it, else 0):

* **MES** with per-voter share ``b0``: every voter starts with ``b0``. A project is *affordable*
  while its supporters hold at least its cost in total (once not, never again: money only
  decreases). Its price factor ``rho`` is the least value with
  ``sum_{i supports p} min(b_i, rho * cost_p) = cost_p``. The affordable project of least ``rho``
  is funded (ties: least project name, as pabutools's lexicographic tie-breaking), every supporter
  pays ``min(b_i, rho * cost_p)``, repeat until nothing is affordable. Projects nobody approves, or
  costing 0, never enter (their satisfaction is 0).
* **Budget increase** (``exhaustion_by_budget_increase``, 1% steps): run MES with virtual budget
  ``B_k = B (1 + k / 100)``, i.e. ``b0 = B_k / n``, for k = 0, 1, ...; return the first outcome that
  is exhaustive (no unfunded project fits in ``B`` minus its cost), and if an outcome costs more than
  ``B`` return the previous one (the empty set for k = 0); stop past ``B (n + 1)``.
* **Greedy completion** (``greedy_utilitarian_welfare``, cost satisfaction, unless already
  exhaustive): unfunded projects by decreasing approvals (satisfaction per cost; 0 for cost 0 with
  no satisfaction, infinite for cost 0 with some), ties by name; fund each one that still fits.

Voters with identical ballots hold identical budgets throughout, so they are merged (counted).
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from gmpy2 import mpq


def election_from_file(path):
    """``(names [P], costs [P] mpq, budget mpq, groups [(project indices tuple, count)])`` from
    pabutools's parse of a pabulib file (every vote type: a ballot's projects are its approvals)."""
    from pabutools.election import parse_pabulib
    return election_from_pabutools(*parse_pabulib(path))


def election_from_pabutools(instance, profile):
    """The same tuple as :func:`election_from_file` from pabutools objects."""
    projects = sorted(instance, key=lambda p: p.name)
    index = {p.name: j for j, p in enumerate(projects)}
    counts = Counter(tuple(sorted(index[p.name] for p in ballot)) for ballot in profile)
    return ([p.name for p in projects], [mpq(p.cost) for p in projects], mpq(instance.budget_limit),
            sorted(counts.items()))


def _mes(costs, supporters, counts, share):
    """Funded project indices (in funding order) of MES with per-voter share ``share``.

    ``supporters[p]``: int array of the groups approving p; ``counts``: int array, voters per
    group. Project indices are in name order, so the least index wins a tie. Groups that have
    paid for the same projects hold the same money, so each group carries the id of its (exact)
    amount, ``value[id]``: a project's supporters are tallied per id with numpy (integers only),
    and the exact arithmetic runs over the few distinct amounts.
    """
    value = [share]  # exact money of each id
    known = {share: 0}  # money -> its id (equal amounts share one id)
    holder = np.zeros(len(counts), dtype=np.int64)  # the id of each group's money
    total = [int(counts[supporters[p]].sum()) for p in range(len(costs))]
    candidates = [p for p in range(len(costs)) if total[p] and costs[p] > 0]
    # rho never decreases for a project (money only shrinks), so the last rho computed is a lower
    # bound: projects are examined in its order and the search stops past the best rho found
    lower = {p: mpq(1, total[p]) for p in candidates}
    funded = []
    while candidates:
        best, best_rho, gone = None, None, set()
        for p in sorted(candidates, key=lambda p: (lower[p], p)):
            if best_rho is not None and lower[p] > best_rho:
                break
            # float64 weights sum integers exactly (far below 2**53 voters)
            voters = np.bincount(holder[supporters[p]], weights=counts[supporters[p]], minlength=len(value))
            held = [(value[i], int(voters[i])) for i in np.flatnonzero(voters)]
            alpha = costs[p] / total[p]  # everyone pays the same, unless someone cannot
            if min(v for v, _ in held) < alpha:
                # least alpha = rho * cost with sum_i min(b_i, alpha) = cost: walk the amounts from
                # the poorest; voters poorer than alpha pay everything they hold. alpha <= v is
                # tested as cost - paid <= rest * v (no division). If even the richest cannot
                # cover the rest, the supporters hold less than the cost: unaffordable, forever.
                paid, rest, alpha = mpq(0), total[p], None
                for v, c in sorted(held, key=lambda vc: vc[0]):
                    if costs[p] - paid <= rest * v:
                        alpha = (costs[p] - paid) / rest
                        break
                    paid += c * v
                    rest -= c
                if alpha is None:
                    gone.add(p)
                    continue
            rho = lower[p] = alpha / costs[p]
            if best_rho is None or rho < best_rho or (rho == best_rho and p < best):  # ties: least name
                best, best_rho = p, rho
        candidates = [p for p in candidates if p not in gone and p != best]
        if best is None:
            break
        alpha = best_rho * costs[best]
        remap = np.arange(len(value), dtype=np.int64)
        for i in np.unique(holder[supporters[best]]).tolist():  # each payer pays min(money, alpha)
            left = value[i] - min(value[i], alpha)
            if left not in known:
                known[left] = len(value)
                value.append(left)
            remap[i] = known[left]
        holder[supporters[best]] = remap[holder[supporters[best]]]
        funded.append(best)
    return funded


def _exhaustive(costs, budget, funded):
    left = budget - sum(costs[p] for p in funded)
    chosen = set(funded)
    return not any(p not in chosen and costs[p] <= left for p in range(len(costs)))


def _supporters(num_projects, groups):
    supporters = [[] for _ in range(num_projects)]
    for g, (ballot, _) in enumerate(groups):
        for p in ballot:
            supporters[p].append(g)
    return [np.array(s, dtype=np.int64) for s in supporters]


def _budget_increase(costs, budget, supporters, counts, calls=None):
    num_voters = int(counts.sum())
    previous = []
    if not num_voters:
        return previous
    step, virtual = budget / 100, budget
    while virtual <= budget * (num_voters + 1):
        current = _mes(costs, supporters, counts, virtual / num_voters)
        if calls is not None:
            calls.append(virtual)  # how many MES runs the completion makes (pabutools makes the same)
        if sum(costs[p] for p in current) > budget:
            return previous
        if _exhaustive(costs, budget, current) or step == 0:
            return current
        previous = current
        virtual += step
    return previous


def _greedy(costs, budget, supporters, counts, chosen):
    chosen = set(chosen)
    approvals = [int(counts[supporters[p]].sum()) for p in range(len(costs))]

    def density(p):  # satisfaction per cost: the approvals (0 when the satisfaction is 0)
        return mpq(approvals[p]) if approvals[p] * costs[p] > 0 else mpq(0)

    left = budget - sum(costs[p] for p in chosen)
    for p in sorted((p for p in range(len(costs)) if p not in chosen), key=lambda p: (-density(p), p)):
        if costs[p] <= left:
            chosen.add(p)
            left -= costs[p]
    return chosen


def outcome(rule, costs, budget, groups, calls=None):
    """Funded project indices (a set) of ``rule`` (module docstring): ``"mes_budget_increase_greedy"``,
    ``"mes"`` (plain, no completion) or ``"greedy"``; ``calls`` (a list) receives one entry per MES run."""
    counts = np.array([count for _, count in groups], dtype=np.int64)
    supporters = _supporters(len(costs), groups)
    if rule == "mes":
        num_voters = int(counts.sum())
        return set(_mes(costs, supporters, counts, budget / num_voters)) if num_voters else set()
    if rule == "greedy":
        return _greedy(costs, budget, supporters, counts, ())
    if rule != "mes_budget_increase_greedy":
        raise ValueError(f"no reference for rule {rule!r}")
    chosen = _budget_increase(costs, budget, supporters, counts, calls)
    if _exhaustive(costs, budget, chosen):  # pabutools's completion stops at an exhaustive outcome
        return set(chosen)
    return _greedy(costs, budget, supporters, counts, chosen)


def run_file(path, rule="mes_budget_increase_greedy") -> tuple:
    """``(funded project names sorted, seconds for the rule alone, MES runs made)`` on a pabulib file."""
    names, costs, budget, groups = election_from_file(path)
    calls = []
    start = time.perf_counter()
    funded = outcome(rule, costs, budget, groups, calls)
    return sorted(names[p] for p in funded), time.perf_counter() - start, len(calls)


def fill_cache(paths, rules, cache_path, log=print) -> None:
    """Appends ``{"file", "rule", "reference", "reference_seconds", "mes_runs"}`` for every (file, rule) the
    JSON-lines cache at ``cache_path`` lacks, smallest files first."""
    import json
    import os
    done = set()
    if os.path.exists(cache_path):
        with open(cache_path) as handle:
            done = {(r["file"], r["rule"]) for r in map(json.loads, filter(str.strip, handle))}
    for rule in rules:
        for path in sorted(paths, key=os.path.getsize):
            if (os.path.basename(path), rule) in done:
                continue
            funded, seconds, calls = run_file(path, rule)
            record = {"file": os.path.basename(path), "rule": rule, "reference": funded, "reference_seconds": seconds,
                      "mes_runs": calls}
            with open(cache_path, "a") as handle:
                handle.write(json.dumps(record) + "\n")
            log(f"{rule:28s} {record['file'][:60]:60s} reference {seconds:8.2f}s")


if __name__ == "__main__":
    import glob
    import sys
    folder, cache = sys.argv[1], sys.argv[2]
    fill_cache(glob.glob(f"{folder}/*.pb"), tuple(sys.argv[3:]) or ("mes_budget_increase_greedy",), cache,
               log=lambda s: print(s, flush=True))
    print("done", flush=True)
