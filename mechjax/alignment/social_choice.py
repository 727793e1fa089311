"""RLHF is a vote: which voting rule a BTL reward model implements, and what hidden context does to it.

* :func:`btl_borda_study`: BTL fitted (on the shared trainer) to the *exact* pairwise probabilities
  of many random populations orders responses as their Borda scores ``B_i = sum_{j != i} P(i > j)``.
  Why: at the optimum ``sum_j sigmoid(r_i - r_j) + 2 l2 r_i = B_i + 1/2`` (the gradient vanishes),
  and the left side is strictly increasing in ``r_i`` against any other ``r_k``, so ``r_i > r_k``
  iff ``B_i > B_k``. Independent checks: a Newton solver of the same likelihood, and the voting
  module's ``borda`` on the profile of all K! rankings weighted by their Plackett-Luce probabilities
  (a Plackett-Luce pair marginal is BTL, so that profile's Borda scores are the same ``B``).
* :func:`sixty_forty`: 60% A>B>C, 40% B>C>A: A is the Condorcet winner, BTL and Borda pick B.
* :func:`hidden_context`: responses ``a`` on a grid of [0, 1]; ``u(a) = a`` below 0.8, above it
  ``2a`` for half the annotators and ``0`` for the other half.
"""

from __future__ import annotations

import numpy as np

from mechjax.alignment import fit
from mechjax.alignment.populations import Population, pair_probabilities, ranking_probabilities

BORDA_GAP = 1e-3


def borda_scores(probs) -> np.ndarray:
    """``[..., K]``: ``sum_{j != i} P(i beats j)`` from ``probs [..., K, K]`` (diagonal 1/2)."""
    probs = np.asarray(probs)
    return probs.sum(-1) - np.diagonal(probs, axis1=-2, axis2=-1)


def newton_btl(probs, l2: float = 1e-6, iterations: int = 60) -> np.ndarray:
    """BTL rewards maximising ``sum_{i != j} P_ij log sigmoid(r_i - r_j) - l2 |r|^2`` by Newton (float64).

    An independent solver to check the trainer's fit against.
    """
    p = np.asarray(probs, np.float64)
    k = len(p)
    off = ~np.eye(k, dtype=bool)
    r = np.zeros(k)
    for _ in range(iterations):
        s = 1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))
        resid = np.where(off, p - s, 0.0)
        grad = -(resid.sum(1) - resid.sum(0)) + 2 * l2 * r
        curv = np.where(off, s * (1 - s), 0.0)
        hess = -(curv + curv.T)
        np.fill_diagonal(hess, -hess.sum(1))
        r = r - np.linalg.solve(hess + 2 * l2 * np.eye(k), grad)
    return r - r.mean()


def random_populations(seed: int, count: int, responses=(3, 8), types=(2, 5), rationality=(0.5, 3.0)):
    """``count`` random tabular populations: N(0, 1) utilities, Dirichlet(1) weights, sizes and
    rationality drawn uniformly (numpy, so that a thousand cost milliseconds)."""
    rng = np.random.default_rng(seed)
    pops = []
    for _ in range(count):
        k = int(rng.integers(responses[0], responses[1] + 1))
        t = int(rng.integers(types[0], types[1] + 1))
        weights = np.maximum(rng.dirichlet(np.ones(t)), 1e-3)
        pops.append(Population(rng.normal(size=(t, k)), weights / weights.sum(), float(rng.uniform(*rationality))))
    return pops


def agreement(rewards, borda, gap: float = BORDA_GAP) -> tuple[int, int]:
    """``(pairs compared, pairs ordered alike)`` over pairs whose Borda scores differ by more than ``gap``."""
    d_b = borda[:, None] - borda[None, :]
    d_r = rewards[:, None] - rewards[None, :]
    compared = d_b > gap
    return int(compared.sum()), int((compared & (d_r > 0)).sum())


def btl_borda_study(seed: int = 0, count: int = 1000, steps: int = 3000, voting_check: int = 200) -> dict:
    """BTL on exact probabilities vs Borda on ``count`` random populations (one batched trainer run)."""
    from mechjax.voting.rules import borda as borda_rule

    pops = random_populations(seed, count)
    kmax = max(p.num_responses for p in pops)
    probs = np.zeros((count, kmax, kmax))
    mask = np.zeros((count, kmax), bool)
    for i, p in enumerate(pops):
        k = p.num_responses
        probs[i, :k, :k] = pair_probabilities(p)
        mask[i, :k] = True
    rewards = fit.fit_exact_btl(probs, mask, steps=steps)
    rows = []
    for i, p in enumerate(pops):
        k = p.num_responses
        b = borda_scores(probs[i, :k, :k])
        compared, same = agreement(rewards[i, :k], b)
        rows.append({"K": k, "T": p.num_types, "compared": compared, "agree": same,
                     "newton_agree": agreement(newton_btl(probs[i, :k, :k]), b)[1],
                     "top_btl": int(np.argmax(rewards[i, :k])), "top_borda": int(np.argmax(b))})
    # the voting module's Borda on all K! rankings weighted by their probabilities (K <= 6)
    checked = voting_same = 0
    for i, p in enumerate(pops[:voting_check]):
        if p.num_responses > 6:
            continue
        orders, prob = ranking_probabilities(p, range(p.num_responses))
        weights = np.round(prob * 1e7).astype(np.int32)
        winners = np.asarray(borda_rule(orders[None].astype(np.int32), weights[None]))[0]
        b = borda_scores(probs[i, :p.num_responses, :p.num_responses])
        if np.sort(b)[-1] - np.sort(b)[-2] > BORDA_GAP:
            checked += 1
            voting_same += bool(winners[rows[i]["top_btl"]] and winners.sum() == 1)
    return {"rows": rows, "voting_checked": checked, "voting_same": voting_same}


def sixty_forty(steps: int = 3000) -> dict:
    """The 60/40 profile: Condorcet (voting module), Borda (voting module) and BTL winners."""
    from mechjax.voting.rules import borda as borda_rule
    from mechjax.voting.rules import condorcet

    profile = np.array([[[0, 1, 2], [1, 2, 0]]], np.int32)  # A>B>C, B>C>A
    weights = np.array([[60, 40]], np.int32)
    # every voter's three pairwise comparisons, weighted by the group size: BTL's exact likelihood
    pairs, w = [], []
    for ranking, count in zip(profile[0], weights[0]):
        for x in range(3):
            for y in range(x + 1, 3):
                pairs.append([ranking[x], ranking[y]])
                w.append(count / 100)
    rewards = fit.fit_reward(np.array(pairs), 3, "btl", weights=np.array(w), steps=steps)
    names = "ABC"
    return {"condorcet": [names[i] for i in np.flatnonzero(np.asarray(condorcet(profile, weights))[0])],
            "borda": [names[i] for i in np.flatnonzero(np.asarray(borda_rule(profile, weights))[0])],
            "btl": names[int(np.argmax(rewards))], "rewards": rewards.tolist()}


def hidden_context_population(grid: int = 101, rationality: float = 2.0, hidden: bool = True) -> tuple:
    """``(a [grid], Population)``: the 1-D example (``hidden=False``: everyone has ``u(a) = a``)."""
    a = np.linspace(0.0, 1.0, grid)
    high = a >= 0.8 - 1e-9
    u1 = np.where(high, 2 * a, a) if hidden else a
    u2 = np.where(high, 0.0, a) if hidden else a
    return a, Population(np.stack([u1, u2]), np.array([0.5, 0.5]), rationality)


def all_pairs(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair ``(i, j)`` with weight ``P(i beats j)``: the exact BTL likelihood."""
    k = pop.num_responses
    i, j = np.nonzero(~np.eye(k, dtype=bool))
    return np.stack([i, j], 1), pair_probabilities(pop)[i, j]


def _flags(r2):
    # parameter-free split: below the largest gap between sorted per-response r^2 values
    s = np.sort(r2)
    cut = np.argmax(np.diff(s))
    return r2 <= s[cut], r2 < 0.5


def _high_flags(values):
    # the same split from above: responses past the largest gap of the sorted values
    s = np.sort(values)
    cut = np.argmax(np.diff(s))
    return values > s[cut]


def _bisect(predicate, low: float, high: float, iterations: int = 30) -> float:
    # predicate(low) != predicate(high); the switch point, on a log scale
    for _ in range(iterations):
        mid = np.sqrt(low * high)
        if predicate(mid) == predicate(low):
            low = mid
        else:
            high = mid
    return float(np.sqrt(low * high))


def hidden_context_conditions(grid: int = 101, tolerance: float = 0.02, low: float = 0.1, high: float = 100.0) -> dict:
    """Where the 1-D hidden-context targets hold, from the exact pairwise probabilities (no sampling).

    The BTL order is the Borda order (:func:`btl_borda_study`), and the exact BTL rewards come from
    :func:`newton_btl` (float64), so the rationality thresholds are found by bisection:

    * ``peak_from``: the smallest rationality at which the Borda (= BTL) peak lies within
      ``tolerance`` of 0.8. Below it, every ``P(a beats b)`` is close to linear in the utility
      gap, so the Borda score tends to expected utility (``= a`` everywhere here) and peaks at 1.
    * ``minmax_until``: the largest rationality at which the min-max normalised BTL reward stays
      within ``tolerance`` of the min-max normalised Borda curve. Above it the reward (a logit) and
      the Borda score (a probability) are no longer affinely related: at the optimum
      ``sum_j sigmoid(r_i - r_j) = B_i + 1/2`` (plus the tiny l2 term), which is affine in ``r``
      only while the reward differences are small.
    * ``link_gap_max``: the largest gap between the reward's own win rate
      ``sum_j sigmoid(r_i - r_j) / (K - 1)`` and the normalised Borda score over the scanned
      rationalities: that normalisation matches at every rationality.

    ``peak_until`` / ``minmax_from`` are the scan's ends when the predicate holds all the way
    (``high`` / ``low``), else None.
    """
    norm = lambda x: (x - x.min()) / (x.max() - x.min())  # noqa: E731

    def exact(beta):
        a, pop = hidden_context_population(grid, beta)
        probs = pair_probabilities(pop)
        return a, borda_scores(probs), newton_btl(probs)

    def peak_ok(beta):
        a, b, r = exact(beta)
        return abs(a[np.argmax(r)] - 0.8) <= tolerance and np.argmax(r) == np.argmax(b)

    def minmax_ok(beta):
        _, b, r = exact(beta)
        return np.abs(norm(r) - norm(b)).max() <= tolerance

    scan = np.geomspace(low, high, 25)
    link = 0.0
    for beta in scan:
        _, b, r = exact(beta)
        implied = (1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))).sum(1) - 0.5
        link = max(link, float(np.abs(implied / (grid - 1) - b / (grid - 1)).max()))
    peaks, fits = [peak_ok(b) for b in scan], [minmax_ok(b) for b in scan]
    out = {"tolerance": tolerance, "scan": [float(low), float(high)], "link_gap_max": link,
           "peak_monotone": peaks == sorted(peaks), "minmax_monotone": fits == sorted(fits, reverse=True)}
    out["peak_from"] = _bisect(peak_ok, low, high) if peaks[-1] and not peaks[0] else (low if peaks[0] else None)
    out["minmax_until"] = _bisect(minmax_ok, low, high) if fits[0] and not fits[-1] else (high if fits[-1] else None)
    return out


def hidden_context(rationality: float = 2.0, grid: int = 101, steps: int = 2000, dpl: bool = True) -> dict:
    """BTL, Borda, expected utility and DPL on the 1-D hidden-context example."""
    a, pop = hidden_context_population(grid, rationality)
    pairs, w = all_pairs(pop)
    r = fit.fit_reward(pairs, grid, "btl", weights=w, steps=steps)
    probs = pair_probabilities(pop)
    borda = borda_scores(probs) / (grid - 1)
    expected = pop.weights @ pop.utilities
    norm = lambda x: (x - x.min()) / (x.max() - x.min())  # noqa: E731
    implied = (1.0 / (1.0 + np.exp(-(r[:, None] - r[None, :])))).sum(1) - 0.5
    out = {"rationality": rationality, "a": a.tolist(), "btl": r.tolist(), "borda": borda.tolist(),
           "expected_utility": expected.tolist(),
           "btl_peak": float(a[np.argmax(r)]), "borda_peak": float(a[np.argmax(borda)]),
           "utility_peak": float(a[np.argmax(expected)]),
           "curve_gap_minmax": float(np.abs(norm(r) - norm(borda)).max()),
           "curve_gap_implied": float(np.abs(implied / (grid - 1) - borda).max())}
    if dpl:
        truth = a >= 0.8 - 1e-9
        for head in ("mean_variance", "categorical"):
            d = fit.fit_distributional(pairs, grid, head, weights=w, steps=steps)
            gap_flag, half_flag = _flags(d["r2_per_response"])
            var_flag = _high_flags(d["variance"])
            out[head] = {"variance": d["variance"].tolist(), "r2": d["r2"],
                         "r2_per_response": d["r2_per_response"].tolist(),
                         "variance_flags_exact": bool((var_flag == truth).all()),
                         "flags_exact_gap": bool((gap_flag == truth).all()),
                         "flags_exact_half": bool((half_flag == truth).all()),
                         "flagged_from": float(a[gap_flag].min()) if gap_flag.any() else None}
        a0, control = hidden_context_population(grid, rationality, hidden=False)
        cpairs, cw = all_pairs(control)
        out["control_r2"] = fit.fit_distributional(cpairs, grid, "mean_variance", weights=cw, steps=steps)["r2"]
    return out


def plot_hidden_context(result: dict, path: str) -> None:
    """Normalised BTL reward, Borda score and expected utility over ``a``, with DPL's r^2."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = np.asarray(result["a"])
    norm = lambda x: (np.asarray(x) - np.min(x)) / (np.max(x) - np.min(x))  # noqa: E731
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(a, norm(result["btl"]), label="BTL reward (fitted)")
    axes[0].plot(a, norm(result["borda"]), "--", label="Borda score")
    axes[0].plot(a, norm(result["expected_utility"]), ":", label="expected utility")
    axes[0].axvline(0.8, color="grey", lw=0.5)
    axes[0].set(xlabel="response a", ylabel="normalised", title=f"rationality {result['rationality']}")
    axes[0].legend(fontsize=8)
    for head in ("mean_variance", "categorical"):
        if head in result:
            axes[1].plot(a, result[head]["r2_per_response"], label=f"DPL {head}")
    axes[1].axvline(0.8, color="grey", lw=0.5)
    axes[1].set(xlabel="response a", ylabel="per-response r^2", title="hidden-context diagnostic")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
