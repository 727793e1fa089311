"""Smoke runs of the DIML experiment and benchmark scripts at tiny size (numbers meaningless)."""

import importlib.util
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(relative):
    path = os.path.join(ROOT, relative)
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_experiment_scripts_write_provenance_and_refuse_to_overwrite(tmp_path):
    out = str(tmp_path / "table.md")
    table = _load("experiments/diml_table.py")
    table.main(["--tiny", "--seeds", "1", "--games", "public_goods", "--estimators", "trivial,behaviour_cloning,diml",
                "--out", out])
    text = open(out).read()
    for field in ("command:", "seeds:", "commit:", "hardware:", "wall time:", "behaviour cloning", "DIML"):
        assert field in text
    assert set(json.load(open(out.replace(".md", ".json")))["public_goods"][0]) >= {"trivial", "diml", "_instance"}
    with pytest.raises(SystemExit, match="overwrite"):
        table.main(["--tiny", "--seeds", "1", "--games", "public_goods", "--estimators", "trivial", "--out", out])

    ablation = _load("experiments/diml_beta_ablation.py")
    ablation.main(["--tiny", "--seeds", "1", "--game", "public_goods", "--multipliers", "2.0",
                   "--out", str(tmp_path / "beta.md")])
    assert "beta_fit" in open(tmp_path / "beta.md").read()

    ident = _load("experiments/diml_identifiability.py")
    ident.main(["--seeds", "1", "--game", "public_goods", "--episodes", "4", "--steps", "6", "--fit-steps", "2",
                "--out", str(tmp_path / "id.md")])
    rows = json.load(open(tmp_path / "id.json"))
    assert rows[0]["u vs u + c_i"]["equivalent"] and not rows[0]["u vs u + 0.5 on one action (control)"]["equivalent"]

    bench = _load("benchmarks/bench_diml_anonymous.py")
    bench.main(["--agents", "6", "--seeds", "1", "--episodes", "4", "--steps", "6", "--heldout", "2",
                "--kl-episodes", "4", "--batch", "4", "--window", "4", "--burn-in", "2", "--fit-steps", "4",
                "--chunk", "2", "--models", "anonymous_neural", "--out", str(tmp_path / "anon.md")])
    assert "wall s per epoch" in open(tmp_path / "anon.md").read()
