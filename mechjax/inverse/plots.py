"""The figure an inverse run directory gets: training NLL and recovered against true payoffs."""

from __future__ import annotations

import numpy as np

from mechjax.inverse import metrics

MAX_POINTS = 4000  # scatter points drawn (a random subset of held-out contexts x agents x actions)


def payoff_recovery(path: str, estimate, problem, history: list[dict]) -> str:
    """Writes ``path``: the training NLL against the outer step and, when ``problem.truth`` is
    known, the estimate's gauge-fixed payoffs against the truth's on held-out contexts."""
    from mechjax.plot import _pyplot

    plt = _pyplot()
    panels = 2 if problem.truth is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.8), constrained_layout=True)
    axes = np.atleast_1d(axes)
    steps = [row["step"] for row in history if "nll" in row]
    axes[0].plot(steps, [row["nll"] for row in history if "nll" in row], marker="o", markersize=3)
    axes[0].set_xlabel("outer step")
    axes[0].set_ylabel("NLL per agent-step (training windows)")
    axes[0].set_title("training likelihood")
    axes[0].grid(alpha=0.3)
    if problem.truth is not None:
        contexts = np.asarray(problem.heldout if problem.heldout is not None else problem.actions)
        contexts = contexts.reshape(-1, contexts.shape[-1])[:MAX_POINTS]
        true = np.asarray(metrics.gauge_fixed_payoffs(problem.truth, contexts)).reshape(-1)
        learned = np.asarray(metrics.gauge_fixed_payoffs(estimate, contexts)).reshape(-1)
        pick = np.random.default_rng(0).permutation(true.size)[:MAX_POINTS]
        ax = axes[1]
        ax.scatter(true[pick], learned[pick], s=4, alpha=0.3)
        low, high = float(min(true.min(), learned.min())), float(max(true.max(), learned.max()))
        ax.plot([low, high], [low, high], color="black", linewidth=1, label="identity")
        correlation = metrics.payoff_difference_correlation(problem.truth, estimate, contexts)
        ax.set_xlabel("true payoff - mean over own actions")
        ax.set_ylabel("learned payoff - mean over own actions")
        ax.set_title(f"held-out contexts (correlation {correlation:.3f})")
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
