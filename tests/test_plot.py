"""Run plots are readable: labelled axes, ticks that do not overlap, the known optimum as a line,
log scale for metrics spanning decades, and a non-empty panel per metric for any domain."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mechjax import plot, registry  # noqa: E402

registry.import_domains()


def _history(steps=40000, every=500, seeds=False):
    rows = []
    for step in range(every, steps + 1, every):
        t = step / steps
        row = {"step": step, "wall_s": 0.01 * step, "revenue": 0.3 + 0.2 * t, "regret": 0.1 * 10 ** (-3 * t),
               "loss": -0.3 - 0.2 * t}
        if seeds:
            row["revenue_seeds"] = [row["revenue"] - 0.01, row["revenue"] + 0.01]
        rows.append(row)
    return rows


def _overlaps(labels, renderer) -> bool:
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_text() and t.get_visible()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_curves_have_labels_readable_ticks_optimum_and_log_scale():
    fig = plot.learning_curves_figure(_history(seeds=True), references={"revenue": (0.5491, "optimum 0.5491")})
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
        assert set(axes) == {"revenue", "regret", "loss"}  # every numeric metric, not step or wall time
        for title, ax in axes.items():
            assert ax.get_xlabel() == "outer step" and ax.get_ylabel() == title
            assert not _overlaps(ax.get_xticklabels(), renderer), title
            assert not _overlaps(ax.get_yticklabels(), renderer), title
            assert all(len(line.get_xdata()) > 0 for line in ax.lines)
        flat = [line for line in axes["revenue"].lines if np.ptp(np.asarray(line.get_ydata(), float)) == 0]
        assert any(np.allclose(line.get_ydata(), 0.5491) for line in flat)  # the optimum line
        assert "optimum 0.5491" in [t.get_text() for t in axes["revenue"].get_legend().get_texts()]
        assert len(axes["revenue"].lines) == 4  # two seeds, their mean, the optimum
        assert axes["regret"].get_yscale() == "log"  # spans three decades
        assert axes["loss"].get_yscale() == "linear"  # negative values
        labels = [t.get_text() for t in axes["revenue"].get_xticklabels() if t.get_text()]
        assert any(label.endswith("k") for label in labels)  # 40000 drawn as 40k
    finally:
        plt.close(fig)


def test_any_domain_history_gives_non_empty_curves(tmp_path):
    """A voting-like history (metrics no front door knows by name) still gets a panel per metric."""
    history = [{"step": s, "wall_s": 1.0, "loss_mimicry": 1.0 / s, "accuracy": 1 - 1.0 / s, "flag": True}
               for s in (10, 20, 30)]
    fig = plot.learning_curves_figure(history)
    try:
        titles = {ax.get_title() for ax in fig.axes if ax.get_visible()}
        assert titles == {"loss_mimicry", "accuracy"}
        assert all(ax.lines and len(ax.lines[0].get_xdata()) == 3 for ax in fig.axes if ax.get_visible())
    finally:
        plt.close(fig)
    paths = plot.save_run_plots(str(tmp_path), "no_such_kind", None, None, history)
    assert paths == [str(tmp_path / "curves.png")] and os.path.getsize(paths[0]) > 0


def test_auction_plot_hook_draws_the_known_optimum(tmp_path, monkeypatch):
    from mechjax.auctions.problem import AuctionProblem
    from mechjax.auctions.valuations import UniformValuations
    calls = []
    monkeypatch.setattr(plot, "learning_curves", lambda history, path, keys=None, references=None:
                        calls.append(references) or path)
    monkeypatch.setattr(plot, "allocation_map", lambda *args, **kwargs: calls.append("map"))
    hook = registry.PLOTS["auction"]
    hook(str(tmp_path), None, AuctionProblem(UniformValuations.iid(1, 2), 0.5491), _history(2000))
    assert calls == [{"revenue": (0.5491, "optimum 0.5491")}, "map"]
    calls.clear()
    hook(str(tmp_path), None, AuctionProblem(UniformValuations.iid(5, 10), None), _history(2000))
    assert calls == []  # no known optimum, no allocation map beyond 1 x 2


@pytest.mark.parametrize("value,label", [(4000, "4k"), (500, "500"), (12500, "12.5k")])
def test_step_labels_are_short(value, label):
    assert plot._step_label(value, None) == label
