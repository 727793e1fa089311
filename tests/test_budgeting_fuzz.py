"""Fuzzing the pabulib reader (mechjax.testing.fuzz): every mutation of small real files is either
parsed exactly as an independent oracle parses it, or rejected with a DataError naming file and line."""

import glob
import os
import re
from fractions import Fraction

import numpy as np
import pytest

from mechjax.budgeting import read_pabulib
from mechjax.budgeting.election import Election

fuzz = pytest.importorskip("mechjax.testing.fuzz", reason="mechjax.testing.fuzz is not there yet")

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "pabulib")
SMALL = sorted(glob.glob(os.path.join(DATA, "*.pb")), key=os.path.getsize)[:8]

_FIELD = re.compile(r'"((?:[^"]|"")*)"|([^";]*)')
_BAD = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029\ufeff]")
_NUM = re.compile(r"[0-9]+(?:[.,][0-9]+)?")
_INT = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")


def _split(line):
    """Fields of one row by one regular expression pass; raises on any malformed quoting."""
    fields, pos = [], 0
    while True:
        m = _FIELD.match(line, pos)
        fields.append(m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2))
        pos = m.end()
        if pos == len(line):
            return fields
        if line[pos] != ";":
            raise ValueError("bad quoting")
        pos += 1


def oracle(data: bytes, name: str):
    """An independent strict parse of a .pb file (whole-file, regex based); raises if invalid."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.decode("utf-8")
    lines = re.split(r"\r\n|\r|\n", text)
    rows, sections = [], {}
    for line in lines:
        if line == "":
            continue
        assert not _BAD.search(line) and line.strip() != ""
        fields = _split(line)
        if fields in (["META"], ["PROJECTS"], ["VOTES"]):
            assert fields[0] not in sections
            sections[fields[0]] = len(rows)
        rows.append(fields)
    assert list(sections) == ["META", "PROJECTS", "VOTES"] and sections["META"] == 0
    meta_rows = rows[1:sections["PROJECTS"]]
    project_rows = rows[sections["PROJECTS"] + 1:sections["VOTES"]]
    vote_rows = rows[sections["VOTES"] + 1:]
    assert meta_rows[0] == ["key", "value"] and all(len(r) == 2 for r in meta_rows)
    meta = {}
    for key, value in meta_rows[1:]:
        assert key not in meta
        meta[key] = value
    vote_type = meta["vote_type"]
    assert vote_type in ("approval", "choose-1", "cumulative", "scoring", "ordinal")
    for key in ("num_projects", "num_votes"):
        assert _INT.fullmatch(meta[key])
    for key in ("min_length", "max_length", "min_points", "max_points", "min_sum_points", "max_sum_points"):
        assert key not in meta or _INT.fullmatch(meta[key])
    for key in ("budget", "min_sum_cost", "max_sum_cost"):
        assert key not in meta or _NUM.fullmatch(meta[key])
    phead = project_rows[0]
    assert phead[:2] == ["project_id", "cost"] and len(set(phead)) == len(phead) and "" not in phead
    cardinal = vote_type in ("cumulative", "scoring")
    ids, costs, pmeta = [], [], []
    for r in project_rows[1:]:
        assert len(r) == len(phead) and r[0] and "," not in r[0] and r[0] not in ids and _NUM.fullmatch(r[1])
        ids.append(r[0])
        costs.append(Fraction(r[1].replace(",", ".")))
        pmeta.append(tuple(r[2:]))
    assert len(ids) == int(meta["num_projects"])
    vhead = vote_rows[0]
    first = ["voter_id", "vote"] + (["points"] if cardinal else [])
    assert vhead[:len(first)] == first and len(set(vhead)) == len(vhead) and "" not in vhead
    assert cardinal or "points" not in vhead[2:]
    approvals = np.zeros((len(vote_rows) - 1, len(ids)), bool)
    scores = np.zeros(approvals.shape) if cardinal else None
    ranks = np.zeros(approvals.shape, np.int32) if vote_type == "ordinal" else None
    voters, vmeta = [], []
    for v, r in enumerate(vote_rows[1:]):
        assert len(r) == len(vhead) and r[0] not in voters
        names = r[1].split(",") if r[1] else []
        chosen = [ids.index(n) for n in names]
        if len(set(chosen)) < len(chosen):
            assert vote_type in ("approval", "choose-1")
            chosen = list(dict.fromkeys(chosen))
        assert vote_type != "choose-1" or len(chosen) <= 1
        approvals[v, chosen] = True
        if cardinal:
            points = r[2].split(",") if r[2] else []
            assert len(points) == len(names)
            assert all((_INT if vote_type == "cumulative" else _SIGNED).fullmatch(p) for p in points)
            scores[v, chosen] = [int(p) for p in points]
        if ranks is not None:
            ranks[v, chosen] = np.arange(1, len(chosen) + 1)
        voters.append(r[0])
        vmeta.append(tuple(r[len(first):]))
    assert len(voters) == int(meta["num_votes"])
    budget = Fraction(meta["budget"].replace(",", "."))
    return Election(project_ids=tuple(ids), costs=np.array([float(c) for c in costs]), budget=float(budget),
                    approvals=approvals, exact_costs=tuple(costs), exact_budget=budget, vote_type=vote_type,
                    scores=scores, ranks=ranks, voter_ids=tuple(voters), meta=meta,
                    project_columns=tuple(phead[2:]), project_meta=tuple(pmeta),
                    voter_columns=tuple(vhead[len(first):]), voter_meta=tuple(vmeta))


@pytest.mark.skipif(not SMALL, reason=f"no pabulib data at {DATA} (../shared/data/pabulib)")
def test_mutated_real_files_parse_exactly_or_fail_clearly():
    outcomes = fuzz.fuzz_reader(read_pabulib, SMALL, n=400, seed=0, oracle=oracle)
    assert outcomes.bad() == 0, outcomes.examples
    assert outcomes[fuzz.EXACT] > 0 and outcomes[fuzz.ERROR] > 0
