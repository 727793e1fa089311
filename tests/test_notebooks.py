"""Notebooks execute top to bottom at tiny size (MECHJAX_NOTEBOOK_TINY=1)."""

import glob
import os

import pytest

from conftest import REPO_DIR

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted(glob.glob(os.path.join(REPO_DIR, "notebooks", "*.ipynb")))


def test_there_are_notebooks():
    assert any(p.endswith("quickstart_auctions.ipynb") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("MECHJAX_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_paired_with_its_script(path):
    """The .ipynb and its jupytext .py twin hold the same code (edit either, then sync)."""
    jupytext = pytest.importorskip("jupytext")
    script = path[:-6] + ".py"
    assert os.path.exists(script), f"{script} missing: pair with `jupytext --set-formats ipynb,py:percent`"
    code = lambda nb: [c.source.strip() for c in nb.cells if c.cell_type == "code"]
    assert code(jupytext.read(path)) == code(jupytext.read(script))
