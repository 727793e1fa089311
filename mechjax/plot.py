"""Figures for run directories: learning curves of any run, and allocation maps (1 bidder x 2 items)."""

from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

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


SKIP_KEYS = ("step", "wall_s")


def curve_keys(history: list[dict]) -> list[str]:
    """The metrics a history can plot: every key with a number in some row (not step or wall time)."""
    keys: list[str] = []
    for row in history:
        for key, value in row.items():
            if (key not in SKIP_KEYS and not key.endswith("_seeds") and key not in keys
                    and isinstance(value, (int, float)) and not isinstance(value, bool)):
                keys.append(key)
    return keys


def _step_label(x, _pos) -> str:
    # "40k" rather than "40000": five-digit step counts overlap in narrow panels
    if abs(x) >= 1000:
        return f"{x / 1000:g}k"
    return f"{x:g}"


def learning_curves_figure(history: list[dict], keys: Optional[Sequence[str]] = None,
                           references: Optional[dict] = None, title: str = "training"):
    """The learning-curves figure: one panel per metric against the outer step.

    Args:
        history: the ``metrics.jsonl`` rows (``step`` plus numbers; ``<key>_seeds`` lists are drawn
            thin, one line per seed, under the mean).
        keys: metrics to draw (default: every metric in the history, see :func:`curve_keys`).
        references: ``{metric: (value, label)}`` horizontal lines, e.g. a known optimal revenue.
        title: figure title.

    Returns:
        A matplotlib Figure (close it when done). Panels whose values are all positive and span
        more than two decades (regret, violations) use a log y axis.
    """
    plt = _pyplot()
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    keys = list(keys) if keys is not None else curve_keys(history)
    references = references or {}
    cols = min(3, max(1, len(keys)))
    rows = max(1, -(-len(keys) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.3 * rows), constrained_layout=True, squeeze=False)
    flat = axes.reshape(-1)
    for ax, key in zip(flat, keys):
        points = [(row["step"], row[key]) for row in history if isinstance(row.get(key), (int, float))]
        steps = [p[0] for p in points]
        values = [p[1] for p in points]
        seeds = [row.get(f"{key}_seeds") for row in history if isinstance(row.get(key), (int, float))]
        if seeds and all(isinstance(s, list) for s in seeds):
            for r, series in enumerate(zip(*seeds)):
                ax.plot(steps, series, lw=0.8, alpha=0.45, label="seeds" if r == 0 else None)
        ax.plot(steps, values, lw=1.6, marker="o" if len(steps) < 3 else None, ms=3,
                label="mean over seeds" if seeds and seeds[0] is not None else None)
        if key in references:
            value, label = references[key]
            ax.axhline(value, color="black", ls="--", lw=1.0, label=label)
        positive = [v for v in values if v is not None]
        if positive and min(positive) > 0 and max(positive) / min(positive) > 100:
            ax.set_yscale("log")
        ax.set_xlabel("outer step")
        ax.set_ylabel(key)
        ax.set_title(key)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        ax.xaxis.set_major_formatter(FuncFormatter(_step_label))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in flat[len(keys):]:
        ax.set_visible(False)
    if not keys:
        flat[0].set_visible(True)
        flat[0].text(0.5, 0.5, "no numeric metrics logged", ha="center", va="center")
    fig.suptitle(title)
    return fig


def learning_curves(history: list[dict], path: str, keys: Optional[Sequence[str]] = None,
                    references: Optional[dict] = None) -> str:
    """Writes :func:`learning_curves_figure` to ``path`` (PNG) and returns ``path``."""
    plt = _pyplot()
    fig = learning_curves_figure(history, keys, references)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_run_plots(run_dir: str, kind: str, mechanism: Callable, problem, history: list[dict]) -> list[str]:
    """The plots a run directory gets: ``curves.png`` (every logged metric) for every kind, then the
    kind's ``registry.PLOTS`` hook (which may redraw ``curves.png`` with reference lines, e.g. a known
    optimum, and adds its own figures, e.g. allocation maps)."""
    from mechjax import registry
    paths = []
    if history:
        paths.append(learning_curves(history, os.path.join(run_dir, "curves.png")))
    hook = registry.PLOTS.get(kind)
    if hook is not None:
        paths += list(hook(run_dir, mechanism, problem, history) or [])
    return paths
