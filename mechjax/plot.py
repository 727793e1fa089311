"""Figures for run directories: allocation maps (1 bidder x 2 items) and learning curves."""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def allocation_map(mechanism: Callable, low: Sequence[float], high: Sequence[float], path: str,
                   resolution: int = 101, title: str = "") -> str:
    """Probability of allocating each item to the single bidder over her value square (RegretNet Fig. 2).

    Args:
        mechanism: ``bids [batch, 1, 2] -> (allocations, payments)``.
        low, high: the bidder's support per item.
        path: PNG to write.
        resolution: grid points per axis.
        title: figure title.

    Returns:
        ``path``.
    """
    plt = _pyplot()
    v1 = np.linspace(low[0], high[0], resolution)
    v2 = np.linspace(low[1], high[1], resolution)
    grid = np.stack(np.meshgrid(v1, v2, indexing="xy"), axis=-1).reshape(-1, 1, 2).astype(np.float32)
    alloc, _ = mechanism(grid)
    alloc = np.asarray(alloc).reshape(resolution, resolution, 2)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
    for j, ax in enumerate(axes):
        im = ax.imshow(alloc[..., j], origin="lower", extent=(low[0], high[0], low[1], high[1]),
                       vmin=0, vmax=1, cmap="YlOrRd", aspect="auto")
        ax.set_xlabel("$v_1$")
        ax.set_ylabel("$v_2$")
        ax.set_title(f"P(item {j + 1} allocated)")
    fig.colorbar(im, ax=axes, shrink=0.9)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_curves(history: list[dict], path: str, keys: Sequence[str] = ("revenue", "regret")) -> str:
    """One panel per metric against the outer step (regret on a log scale)."""
    plt = _pyplot()
    keys = [k for k in keys if history and k in history[0]]
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.5 * max(1, len(keys)), 3.4), constrained_layout=True)
    axes = np.atleast_1d(axes)
    steps = [row["step"] for row in history]
    for ax, key in zip(axes, keys):
        values = [row[key] for row in history]
        ax.plot(steps, values)
        if key.startswith("regret") and all(v is not None and v > 0 for v in values):
            ax.set_yscale("log")
        ax.set_xlabel("outer step")
        ax.set_title(key + " (training)")
        ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_run_plots(run_dir: str, kind: str, mechanism: Callable, problem, history: list[dict]) -> list[str]:
    """The plots a run directory gets: curves always; allocation map for 1 x 2 auctions."""
    paths = []
    if history:
        paths.append(learning_curves(history, os.path.join(run_dir, "curves.png")))
    if kind == "auction" and problem.num_agents == 1 and problem.num_items == 2:
        v = problem.valuations
        paths.append(allocation_map(mechanism, v.low[0], v.high[0], os.path.join(run_dir, "allocation_map.png")))
    return paths
