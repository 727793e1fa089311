"""The peer benchmark command (benchmarks/peers.py) says what it skipped and why, and writes its
report with the machine, load, commit and versions. No timings are asserted (speed lives in
benchmarks/); nothing here runs a peer or compiles a trainer."""

import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

import peers  # noqa: E402
import peers_auctions  # noqa: E402
import peers_budgeting  # noqa: E402
import peers_memory  # noqa: E402


def test_optimaler_skip_reasons_name_the_problem(tmp_path):
    assert "--optimaler" in peers_auctions.optimaler_problem(None)
    reason = peers_auctions.optimaler_problem(str(tmp_path))
    assert str(tmp_path) in reason and "not a clone" in reason


def test_missing_voting_benchmark_is_skipped_with_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "HERE", str(tmp_path))
    section = peers.voting(quick=True, log=lambda _: None)
    assert section["rows"] == []
    assert "peers_voting.py is not there" in section["skipped"][0]


def test_budgeting_without_data_is_skipped_with_reason(tmp_path):
    missing = tmp_path / "no_pabulib"
    section = peers_budgeting.run(quick=True, repeats=1, data=str(missing), log=lambda _: None)
    assert section["rows"] == []
    assert str(missing) in section["skipped"][0]


def test_command_writes_report_with_machine_load_and_versions(tmp_path):
    out = str(tmp_path / "peers")
    peers.main(["--quick", "--only", "inverse", "--out", out])
    with open(out + ".json") as handle:
        report = json.load(handle)
    assert set(report["sections"]) == {"inverse"}
    assert report["machine"]["cores"] == os.cpu_count()
    assert len(report["load_before"]) == 3 and len(report["load_after"]) == 3
    assert "jax" in report["versions"] and "torch" in report["versions"]
    text = open(out + ".md").read()
    assert "load average" in text and "--quick" in text and "## inverse" in text
    inverse = report["sections"]["inverse"]
    # either DIML reference comparisons are listed, or the section says why it has none
    assert inverse["rows"] or "no DIML peer implementation" in inverse["skipped"][0]


def test_unknown_section_is_refused():
    with pytest.raises(SystemExit):
        peers.main(["--only", "auctions,bogus"])


def test_merge_takes_missing_sections_from_later_reports(tmp_path):
    first, second, out = (str(tmp_path / name) for name in ("first", "second", "merged"))
    peers.main(["--quick", "--only", "inverse", "--out", first])
    with open(first + ".json") as handle:
        other = json.load(handle)
    other["command"] = "python benchmarks/peers.py --only memory"
    other["sections"] = {"memory": {"rows": [{"job": "x"}], "table": ["| memory table |"], "wall_s": 1.0},
                         "inverse": {"rows": [], "table": ["| must not replace the first |"], "wall_s": 0.0}}
    with open(second + ".json", "w") as handle:
        json.dump(other, handle)
    merged = peers.main(["--merge", first + ".json", second + ".json", "--out", out])
    assert set(merged["sections"]) == {"inverse", "memory"}
    text = open(out + ".md").read()
    assert "| memory table |" in text and "must not replace" not in text
    assert "section(s) memory from `python benchmarks/peers.py --only memory`" in text


@pytest.mark.parametrize("load, warned", [(0.5, False), (30.0, True)])
def test_report_warns_when_the_load_exceeds_the_cores(load, warned):
    section = {"rows": [], "table": [], "wall_s": 1.0}
    report = {"command": "c", "date": "d", "commit": "x", "quick": False, "wall_s": 1.0,
              "sections": {"auctions": section, "memory": section},
              "machine": {"cpu": "cpu", "cores": 2, "platform": "p", "python": "3"}, "versions": {"jax": "0"},
              "load_before": [load, load, load], "load_after": [0.1, 0.1, 0.1]}
    assert ("Warning: the 1-minute load average" in peers.markdown(report)) is warned
    # a merged report's load is charged to its own sections only
    merged = dict(report, sections={"auctions": section, "memory": section},
                  merged=[{"sections": ["memory"], "command": "m", "date": "d", "commit": "y", "wall_s": 1.0,
                           "load_before": [9.0, 9, 9], "load_after": [0.1, 0.1, 0.1]}])
    text = peers.markdown(merged)
    assert "(memory: 9)" in text or (warned and "auctions: 30; memory: 9" in text)
    assert ("auctions: 30" in text) is warned


def test_peak_rss_counts_the_childs_own_memory_and_survives_a_stop(tmp_path):
    log = str(tmp_path / "log")
    baseline, _, code, stopped = peers_memory.peak_rss([sys.executable, "-c", "pass"], str(tmp_path), log)
    assert not stopped and code == 0
    touch = ("import time; block = bytearray(128 * 2**20); block[::4096] = b'x' * len(block[::4096]); "
             "time.sleep(1.5)")  # long enough for a poll of its high-water mark
    rss, _, code, stopped = peers_memory.peak_rss([sys.executable, "-c", touch], str(tmp_path), log)
    assert not stopped and code == 0
    assert rss >= baseline + 100 * 2**20  # the 128 MiB it touched
    rss, _, _, stopped = peers_memory.peak_rss([sys.executable, "-c", "import time; time.sleep(600)"],
                                                str(tmp_path), log, timeout_s=1)
    assert stopped and rss > 0  # stopped, and its peak still reported
