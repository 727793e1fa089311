"""PrefLib .soc/.soi: every shared real file reads, round trips are exact, bad files name the line."""

import csv
import os
from collections import Counter

import jax
import numpy as np
import pytest

from mechjax.errors import DataError
from mechjax.testing.voting import assert_valid_rankings
from mechjax.voting import preflib as PL
from mechjax.voting import profiles as P
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


def test_sampled_profiles_round_trip(tmp_path):
    rankings = np.asarray(P.urn(jax.random.key(0), 20, 15, 6, 0.5).rankings)
    for b, profile in enumerate(rankings):
        election = PL.from_rankings(profile, title=f"urn {b}")
        path = tmp_path / f"urn{b}.soc"
        PL.write_preflib(path, election)
        back = PL.read_preflib(path).to_profile(expand=True).rankings[0]
        assert Counter(map(tuple, np.asarray(back).tolist())) == Counter(map(tuple, profile.tolist()))


def test_weighted_profile_and_expansion_give_the_same_winners():
    election = PL.from_rankings(np.asarray(P.mallows(jax.random.key(1), 1, 40, 5, 0.6).rankings)[0])
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
