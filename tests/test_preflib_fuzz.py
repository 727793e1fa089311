"""Seeded mutation fuzzing of ``read_preflib`` over the real PrefLib files.

Every mutated file must either parse exactly as an independent strict validator (``strict_preflib``
below, written apart from the reader: whole-file splitting and string tests instead of the
reader's line parser and regular expressions) parses it, or raise ``DataError`` naming the file
and a physical line; the validator must also agree that the file is invalid. Anything else (other
exceptions, messages without ``file:line``, invalid files accepted, valid files rejected or parsed
differently) is a failure, listed with the mutation that caused it.
"""

import glob
import os

import pytest

from mechjax.testing import fuzz
from mechjax.voting.preflib import read_preflib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                     "shared", "data"))
PREFLIB, EXTRA = os.path.join(ROOT, "preflib"), os.path.join(ROOT, "preflib-extra")
needs_data = pytest.mark.skipif(not os.path.isdir(PREFLIB),
                                reason=f"PrefLib data folder {PREFLIB} not found")

KEYS = {"FILE NAME", "TITLE", "DESCRIPTION", "DATA TYPE", "MODIFICATION TYPE", "RELATES TO",
        "RELATED FILES", "PUBLICATION DATE", "MODIFICATION DATE", "NUMBER ALTERNATIVES",
        "NUMBER VOTERS", "NUMBER UNIQUE ORDERS", "ANNOTATORS"}
INT32_MAX = 2 ** 31 - 1
MAX_ALTERNATIVES = 100_000
NAME_PREFIX = "ALTERNATIVE NAME "


def _natural(text):
    """ASCII digits, no sign, no leading zero unless the number is 0."""
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))


def _forbidden(char):
    code = ord(char)
    return ((code < 32 and char not in "\t\n\r") or 127 <= code <= 159
            or char in "\u2028\u2029\ufeff")


def strict_preflib(data: bytes, name: str) -> dict:
    """The parse a correct reader gives for ``data``; raises (anything) when the file is invalid.

    The grammar is the one documented in ``mechjax.voting.preflib``.
    """
    ext = name.rsplit(".", 1)[1].lower()
    text = data.decode("utf-8")
    assert not any(map(_forbidden, text)), "control character"
    rows = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if rows[-1] == "":
        rows.pop()
    numbered = [(i, row) for i, row in enumerate(rows, 1) if row]
    split = next(k for k, (_, row) in enumerate(numbered) if not row.startswith("#"))
    head, body = numbered[:split], numbered[split:]
    assert not any(row.startswith("#") for _, row in body), "header after orders"
    meta, names = {}, {}
    for _, row in head:
        assert row.startswith("# ")
        key, value = row[2:].split(":", 1)
        value = value.strip(" \t")
        if key.startswith(NAME_PREFIX):
            index = key[len(NAME_PREFIX):]
            assert _natural(index) and index not in names
            names[index] = value
        else:
            assert key in KEYS and key not in meta
            meta[key] = value
    num = meta["NUMBER ALTERNATIVES"]
    assert _natural(num) and 1 <= int(num) <= MAX_ALTERNATIVES
    m = int(num)
    assert not names or sorted(names) == sorted(str(i) for i in range(1, m + 1))
    assert meta.get("DATA TYPE", ext) == ext
    orders, counts, lines, total = [], [], [], 0
    for lineno, row in body:
        count, colon, rest = row.partition(":")
        assert colon and _natural(count)
        alternatives = (rest[1:] if rest.startswith(" ") else rest).split(",")
        assert all(_natural(a) and a != "0" and int(a) <= m for a in alternatives)
        order = tuple(int(a) - 1 for a in alternatives)
        assert len(set(order)) == len(order)
        assert ext == "soi" or len(order) == m
        total += int(count)
        assert total <= INT32_MAX
        orders.append(order)
        counts.append(int(count))
        lines.append(lineno)
    assert meta.get("NUMBER VOTERS", str(total)) == str(total)
    assert meta.get("NUMBER UNIQUE ORDERS", str(len(orders))) == str(len(orders))
    return dict(data_type=ext, num_alternatives=m, orders=tuple(orders), counts=tuple(counts),
                lines=tuple(lines), header=meta,
                alternative_names=tuple(names.get(str(i), f"Alternative {i}") for i in range(1, m + 1)))


def same_election(election, expected: dict) -> bool:
    return all(getattr(election, key) == value for key, value in expected.items())


def _memory_limit(num_bytes):
    """Peak bytes one read may allocate: linear in the file (a header's declared sizes add nothing)."""
    return 64 * num_bytes + (1 << 20)


def _fuzz(paths, n, seed):
    return fuzz.fuzz_reader(read_preflib, paths, n, seed, oracle=strict_preflib, same=same_election,
                            memory_limit=_memory_limit)


def _report(outcomes):
    print(f"\noutcomes: {dict(outcomes)}; slowest case {outcomes.slowest[0]:.3f} s ({outcomes.slowest[1]})")
    return "\n".join(f"{outcome} ({outcomes[outcome]}): " + "\n    ".join(examples)
                     for outcome, examples in outcomes.examples.items() if outcome.startswith("BAD"))


@needs_data
def test_mutated_real_files_parse_exactly_or_fail_clearly():
    paths = sorted(glob.glob(os.path.join(PREFLIB, "*.so[ci]")))
    assert len(paths) == 41
    outcomes = _fuzz(paths, 80, seed=0)
    assert outcomes.bad() == 0, _report(outcomes)
    _report(outcomes)
    # the mutations reach both sides of the contract
    assert outcomes[fuzz.EXACT] > len(paths) and outcomes[fuzz.ERROR] > 1000


@needs_data
@pytest.mark.skipif(not os.path.isdir(EXTRA), reason=f"PrefLib extra folder {EXTRA} not found")
def test_mutated_sushi_parses_exactly_or_fails_clearly():
    outcomes = _fuzz(sorted(glob.glob(os.path.join(EXTRA, "*.soi"))), 12, seed=1)
    assert outcomes.bad() == 0, _report(outcomes)
    _report(outcomes)


def test_the_oracle_and_the_fuzzer_can_fail(tmp_path):
    """The judge is not vacuous: a lenient reader is caught, and so is a wrong line number."""
    path = tmp_path / "x.soc"
    good = b"# NUMBER ALTERNATIVES: 2\n3: 1,2\n"
    path.write_bytes(good)
    assert fuzz.classify(read_preflib, str(path), good, strict_preflib, same_election)[0] == fuzz.EXACT
    lenient = b"# NUMBER ALTERNATIVES: 2\n+3: 1,2\n"
    path.write_bytes(lenient)
    accept = lambda p: strict_preflib(good, "x.soc")  # noqa: E731  a reader that accepts anything
    assert fuzz.classify(accept, str(path), lenient, strict_preflib)[0] == fuzz.BAD_ACCEPTED

    def wrong_line(p):
        from mechjax.errors import DataError
        raise DataError(f"{p}:9: bad")
    assert fuzz.classify(wrong_line, str(path), lenient, strict_preflib)[0] == fuzz.BAD_MESSAGE
    assert fuzz.classify(lambda p: 1 / 0, str(path), lenient)[0] == fuzz.BAD_EXCEPTION


def test_mutations_are_seeded_and_varied():
    data = b"# NUMBER ALTERNATIVES: 3\n# NUMBER VOTERS: 5\n5: 1,2,3\n"
    import numpy as np
    first = list(fuzz.mutations(data, np.random.default_rng(7), 200))
    again = list(fuzz.mutations(data, np.random.default_rng(7), 200))
    assert first == again
    assert len({m for m, _ in first}) > 150
    assert all(isinstance(m, bytes) and isinstance(d, str) and d for m, d in first)
