"""The one front door for results tables: ``experiments/reproduce.py`` and ``mechjax.reproduce``.

Fake tables are registered for the duration of a test (``monkeypatch.setitem`` on the registry);
run tables get a fake ``subprocess.run`` that writes the summary a real run would.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from mechjax import registry, reproduce
from mechjax.errors import ConfigError
from mechjax.tables import Row, Table, TableContext, parse_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fixed_provenance(monkeypatch):
    monkeypatch.setattr(reproduce, "git_commit", lambda *a, **k: "abc1234")
    monkeypatch.setattr(reproduce, "hardware", lambda: "test-cpu, 2 cores")


def _computed(calls, data=True):
    def produce(ctx: TableContext):
        calls.append(ctx)
        return f"| seed | size |\n|---|---|\n| {ctx.seeds[0]} | {ctx.extra['size']} |", (
            {"values": np.arange(3), "size": ctx.extra["size"]} if data else None)
    return Table(title="A fake computed table", produce=produce, notes="Method only.",
                 options={"size": 4, "names": ("a", "b"), "scale": 0.5, "exact": False})


def _run(request_args, results_dir):
    return reproduce.reproduce(reproduce.parse_args(request_args), results_dir=str(results_dir))


def fake_subprocess_run(launched, summary, config=None):
    """A stand-in for ``subprocess.run`` that records each command in ``launched`` and leaves in its
    ``hydra.run.dir`` what experiments/train.py / evaluate.py would: ``summary.json`` (``summary`` plus
    ``score``, the launch's number) and, if given, ``config.yaml``."""
    def fake_run(cmd, cwd, check):
        launched.append(cmd)
        run_dir = next(a.split("=", 1)[1] for a in cmd if a.startswith("hydra.run.dir="))
        os.makedirs(run_dir)
        with open(os.path.join(run_dir, "summary.json"), "w") as f:
            json.dump({"score": len(launched), **summary}, f)
        if config is not None:
            with open(os.path.join(run_dir, "config.yaml"), "w") as f:
                f.write(config)
        return subprocess.CompletedProcess(cmd, 0)
    return fake_run


def test_computed_table_writes_header_and_json(tmp_path, monkeypatch, fixed_provenance):
    calls = []
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed(calls))
    md, js = _run(["table=fake_computed", "seeds=3", "size=7", f"runs={tmp_path}/runs"], tmp_path)
    text = open(md).read()
    assert md == str(tmp_path / "fake_computed.md") and js == str(tmp_path / "fake_computed.json")
    command = f"python experiments/reproduce.py table=fake_computed seeds=3 size=7 runs={tmp_path}/runs overwrite=true"
    assert f"```bash\n{command}\n```" in text
    assert "- seeds: 3" in text and "- commit: `abc1234`" in text and "- hardware: test-cpu, 2 cores" in text
    assert re.search(r"- total wall time \(this invocation\): \d+ s", text)
    assert re.search(r"- date: \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "| 3 | 7 |" in text and text.rstrip().endswith("Method only.")
    saved = json.load(open(js))
    assert saved["data"] == {"values": [0, 1, 2], "size": 7}
    assert saved["meta"]["command"] == command and saved["meta"]["commit"] == "abc1234"
    assert saved["meta"]["options"] == {"size": 7, "names": ["a", "b"], "scale": 0.5, "exact": False}
    ctx = calls[0]
    assert ctx.seeds == (3,) and ctx.runs_root == str(tmp_path / "runs" / "fake_computed")
    assert ctx.runs_of("other") == str(tmp_path / "runs" / "other")


def test_refuses_to_overwrite_without_overwrite_true(tmp_path, monkeypatch, fixed_provenance):
    calls = []
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed(calls))
    md, _ = _run(["table=fake_computed"], tmp_path)
    before = open(md).read()
    with pytest.raises(ConfigError, match=r"fake_computed\.md exists; add overwrite=true"):
        _run(["table=fake_computed", "size=9"], tmp_path)
    assert open(md).read() == before and len(calls) == 1  # refused before any work
    os.remove(md)  # the JSON alone also counts as a results file
    with pytest.raises(ConfigError, match=r"fake_computed\.json exists"):
        _run(["table=fake_computed"], tmp_path)
    _run(["table=fake_computed", "size=9", "overwrite=true"], tmp_path)
    assert "| 0 | 9 |" in open(md).read()


def test_overwrite_removes_a_stale_json(tmp_path, monkeypatch, fixed_provenance):
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed([]))
    _run(["table=fake_computed"], tmp_path)
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed([], data=False))
    paths = _run(["table=fake_computed", "overwrite=true"], tmp_path)
    assert paths == [str(tmp_path / "fake_computed.md")] and not (tmp_path / "fake_computed.json").exists()


@pytest.mark.parametrize("args, message", [
    (["table=fake_computed", "colour=red"], "does not take colour; its options: exact, names, scale, size"),
    (["table=fake_computed", "size=big"], "size must be int"),
    (["table=fake_computed", "exact=yes"], "exact must be true or false"),
    (["table=fake_computed", "trainer.steps=5"], "computed table: it takes no Hydra overrides"),
    (["table=fake_computed", "seeds=0,x"], "seeds must be comma-separated integers"),
    (["table=fake_computed", "seeds=1,1"], "seeds lists a seed twice"),
    (["table=fake_computed", "overwrite=maybe"], "overwrite must be true or false"),
    (["table=fake_computed", "size=1", "size=2"], "size is given twice"),
    (["table=fake_computed", "verbose"], "'verbose' is not key=value"),
    (["table=no_such_table"], "table='no_such_table' is unknown"),
    (["table=fake_runs", "size=3"], "is a run table"),
])
def test_bad_arguments_fail_with_a_clear_error(tmp_path, monkeypatch, args, message):
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed([]))
    monkeypatch.setitem(registry.TABLES, "fake_runs", Table(title="t", rows=(Row("r", ("+experiment=x",)),), render=str))
    with pytest.raises(ConfigError, match=re.escape(message)):
        _run(args, tmp_path)
    assert not list(tmp_path.iterdir())


def test_parse_options_reads_tuples_and_types():
    table = _computed([])
    assert parse_options(table, {"names": "x, y,z", "scale": "2", "exact": "TRUE"}) == {
        "size": 4, "names": ("x", "y", "z"), "scale": 2.0, "exact": True}
    with pytest.raises(ValueError, match="run table takes Hydra overrides"):
        Table(title="t", rows=(Row("r", ()),), render=str, options={"a": 1})
    with pytest.raises(ValueError, match="run table needs render"):
        Table(title="t", rows=(Row("r", ()),))


def test_run_table_trains_evaluates_resumes_and_renders(tmp_path, monkeypatch, fixed_provenance):
    launched = []
    fake_run = fake_subprocess_run(launched, {"wall_s": 10.0, "eval_wall_s": 1.0, "commit": "run0001"},
                                   config="inner:\n  kind: adversary\n  steps: 3\n")

    seen = []

    def render(results):
        seen.extend(results)
        return "\n".join(f"{row.name} {seed} {s['score']} inner {s['config']['inner']['steps']}"
                         for row, seed, s in results)

    table = Table(title="A fake run table", render=render,
                  rows=(Row("learned", ("+experiment=fake",)), Row("classical", ("mechanism=vcg",), evaluate_only=True)))
    monkeypatch.setitem(registry.TABLES, "fake_runs", table)
    monkeypatch.setattr(reproduce.subprocess, "run", fake_run)
    runs = tmp_path / "runs"
    md, js = _run(["table=fake_runs", "seeds=0,1", f"runs={runs}", "trainer.steps=7"], tmp_path)
    scripts = [os.path.basename(cmd[1]) for cmd in launched]
    assert scripts == ["train.py", "train.py", "evaluate.py"]  # two seeds learned, the classical row once
    assert "seed=1" in launched[1] and "trainer.steps=7" in launched[1] and "progress=false" in launched[1]
    assert "trainer.steps=7" not in launched[2] and f"hydra.run.dir={runs}/fake_runs/classical" in launched[2]
    text = open(md).read()
    assert "learned 0 1 inner 3\nlearned 1 2 inner 3\nclassical 0 3 inner 3" in text
    assert "trainer.steps=7" in text.split("```bash")[1].split("```")[0]
    assert "sum of the runs' own wall times" in text and "`run0001`" in text
    assert [d["row"] for d in json.load(open(js))["data"]] == ["learned", "learned", "classical"]
    launched.clear()
    _run(["table=fake_runs", "seeds=0,1", f"runs={runs}", "overwrite=true"], tmp_path)
    assert launched == []  # every run was finished: resumed from its summary


@pytest.fixture
def fake_rows_table(monkeypatch, fixed_provenance):
    """A run table of two learned rows and one classical row, run by a fake subprocess; its launches."""
    launched = []
    table = Table(title="fake", render=lambda results: " ".join(f"{r.name}:{seed}" for r, seed, _ in results),
                  rows=(Row("a", ("+experiment=a",)), Row("b", ("+experiment=b",)),
                        Row("c", ("mechanism=vcg",), evaluate_only=True)))
    monkeypatch.setitem(registry.TABLES, "fake_rows", table)
    monkeypatch.setattr(reproduce.subprocess, "run", fake_subprocess_run(launched, {"wall_s": 1.0}))
    return launched


def test_rows_runs_only_the_named_rows_and_a_full_run_resumes_them(tmp_path, fake_rows_table):
    runs, results = tmp_path / "runs", tmp_path / "results"
    md = _run(["table=fake_rows", "rows=c,b", "seeds=0,1", f"runs={runs}"], results)[0]
    assert sorted(os.path.basename(d) for d in os.listdir(runs / "fake_rows")) == ["b_seed0", "b_seed1", "c"]
    text = open(md).read()
    assert "b:0 b:1 c:0" in text  # in the table's order, whatever the order asked
    assert "table=fake_rows seeds=0,1 rows=c,b " in text and "- rows: c, b only" in text
    assert json.load(open(str(md)[:-3] + ".json"))["meta"]["rows"] == ["c", "b"]
    fake_rows_table.clear()
    assert "a:0 a:1 b:0 b:1 c:0" in open(_run(["table=fake_rows", "seeds=0,1", f"runs={runs}", "overwrite=true"],
                                              results)[0]).read()
    assert len(fake_rows_table) == 2 and all("+experiment=a" in cmd for cmd in fake_rows_table)  # only a's were new


@pytest.mark.parametrize("args,message", [
    (["table=fake_rows", "rows=a,zz"], "no row zz"),
    (["table=fake_rows", "rows=a,a"], "each row once"),
    (["table=fake_rows", "rows="], "each row once"),
    (["table=baselines", "rows=a"], "computed table"),
])
def test_bad_rows_fail_before_any_run(tmp_path, fake_rows_table, args, message):
    with pytest.raises(ConfigError, match=message):
        _run([*args, f"runs={tmp_path}"], tmp_path)
    assert fake_rows_table == []


def test_pending_lines_are_cleared_when_a_table_is_written(tmp_path, monkeypatch, fixed_provenance):
    monkeypatch.setitem(registry.TABLES, "fake_computed", _computed([]))
    (tmp_path / reproduce.PENDING_FILE).write_text("# pending\n\n- `fake_computed`: about 5 s\n- `other`: 1 s\n")
    assert reproduce.pending(str(tmp_path)) == {"fake_computed": "about 5 s", "other": "1 s"}
    _run(["table=fake_computed"], tmp_path)
    assert reproduce.pending(str(tmp_path)) == {"other": "1 s"}


def test_cli_lists_tables_and_rejects_unknown_arguments(capsys):
    assert reproduce.main(["table=list"]) == 0
    listed = capsys.readouterr().out
    for name, table in registry.TABLES.items():
        assert re.search(rf"^{name}\s+(runs|computed)\s+{re.escape(table.title)}$", listed, re.M)
    assert "options (defaults): samples=1000000" in listed  # a computed table's options are shown
    assert reproduce.main([]) == 0 and "tables (" in capsys.readouterr().out
    assert reproduce.main(["table=list", "seeds=0"]) == 2 and reproduce.main(["seeds=0"]) == 2
    assert reproduce.main(["table=baselines", "--samples", "5"]) == 2
    assert "is not key=value" in capsys.readouterr().err


def test_the_script_is_a_thin_cli():
    out = subprocess.run([sys.executable, "experiments/reproduce.py", "table=baselines", "colour=red"], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "does not take colour" in out.stderr and "Traceback" not in out.stderr


def test_every_registered_table_has_a_current_results_file_or_is_pending():
    pending = reproduce.pending()
    assert set(pending) <= set(registry.TABLES), "PENDING.md lists tables nobody registers"
    for name in registry.TABLES:
        path = os.path.join(reproduce.RESULTS_DIR, f"{name}.md")
        if name in pending:
            continue
        assert os.path.exists(path), f"{name}: no results file and not listed in PENDING.md"
        text = open(path).read()
        assert f"{reproduce.COMMAND} table={name} " in text, f"{path} was not written by reproduce.py"
        assert "- commit: `" in text and "- hardware: " in text and "- date: " in text


def test_every_table_is_registered_by_a_domain():
    modules = {t.produce.__module__ if t.produce else (t.render.__module__ if t.render else None)
               for name, t in registry.TABLES.items() if not name.startswith("fake_")}
    assert all(m and m.startswith(("mechjax.auctions", "mechjax.voting", "mechjax.inverse", "mechjax.alignment",
                                   "mechjax.budgeting", "mechjax.delegation")) for m in modules), modules


def test_no_experiments_script_is_imported_by_the_library_or_tests():
    offenders = []
    for folder in ("mechjax", "tests"):
        for root, _, files in os.walk(os.path.join(REPO, folder)):
            for file in files:
                if not file.endswith(".py"):
                    continue
                path = os.path.join(root, file)
                source = open(path).read()
                loads_by_path = re.search(r"spec_from_file_location|run_path|SourceFileLoader", source)
                if re.search(r"^\s*(from|import)\s+experiments\b", source, re.M) or (
                        loads_by_path and re.search(r"experiments[\"']?\s*[,/]\s*[\"']?\w+\.py", source)):
                    offenders.append(os.path.relpath(path, REPO))
    offenders = [p for p in offenders if p != "tests/test_reproduce.py"]
    assert offenders == []


# --------------------------------------------------------------------------- readings computed from the runs

def _voting_summary(utilitarian, gain, manipulable, size_welfare, accuracy=None):
    return {"welfare_utilitarian": utilitarian, "welfare_egalitarian": utilitarian / 2, "welfare_nash": -1.0,
            "welfare_utilitarian_optimum": 0.5, "manipulability": manipulable, "accuracy": accuracy,
            "manipulation": {"mean_best_gain": gain, "profiles": 10, "attacker": "exhaustive"},
            "sizes": [{"voters": 7, "candidates": 4, "welfare_utilitarian": size_welfare, "accuracy": accuracy}],
            "axioms": {}, "eval_profiles": 10, "eval_seed": 1, "steps": 5, "wall_s": 1.0, "eval_wall_s": 1.0}


def test_welfare_reading_is_computed_from_the_summaries():
    from mechjax.voting.report import render_welfare
    results = [(Row("welfare", ()), 0, _voting_summary(0.35, 0.08, 0.9, 0.29)),
               (Row("welfare_strategyproof", ()), 0, _voting_summary(0.33, 0.0002, 0.7, 0.28)),
               (Row("borda", (), evaluate_only=True), 0, _voting_summary(0.34, 0.05, 0.8, 0.3)),
               (Row("plurality", (), evaluate_only=True), 0, _voting_summary(0.34, 0.11, 0.8, 0.3)),
               (Row("random_dictatorship", (), evaluate_only=True), 0, _voting_summary(0.32, 0.0, 0.0, 0.27))]
    text = render_welfare(results)
    assert "- mean best gain, welfare / welfare_strategyproof (seed 0): 400-fold" in text
    assert "- deterministic classical rules' mean best gain: 5.00e-02 (borda) to 1.10e-01 (plurality)" in text
    assert "- random_dictatorship (a lottery): utilitarian welfare 0.3200, mean best gain 0.00e+00" in text
    assert "  - at 7x4: 0.2700 (learned: welfare 0.2900, welfare_strategyproof 0.2800)" in text


def test_mimicry_reading_is_computed_from_the_summaries():
    from mechjax.voting.report import render_mimicry
    results = [(Row("borda", ()), 0, {**_voting_summary(0.3, 0.05, 0.5, 0.3, accuracy=0.98), "target": "borda"}),
               (Row("kemeny", ()), 0, {**_voting_summary(0.3, 0.02, 0.5, 0.3, accuracy=0.91), "target": "kemeny"}),
               (Row("borda", (), evaluate_only=True), 0, {**_voting_summary(0.3, 0.04, 0.5, 0.3, 1.0), "target": "borda"}),
               (Row("kemeny", (), evaluate_only=True), 0, {**_voting_summary(0.3, 0.05, 0.5, 0.3, 1.0), "target": "kemeny"})]
    text = render_mimicry(results)
    assert "- accuracy at the training sizes: lowest 91.0% (kemeny seed 0), highest 98.0% (borda seed 0)" in text
    assert "- 7x4: lowest accuracy 91.0% (kemeny seed 0)" in text
    assert "largest difference 3.00e-02 (kemeny seed 0)" in text


def test_auction_render_reads_attacker_and_training_solver_from_the_runs():
    from mechjax.auctions.tables import render_auction_table
    attack = {"steps": 11, "restarts": 2, "grid_init": 1, "grid": 9, "num_samples": 64, "revenue_samples": 128,
              "seed": 5, "grid_used": True}
    summary = {"revenue": 0.5, "revenue_stderr": 0.01, "regret": 0.001, "regret_max": 0.01, "ir_violation": 0.0,
               "steps": 100, "wall_s": 3.0, "eval_wall_s": 1.0, "attack": attack, "revenue_exceeds_optimum": True,
               "config": {"inner": {"kind": "adversary", "steps": 4, "restarts": 1}}}
    text = render_auction_table([(Row("a_1x2", (), 0.55, "somebody 2020"), 0, summary)])
    assert "evaluation attacker: up to 11 Adam steps from 4 starts (truthful, 2 random, 1 best grid points)" in text
    assert "training inner solver (from the runs' configs): inner=adversary (steps=4, restarts=1): a_1x2" in text
    assert "revenue above the known optimum by more than regret explains: a_1x2 seed 0" in text
    assert "| a_1x2 | 0 | 0.55 | 0.5 | 0.01 | -0.05 |" in text
    assert "settled" not in text  # a summary from before the early stop says nothing of it
    # a summary that records the early stop says how it stopped, and the steps it ran
    settled = {**summary, "attack": {**attack, "check_every": 10, "settle_tol": 1e-6, "steps_run_mean": 7.25}}
    text = render_auction_table([(Row("a_1x2", (), 0.55, "somebody 2020"), 0, settled)])
    assert "stopped once settled (checked every 10 steps: no sample's best deviation rose by more than 1e-06" in text
    assert "| 100 | 3 | 1 | 0.333 | 7.2 |" in text  # steps, train wall, eval wall, eval/train, eval ascent steps


def test_relaxed_attack_recall_metrics():
    from mechjax.voting.studies.recall import recall
    exact = np.array([[0.2, 0.0], [0.0, 0.0], [0.1, 0.4]])
    found = np.array([[0.2, 0.0], [0.0, 0.0], [0.0, 0.2]])
    r = recall(found, exact)
    assert r["exhaustive manipulable"] == round(2 / 3, 3) and r["profiles found"] == 1
    assert r["voters found"] == round(2 / 3, 3) and r["voters at optimum"] == round(1 / 3, 3)
    assert r["voter gain fraction"] == round((1 + 0 + 0.5) / 3, 3) and r["above exhaustive"] == 0
    assert r["mean best gain ratio"] == round(0.4 / 0.6, 4)
    assert recall(exact + 1e-3, exact)["above exhaustive"] == exact.size  # every gain contradicts the reference


@pytest.mark.parametrize("args, message", [
    (["table=baselines", "seeds=0,1"], "table=baselines takes one seed"),
    (["table=baselines", "grid=1"], "grid must be >= 2"),
    (["table=baselines", "settings=9x9_nowhere"], "settings: unknown or empty ['9x9_nowhere']"),
    (["table=equivariant_cross_size", "sizes=3y3"], "sizes: '3y3' is not <bidders>x<items>"),
    (["table=equivariant_cross_size", "nets=rochetnet"], "nets: unknown or empty ['rochetnet']"),
    (["table=voting_audit_classical", "rules=plurality,nope"], "rules: unknown or empty ['nope']"),
    (["table=voting_audit_classical", "profiles=0"], "profiles must be >= 1"),
    (["table=voting_relaxed_attack", "sizes=9"], "sizes: the exhaustive reference needs 2..6 candidates"),
    (["table=voting_relaxed_attack", "temperatures=0"], "temperatures must be > 0"),
    (["table=voting_relaxed_attack", "nets=plurality"], "holds no finished run"),
])
def test_domain_tables_check_their_options_before_any_work(tmp_path, args, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _run([*args, f"runs={tmp_path}/runs", "overwrite=true"], tmp_path)
    assert not list(tmp_path.iterdir())


def test_softmax_borda_closed_form_matches_the_exhaustive_search():
    import jax

    from mechjax.voting import manipulation, profiles
    from mechjax.voting.evaluate import as_ranking_rule
    from mechjax.voting.studies.recall import softmax_borda, softmax_borda_exact
    rankings = np.asarray(profiles.impartial_culture(jax.random.key(3), 6, 3, 4).rankings)
    exhaustive = manipulation.single_voter_manipulation(jax.jit(as_ranking_rule(softmax_borda(0.05))), rankings).gain
    np.testing.assert_allclose(np.maximum(softmax_borda_exact(rankings, 0.05), 0), np.maximum(exhaustive, 0), atol=2e-5)


def test_audit_reading_lists_only_paper_numbers_outside_our_interval():
    from mechjax.voting.studies import audit
    counts = {a: (400, 400) for a in audit.PAPER_AXIOMS + audit.EXTRA_AXIOMS}
    counts["condorcet"] = (200, 400)  # 50% [45.1, 54.9] against the paper's 80.2
    text = audit._render({"plurality": counts}, 0, {"profiles": 400, "iia_profiles": 400})
    reading = next(line for line in text.splitlines() if line.startswith("- paper numbers outside"))
    assert "plurality / condorcet (paper 80.2, ours 50.0" in reading
    assert "anonymity" not in reading and "pareto" not in reading  # 100% sits at the interval's edge, inside
