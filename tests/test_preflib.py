"""PrefLib .soc/.soi: every shared real file reads, round trips are exact, bad files name the line."""

import csv
import os
import tracemalloc
from collections import Counter

import numpy as np
import pytest

from mechjax.errors import DataError
from mechjax.testing.voting import assert_valid_rankings
from mechjax.voting import preflib as PL
from mechjax.voting import rules as R

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "preflib")
DATA = os.path.normpath(DATA)
needs_data = pytest.mark.skipif(not os.path.isdir(DATA), reason=f"PrefLib data folder {DATA} not found")


def _index():
    with open(os.path.join(DATA, "INDEX.tsv")) as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@needs_data
def test_reads_every_shared_file():
    index = _index()
    assert len(index) == 41
    for row in index:
        path = os.path.join(DATA, row["file"])
        election = PL.read_preflib(path)
        assert election.data_type == row["data_type"]
        assert election.num_alternatives == int(row["num_alternatives"])
        assert election.num_voters == int(row["num_voters"])
        assert len(election.orders) == int(row["num_unique_orders"])
        if election.is_complete():
            profile = election.to_profile()
            assert_valid_rankings(profile.rankings)
            assert int(profile.weights.sum()) == election.num_voters
        else:  # truncated ballots: rejected by default, naming file and line
            first = next(line for o, line in zip(election.orders, election.lines)
                         if len(o) < election.num_alternatives)
            with pytest.raises(DataError, match=f"{row['file']}:{first}:"):
                election.to_profile()
            bottom = election.to_profile(incomplete="bottom")
            assert_valid_rankings(bottom.rankings)
            assert int(bottom.weights.sum()) == election.num_voters
            dropped = election.to_profile(incomplete="drop")
            assert int(dropped.weights.sum()) == sum(c for o, c in zip(election.orders, election.counts)
                                                     if len(o) == election.num_alternatives)


@needs_data
def test_bottom_completion_keeps_the_ranked_prefix():
    election = PL.read_preflib(os.path.join(DATA, "00007-00000021.soi"))
    profile = election.to_profile(incomplete="bottom")
    kept = [(o, c) for o, c in zip(election.orders, election.counts) if c > 0]
    for (order, _), row in zip(kept, np.asarray(profile.rankings[0])):
        assert tuple(row[: len(order)]) == order
        assert list(row[len(order):]) == sorted(row[len(order):])


@needs_data
def test_real_files_round_trip(tmp_path):
    for row in _index():
        election = PL.read_preflib(os.path.join(DATA, row["file"]))
        out = tmp_path / row["file"]
        PL.write_preflib(out, election)
        again = PL.read_preflib(out)
        assert again.orders == election.orders and again.counts == election.counts
        assert again.alternative_names == election.alternative_names
        assert again.header.get("TITLE") == election.header.get("TITLE")


def _repetitive_profiles(seed, batch, voters, candidates, pool=4):
    """Profiles whose ballots come from a few rankings each, so identical ballots must merge."""
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random((batch, pool, candidates)), -1)
    return np.take_along_axis(orders, rng.integers(0, pool, (batch, voters))[..., None], 1).astype(np.int32)


def test_sampled_profiles_round_trip(tmp_path):
    rankings = _repetitive_profiles(0, 20, 15, 6)
    for b, profile in enumerate(rankings):
        election = PL.from_rankings(profile, title=f"urn {b}")
        path = tmp_path / f"urn{b}.soc"
        PL.write_preflib(path, election)
        back = PL.read_preflib(path).to_profile(expand=True).rankings[0]
        assert Counter(map(tuple, np.asarray(back).tolist())) == Counter(map(tuple, profile.tolist()))


def test_weighted_profile_and_expansion_give_the_same_winners():
    election = PL.from_rankings(_repetitive_profiles(1, 1, 40, 5, pool=8)[0])
    compact, expanded = election.to_profile(), election.to_profile(expand=True)
    for name in ("borda", "instant_runoff", "kemeny"):
        rule = R.RULES[name]
        assert (np.asarray(rule(compact.rankings, compact.weights)) == np.asarray(rule(expanded.rankings))).all()


@needs_data
def test_real_elections_agree_with_pref_voting():
    pytest.importorskip("pref_voting", reason="pref_voting is not installed")
    from pref_voting.margin_based_methods import beat_path, ranked_pairs
    from pref_voting.other_methods import kemeny_young
    from pref_voting.profiles import Profile
    elections = [PL.read_preflib(os.path.join(DATA, row["file"])) for row in _index()]
    elections = [e for e in elections if e.is_complete() and e.num_alternatives <= 7]
    # one padded batch (weight-0 rows, bottom padding candidates): one compilation per rule
    rows, m_max = 128, 7
    rankings = np.tile(np.arange(m_max, dtype=np.int32), (len(elections), rows, 1))
    weights = np.zeros((len(elections), rows), np.int32)
    for b, e in enumerate(elections):
        prof = e.to_profile()
        k, m = prof.rankings.shape[1:]
        rankings[b, :k, :m] = prof.rankings[0]
        weights[b, :k] = prof.weights[0]
    for ours, theirs in ((R.schulze, beat_path), (R.kemeny, kemeny_young), (R.ranked_pairs, ranked_pairs)):
        got = np.asarray(ours(rankings, weights))
        for b, e in enumerate(elections):
            live, m = weights[b] > 0, e.num_alternatives
            ref = Profile(rankings[b, live, :m].tolist(), rcounts=weights[b, live].tolist())
            assert np.nonzero(got[b])[0].tolist() == sorted(theirs(ref)), e.path


BAD = {
    "tie.soc": ("# NUMBER ALTERNATIVES: 3\n1: 1,2,3\n2: 1,{2,3}\n", r"tie.soc:3: ties"),
    "range.soc": ("# NUMBER ALTERNATIVES: 3\n1: 1,2,4\n", r"range.soc:2: alternatives \[4\]"),
    "dup.soi": ("# NUMBER ALTERNATIVES: 3\n1: 1,1\n", r"dup.soi:2: an alternative appears twice"),
    "count.soc": ("# NUMBER ALTERNATIVES: 2\nx: 1,2\n", r"count.soc:2: count must be an integer"),
    "short.soc": ("# NUMBER ALTERNATIVES: 3\n1: 1,2\n", r"short.soc:2: soc order ranks 2 of 3"),
    "noheader.soc": ("1: 1,2\n", r"noheader.soc:1: order line before"),
    "voters.soc": ("# NUMBER ALTERNATIVES: 2\n# NUMBER VOTERS: 5\n1: 1,2\n", r"voters.soc:2: NUMBER VOTERS says 5"),
    "ties.toc": ("# NUMBER ALTERNATIVES: 2\n1: 1,2\n", r"ties.toc: PrefLib data type 'toc' is not supported"),
    "type.soi": ("# DATA TYPE: soc\n# NUMBER ALTERNATIVES: 2\n1: 1,2\n", r"type.soi:1: DATA TYPE 'soc'"),
}


H = "# NUMBER ALTERNATIVES: 3\n"  # line 1 of most cases below
NAMES = "# ALTERNATIVE NAME 1: a\n# ALTERNATIVE NAME 2: b\n# ALTERNATIVE NAME 3: c\n"
# The cases of issue 9 and their neighbours: (file bytes, message naming file:line).
STRICT = {
    "huge_m.soi": (b"# NUMBER ALTERNATIVES: 1000000000000\n1: 1\n", r"huge_m.soi:1: NUMBER ALTERNATIVES must be an integer in 1..100000"),
    "utf8.soc": (H.encode() + b"# TITLE: caf\xe9\n1: 1,2,3\n", r"utf8.soc:2: not UTF-8"),
    "bom.soc": (b"\xef\xbb\xbf" + H.encode() + b"1: 1,2,3\n", r"bom.soc:1: byte-order mark"),
    "name_range.soc": ((H + "# ALTERNATIVE NAME 4: d\n1: 1,2,3\n").encode(), r"name_range.soc:2: ALTERNATIVE NAME 4 is outside 1..3"),
    "name_twice.soc": ((H + NAMES + "# ALTERNATIVE NAME 2: e\n1: 1,2,3\n").encode(), r"name_twice.soc:5: ALTERNATIVE NAME 2 is given twice \(first on line 3\)"),
    "name_missing.soc": ((H + "# ALTERNATIVE NAME 1: a\n1: 1,2,3\n").encode(), r"name_missing.soc:1: NUMBER ALTERNATIVES is 3 but the file names 1"),
    "m_after.soc": ((H + "1: 1,2,3\n# NUMBER ALTERNATIVES: 4\n").encode(), r"m_after.soc:3: header line after the orders"),
    "m_twice.soc": ((H + "# NUMBER ALTERNATIVES: 4\n1: 1,2,3\n").encode(), r"m_twice.soc:2: NUMBER ALTERNATIVES is given twice"),
    "unknown_key.soc": ((H + "# NUMBER VOTES: 1\n1: 1,2,3\n").encode(), r"unknown_key.soc:2: unknown header 'NUMBER VOTES'"),
    "plus.soc": ((H + "+3: 1,2,3\n").encode(), r"plus.soc:2: count must be an integer"),
    "underscore.soc": ((H + "1_1: 1,2,3\n").encode(), r"underscore.soc:2: count must be an integer"),
    "space.soc": ((H + " 3: 1,2,3\n").encode(), r"space.soc:2: count must be an integer"),
    "fullwidth.soc": ((H + "\uff13: 1,2,3\n").encode(), r"fullwidth.soc:2: count must be an integer"),
    "arabic.soc": ((H + "1: 1,\u0662,3\n").encode(), r"arabic.soc:2: alternative must be an integer"),
    "zeros.soc": ((H + "07: 1,2,3\n").encode(), r"zeros.soc:2: count must be an integer"),
    "alt_zero.soc": ((H + "1: 01,2,3\n").encode(), r"alt_zero.soc:2: alternative must be an integer"),
    "total.soc": ((H + "# NUMBER VOTERS: 3\n1: 1,2,3\n").encode(), r"total.soc:2: NUMBER VOTERS says 3 but the file has 1"),
    "unique.soc": ((H + "# NUMBER UNIQUE ORDERS: 2\n1: 1,2,3\n").encode(), r"unique.soc:2: NUMBER UNIQUE ORDERS says 2"),
    "int32.soc": ((H + "2000000000: 1,2,3\n2000000000: 3,2,1\n").encode(), r"int32.soc:3: the counts add up to 4000000000"),
    "big_count.soc": ((H + "99999999999999999999: 1,2,3\n").encode(), r"big_count.soc:2: count 9+ exceeds 2147483647"),
    "empty.soc": (b"", r"empty.soc:1: end of file without a '# NUMBER ALTERNATIVES' header"),
    "no_orders.soc": (H.encode() + b"# TITLE: t\n", r"no_orders.soc:2: no order lines"),
    "trailing.soc": ((H + "1: 1,2,3 \n").encode(), r"trailing.soc:2: "),
    "no_space.soc": (b"#NUMBER ALTERNATIVES: 3\n1: 1,2,3\n", r"no_space.soc:1: header line must read '# KEY: value'"),
}


@pytest.mark.parametrize("name", sorted(STRICT))
def test_strict_grammar_names_file_and_physical_line(name, tmp_path):
    data, message = STRICT[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError, match=message):
        PL.read_preflib(path)


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00"])
def test_only_newlines_and_carriage_returns_end_lines(char, tmp_path):
    """str.splitlines would end a line at each of these and shift every later line number."""
    path = tmp_path / "odd.soc"
    path.write_bytes((H + f"# TITLE: a{char}b\n1: 1,2,3\n").encode())
    with pytest.raises(DataError, match=rf"odd.soc:2: control character U\+{ord(char):04X}"):
        PL.read_preflib(path)


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_other_line_endings_read_the_same_and_count_the_same(ending, tmp_path):
    text = H + NAMES + "# NUMBER VOTERS: 3\n2: 1,2,3\n1: 3,2,1\n"
    (tmp_path / "lf.soc").write_bytes(text.encode())
    (tmp_path / "other.soc").write_bytes(text.replace("\n", ending).encode())
    lf, other = PL.read_preflib(tmp_path / "lf.soc"), PL.read_preflib(tmp_path / "other.soc")
    assert (lf.orders, lf.counts, lf.lines, lf.alternative_names) == (other.orders, other.counts, other.lines,
                                                                      other.alternative_names)
    assert other.lines == (6, 7)
    (tmp_path / "bad.soc").write_bytes((text + "1: 1,2\n").replace("\n", ending).encode())
    with pytest.raises(DataError, match=r"bad.soc:8: soc order ranks 2 of 3"):
        PL.read_preflib(tmp_path / "bad.soc")


@needs_data
def test_real_files_with_crlf_endings_read_identically(tmp_path):
    for row in _index():
        source = os.path.join(DATA, row["file"])
        with open(source, "rb") as handle:
            data = handle.read()
        (tmp_path / row["file"]).write_bytes(data.replace(b"\n", b"\r\n"))
        a, b = PL.read_preflib(source), PL.read_preflib(tmp_path / row["file"])
        assert (a.orders, a.counts, a.lines, a.alternative_names, a.header) == \
            (b.orders, b.counts, b.lines, b.alternative_names, b.header)


def test_declared_sizes_allocate_nothing(tmp_path):
    """A header cannot make the reader (or to_profile) allocate beyond what the file holds."""
    path = tmp_path / "huge.soi"
    path.write_bytes(b"# NUMBER ALTERNATIVES: 1000000000000\n# NUMBER VOTERS: 99999999999999999999999\n1: 1\n")
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="huge.soi:1:"):
            PL.read_preflib(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 20
    path = tmp_path / "many.soc"
    path.write_bytes((H + "2000000000: 1,2,3\n").encode())
    election = PL.read_preflib(path)
    assert election.to_profile().weights.tolist() == [[2000000000]]
    with pytest.raises(DataError, match="use expand=False"):
        election.to_profile(expand=True)  # 6e9 entries


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_files_name_file_and_line(name, tmp_path):
    text, message = BAD[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        PL.read_preflib(path)


def test_write_never_overwrites_silently(tmp_path):
    election = PL.from_rankings(np.array([[0, 1, 2], [2, 1, 0]]))
    path = tmp_path / "e.soc"
    PL.write_preflib(path, election)
    with pytest.raises(FileExistsError):
        PL.write_preflib(path, election)
    PL.write_preflib(path, election, overwrite=True)
    truncated = PL.PreflibElection("mem", "soi", 3, ("a", "b", "c"), ((0,), (1, 2, 0)), (2, 1), (0, 0))
    with pytest.raises(DataError, match="cannot write soi data"):
        PL.write_preflib(tmp_path / "t.soc", truncated)
    PL.write_preflib(tmp_path / "t.soi", truncated)
    assert PL.read_preflib(tmp_path / "t.soi").orders == truncated.orders


def test_write_refuses_what_would_not_read_back(tmp_path):
    rankings = np.array([[0, 1, 2], [2, 1, 0]])
    with pytest.raises(DataError, match="ALTERNATIVE NAME 1 = 'a\\\\nb' holds a line break"):
        PL.write_preflib(tmp_path / "n.soc", PL.from_rankings(rankings, names=["a\nb", "c", "d"]))
    with pytest.raises(DataError, match="would not read back"):
        PL.write_preflib(tmp_path / "s.soc", PL.from_rankings(rankings, names=[" a", "c", "d"]))
    unknown = PL.PreflibElection("mem", "soc", 2, ("a", "b"), ((0, 1),), (1,), (0,), {"SOURCE": "x"})
    with pytest.raises(DataError, match="unknown header 'SOURCE'"):
        PL.write_preflib(tmp_path / "u.soc", unknown)
    assert not list(tmp_path.iterdir())


def test_a_repeated_order_is_kept_line_by_line(tmp_path):
    """PrefLib writes each order once, but a file of one line per judgement repeats them; every
    line is kept as written (and NUMBER UNIQUE ORDERS counts lines)."""
    path = tmp_path / "repeat.soc"
    path.write_bytes((H + "# NUMBER UNIQUE ORDERS: 2\n1: 1,2,3\n2: 1,2,3\n").encode())
    election = PL.read_preflib(path)
    assert election.orders == ((0, 1, 2), (0, 1, 2)) and election.counts == (1, 2) and election.lines == (3, 4)
    assert election.to_profile().weights.tolist() == [[1, 2]]
