"""pabulib reader and writer: every real file reads, round trips, and bad input names file and line."""

import glob
import os
from fractions import Fraction

import numpy as np
import pytest

from mechjax.budgeting import Election, make_election, read_pabulib, write_pabulib
from mechjax.errors import DataError

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "pabulib")
REAL = sorted(glob.glob(os.path.join(DATA, "*.pb")))
needs_data = pytest.mark.skipif(not REAL, reason=f"no pabulib data at {DATA} (../shared/data/pabulib)")

GOOD = '''META
key;value
description;A test
num_projects;3
num_votes;3
budget;100,5
vote_type;approval
max_length;2
PROJECTS
project_id;cost;name
1;50,25;"Park; with a ""quote"""
2;40;Bench
10;0;Free
VOTES
voter_id;vote;age
a;1,2;30
b;10;41
c;;22
'''


def write(tmp_path, text, name="e.pb", newline="\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode())
    return str(path)


def test_reads_fields_exactly(tmp_path):
    election = read_pabulib(write(tmp_path, GOOD))
    assert election.project_ids == ("1", "2", "10")
    assert election.exact_costs == (Fraction("50.25"), Fraction(40), Fraction(0))
    assert election.exact_budget == Fraction("100.5")
    np.testing.assert_array_equal(election.approvals, [[1, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert election.project_meta[0] == ('Park; with a "quote"',)
    assert election.voter_meta == (("30",), ("41",), ("22",))
    assert election.issues == ()


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_error_names_file_and_physical_line(tmp_path, newline):
    text = GOOD.replace("b;10;41", "b;7;41")  # line 17: project 7 does not exist
    path = write(tmp_path, text, newline=newline)
    with pytest.raises(DataError, match=rf"{os.path.basename(path)}:17: .*'7'"):
        read_pabulib(path)


def test_line_separators_other_than_newlines_are_errors_not_breaks(tmp_path):
    path = write(tmp_path, GOOD.replace("Bench", "Ben\u2028ch"))
    with pytest.raises(DataError, match=r"e\.pb:12: control or line-separator"):
        read_pabulib(path)


@pytest.mark.parametrize("old,new,line,what", [
    ("2;40;Bench", "2;-40;Bench", 12, "cost"),
    ("budget;100,5", "budget;-1", 6, "budget"),
    ("budget;100,5", "budget;1e3", 6, "budget"),
    ("num_votes;3", "num_votes;4", 19, "num_votes"),
    ("num_projects;3", "num_projects;2", 14, "num_projects"),
    ("a;1,2;30", "a;1,1;30", 16, "twice"),
    ("c;;22", "a;;22", 18, "repeated"),
    ("2;40;Bench", "1;40;Bench", 12, "repeated"),
    ("b;10;41", "b;10", 17, "fields"),
    ("vote_type;approval", "vote_type;borda", 7, "vote_type"),
    ('"Park; with a ""quote"""', '"Park; unclosed', 11, "unterminated"),
    ("VOTES\n", "", 14, "cost"),
    ("voter_id;vote;age", "voter;vote;age", 15, "header"),
])
def test_bad_input_is_a_clear_error(tmp_path, old, new, line, what):
    text = GOOD.replace(old, new, 1)
    assert text != GOOD
    with pytest.raises(DataError, match=rf"e\.pb:{line}: .*{what}"):
        read_pabulib(write(tmp_path, text), strict=True)


def test_limit_violations_are_listed_or_rejected(tmp_path):
    path = write(tmp_path, GOOD.replace("max_length;2", "max_length;1"))
    election = read_pabulib(path)
    assert len(election.issues) == 1 and "e.pb:16:" in election.issues[0] and "max_length" in election.issues[0]
    with pytest.raises(DataError, match=r"e\.pb:16: .*max_length"):
        read_pabulib(path, strict=True)


def test_cumulative_and_ordinal_round_trip(tmp_path):
    cumulative = GOOD.replace("vote_type;approval", "vote_type;cumulative").replace(
        "voter_id;vote;age", "voter_id;vote;points;age").replace("a;1,2;30", "a;1,2;3,0;30").replace(
        "b;10;41", "b;10;5;41").replace("c;;22", "c;;;22")
    election = read_pabulib(write(tmp_path, cumulative))
    np.testing.assert_array_equal(election.scores, [[3, 0, 0], [0, 0, 5], [0, 0, 0]])
    assert election.approvals[0, 1]  # on the ballot with 0 points: supported, as pabutools reads it
    ordinal = GOOD.replace("vote_type;approval", "vote_type;ordinal").replace("a;1,2;30", "a;2,1;30")
    ranked = read_pabulib(write(tmp_path, ordinal, "o.pb"))
    np.testing.assert_array_equal(ranked.ranks[0], [2, 1, 0])
    for original in (election, ranked):
        out = str(tmp_path / "out.pb")
        write_pabulib(original, out)
        assert read_pabulib(out) == original


def test_memory_election_writes_and_reads(tmp_path):
    election = make_election([3, Fraction(5, 2)], 4, approvals=[[1, 0], [1, 1]])
    out = str(tmp_path / "m.pb")
    write_pabulib(election, out)
    back = read_pabulib(out)
    assert back.exact_costs == election.exact_costs and np.array_equal(back.approvals, election.approvals)


@pytest.mark.parametrize("kwargs,field", [
    (dict(costs=[-1, 2], budget=3, approvals=[[1, 0]]), "costs"),
    (dict(costs=[1, 2], budget=-3, approvals=[[1, 0]]), "budget"),
    (dict(costs=[1, 2], budget=3, approvals=[[1, 0, 1]]), "approvals"),
])
def test_make_election_validates(kwargs, field):
    with pytest.raises(DataError, match=field):
        make_election(**kwargs)


@needs_data
def test_every_real_file_reads():
    assert len(REAL) == 202
    for path in REAL:
        election = read_pabulib(path)
        assert isinstance(election, Election)
        assert election.num_voters == int(election.meta["num_votes"]) > 0


@needs_data
@pytest.mark.slow
def test_every_real_file_round_trips(tmp_path):
    out = str(tmp_path / "rt.pb")
    for path in REAL:
        election = read_pabulib(path)
        write_pabulib(election, out)
        back = read_pabulib(out)
        assert back == election, path


@needs_data
@pytest.mark.peers
def test_reader_agrees_with_pabutools_parser():
    pabulib = pytest.importorskip("pabutools.election", reason="pabutools is not installed (pip install .[peers])")
    for path in sorted(REAL, key=os.path.getsize)[:25]:
        election = read_pabulib(path)
        instance, profile = pabulib.parse_pabulib(path)
        assert {p.name: p.cost for p in instance} == dict(zip(election.project_ids, election.exact_costs))
        assert instance.budget_limit == election.exact_budget
        theirs = sorted(tuple(sorted(p.name for p in ballot)) for ballot in profile)
        ours = sorted(tuple(sorted(election.project_ids[j] for j in np.flatnonzero(row))) for row in election.approvals)
        assert theirs == ours, path
