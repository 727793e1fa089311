"""The Method of Equal Shares, fast in float64 and decided exactly (pabutools's semantics).

Each voter starts with an equal share ``b0`` of the (virtual) budget. A project is affordable if
its supporters' remaining money covers its cost; for an affordable project the price per unit of
satisfaction ``rho`` is the least value with ``sum_i min(b_i, rho * u_ij) = cost_j``. The project of
least ``rho`` is funded (ties in the tie-breaking order), each supporter pays ``min(b_i, rho u_ij)``,
and the rule repeats until nothing is affordable. As in pabutools, projects of zero cost that
someone supports are funded first, and projects nobody supports never enter.

Exactness. After any sequence of purchases voter ``i`` holds ``max(0, b0 - sum_k rho_k u_ik)``
(paying ``min(b, p)`` is ``b -> max(0, b - p)``, and these compose). So the exact state is ``b0``
and the exact prices ``rho_k`` of the funded projects. We run in float64, and whenever a decision
is close (two ``rho`` within ``REL_TOL``, or money within ``REL_TOL`` of a cost) we recompute the
projects involved exactly: the exact budgets of their supporters are computed per distinct
pattern of funded projects supported, from exact prices computed (lazily, once) for every
funded project in order. Voters with identical ballots are merged first (a multiplicity).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from mechjax.budgeting.ties import REL_TOL, tie_rank


class _Voters:
    """Distinct ballots with multiplicities, and per-project supporters."""

    def __init__(self, election, utilities):
        if utilities == "cost":
            matrix = election.approvals
            unique, count = np.unique(np.packbits(matrix, axis=1), axis=0, return_counts=True)
            self.coef = np.unpackbits(unique, axis=1, count=matrix.shape[1]).astype(np.int64)
            self.unit = list(election.exact_costs)  # u_ij = a_ij * cost_j
        else:
            matrix = np.round(election.scores).astype(np.int64)
            self.coef, count = np.unique(matrix, axis=0, return_counts=True)
            self.unit = [Fraction(1)] * matrix.shape[1]  # u_ij = score_ij
        self.mult = count.astype(np.int64)
        self.mult_float = self.mult.astype(np.float64)
        unit_float = np.array([float(u) for u in self.unit])
        self.supporters = [np.flatnonzero(self.coef[:, j] > 0) for j in range(matrix.shape[1])]
        self.util = [self.coef[s, j] * unit_float[j] for j, s in enumerate(self.supporters)]


def _water_fill(budgets, utils, mult, cost):
    """Float rho with sum m min(b, rho u) = cost (the caller checked sum m b >= cost)."""
    ratio = budgets / utils
    uncapped = cost / float(mult @ utils)
    if ratio.min() >= uncapped:  # nobody runs out of money: no sort needed
        return uncapped
    order = np.argsort(ratio, kind="stable")
    ratio, budgets, utils, mult = ratio[order], budgets[order], utils[order], mult[order]
    paid_before = np.concatenate(([0.0], np.cumsum(mult * budgets)[:-1]))
    util_after = np.cumsum((mult * utils)[::-1])[::-1]
    rho = (cost - paid_before) / util_after
    ok = rho <= ratio * (1 + 1e-12)
    first = int(np.argmax(ok)) if ok.any() else len(rho) - 1
    return float(rho[first])


def _exact_fill(budgets, utils, mult, cost):
    """Exact rho (Fractions), same equation; ``None`` if unaffordable."""
    items = sorted(zip(budgets, utils, mult), key=lambda t: t[0] / t[1])
    denominator = sum(u * m for _, u, m in items)
    paid = Fraction(0)
    for b, u, m in items:
        rho = (cost - paid) / denominator
        if rho * u <= b:
            return rho
        paid += b * m
        denominator -= u * m
    return None


class _Run:
    """One MES run at per-voter budget ``b0`` (exact), continuing from ``initial``."""

    def __init__(self, voters, costs, cost_float, rank, b0, funded):
        self.v, self.costs, self.cost_float, self.rank = voters, costs, cost_float, rank
        self.b0 = b0
        self.budgets = np.full(len(voters.mult), float(b0))
        self.funded_order, self.exact_rho, self.float_rho = [], [], []
        self.funded = funded

    def exact_budgets(self, groups, upto):
        """Exact budgets of voter groups ``groups`` after the first ``upto`` purchases."""
        done = self.funded_order[:upto]
        for k in range(upto):
            if self.exact_rho[k] is None:
                self.exact_rho[k] = self.exact_price(self.funded_order[k], k)
        if not done:
            return [self.b0] * len(groups), np.arange(len(groups))
        pattern, inverse = np.unique(self.v.coef[np.ix_(groups, done)], axis=0, return_inverse=True)
        pays = [self.exact_rho[k] * self.v.unit[j] for k, j in enumerate(done)]
        values = []
        for row in pattern.tolist():
            spent = sum((p * c for p, c in zip(pays, row) if c), Fraction(0))
            values.append(max(Fraction(0), self.b0 - spent))
        return values, inverse.reshape(-1)

    def exact_state(self, j, upto):
        """Exact (budget, utility, multiplicity) triples of project j's supporters, merged."""
        groups = self.v.supporters[j]
        values, inverse = self.exact_budgets(groups, upto)
        coef = self.v.coef[groups, j]
        merged = {}
        for g, (pattern, c) in enumerate(zip(inverse.tolist(), coef.tolist())):
            key = (pattern, c)
            merged[key] = merged.get(key, 0) + int(self.v.mult[groups[g]])
        return [(values[p], self.v.unit[j] * c, m) for (p, c), m in merged.items()]

    def uncapped_price(self, j):
        """Exact rho when no supporter of j runs out of money (checked with a float margin), else None.

        Then rho = cost / sum_i m_i u_ij exactly; under cost utilities that is 1 / supporters,
        so equal-support projects tie exactly, which is common.
        """
        s = self.v.supporters[j]
        total = int(self.v.mult[s] @ self.v.coef[s, j])  # int64: exact (counts x points)
        rho = self.costs[j] / (total * self.v.unit[j])
        ratio = self.budgets[s] / self.v.util[j]
        return rho if ratio.min() >= float(rho) * (1 + 4 * REL_TOL) else None

    def exact_price(self, j, upto):
        if upto == len(self.funded_order):
            rho = self.uncapped_price(j)
            if rho is not None:
                return rho
        state = self.exact_state(j, upto)
        return _exact_fill([s[0] for s in state], [s[1] for s in state], [s[2] for s in state], self.costs[j])

    def exact_affordable(self, j):
        state = self.exact_state(j, len(self.funded_order))
        return sum((b * m for b, _, m in state), Fraction(0)) >= self.costs[j]

    def run(self, candidates):
        stale = {j: 0.0 for j in candidates}
        while stale:
            best, computed, gone = np.inf, {}, []
            for j in sorted(stale, key=stale.get):
                if stale[j] > best * (1 + 2 * REL_TOL):
                    break
                s = self.v.supporters[j]
                money = float(self.v.mult_float[s] @ self.budgets[s])
                cost = self.cost_float[j]
                if money < cost * (1 - REL_TOL) or (money <= cost * (1 + REL_TOL) and not self.exact_affordable(j)):
                    gone.append(j)
                    continue
                rho = _water_fill(self.budgets[s], self.v.util[j], self.v.mult_float[s], cost)
                stale[j] = computed[j] = rho
                best = min(best, rho)
            for j in gone:
                del stale[j]
            if not computed:
                return
            close = [j for j, r in computed.items() if r <= best * (1 + 2 * REL_TOL)]
            exact = None
            if len(close) > 1:
                prices = {j: self.exact_price(j, len(self.funded_order)) for j in close}
                exact = min(prices.values())
                close = [j for j in close if prices[j] == exact]
            chosen = min(close, key=lambda j: self.rank[j])
            if exact is None:
                exact = self.uncapped_price(chosen)  # free to record now, saves a replay later
            rho = computed[chosen] if exact is None else float(exact)
            del stale[chosen]
            self.funded[chosen] = True
            self.funded_order.append(chosen)
            self.exact_rho.append(exact)
            s = self.v.supporters[chosen]
            self.budgets[s] = np.maximum(0.0, self.budgets[s] - rho * self.v.util[chosen])


def equal_shares_core(election, utilities="cost", tie_breaking="lexico", b0=None, voters=None, rank=None):
    """One MES run (no completion) at per-voter budget ``b0`` (exact; default budget / voters).

    Returns:
        ``[P]`` bool funded, and the candidate projects (positive satisfaction, positive cost).
    """
    num_voters, num_projects = election.approvals.shape
    funded = np.zeros(num_projects, dtype=bool)
    if num_voters == 0:
        return funded, []
    voters = voters or _Voters(election, utilities)
    rank = tie_rank(election, tie_breaking) if rank is None else rank
    b0 = Fraction(election.exact_budget, num_voters) if b0 is None else b0
    candidates = []
    for j in range(num_projects):
        if len(voters.supporters[j]) == 0:
            continue
        if election.exact_costs[j] == 0:
            # pabutools funds a free project upfront only if its satisfaction is positive; under
            # cost satisfaction a free project gives satisfaction 0, so it never enters
            funded[j] = utilities != "cost"
            continue
        else:
            candidates.append(j)
    _Run(voters, election.exact_costs, election.costs, rank, b0, funded).run(candidates)
    return funded, candidates
