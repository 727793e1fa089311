"""A seeded mutation fuzzer for readers of text data formats (PrefLib, pabulib, ...).

The contract every reader in mechjax keeps: given any bytes, it either returns exactly what the
file says, or raises :class:`mechjax.errors.DataError` whose message names the file and a
*physical* line, ``"<path>:<line>: ..."``; never another exception, never a silently wrong parse.
Physical lines are what a text editor shows: only ``\\n``, ``\\r\\n`` and ``\\r`` end a line
(``\\x0b``, ``\\x0c``, ``\\x1c``-``\\x1e``, U+0085, U+2028 ... do not, unlike ``str.splitlines``).

Two pieces, both format-agnostic:

* ``mutations(data, rng, n)`` yields ``n`` ``(mutated_bytes, description)`` pairs: byte flips,
  inserted/deleted/duplicated/swapped/moved lines, numbers replaced by edge values (``0``, ``-1``,
  ``+3``, ``1_1``, huge, non-ASCII digits, ...), control characters and stray ``\\r``, truncation,
  other line endings and encodings; a few are stacked.
* ``fuzz_reader(read_fn, paths, n, seed, oracle=..., same=...)`` writes each mutation under the
  original file name (so the extension still selects the format) and classifies the outcome:

  - ``exact-parse``: accepted, and the oracle parses it to an equal value;
  - ``clear-error``: ``DataError`` naming the file and a line in ``1..physical_lines + 1``, and
    the oracle agrees the file is invalid;
  - ``BAD ...``: anything else (another exception, a ``DataError`` without ``file:line`` or with a
    line out of range, an accepted file the oracle rejects or parses differently, a file the
    oracle accepts but the reader rejects, a read past ``memory_limit``).

The oracle is the independent judge of validity: ``oracle(data, name) -> expected`` returns the
parse a correct reader must give, or raises any exception when the file is invalid. Write it
separately from the reader (e.g. one regular expression for the whole grammar) so that both
must be wrong the same way for a bug to hide. Without an oracle, accepted files count as
``accepted (unchecked)``, which is weaker and says so.

Example (see tests/test_preflib_fuzz.py)::

    outcomes = fuzz_reader(read_preflib, paths, n=100, seed=0, oracle=strict_preflib, same=equal)
    assert outcomes.bad() == 0, outcomes.examples
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import tracemalloc
import zlib
from collections import Counter
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from mechjax.errors import DataError

EXACT = "exact-parse"
ERROR = "clear-error"
UNCHECKED = "accepted (unchecked)"
BAD_EXCEPTION = "BAD other exception"
BAD_MESSAGE = "BAD DataError without file:line in range"
BAD_ACCEPTED = "BAD accepted an invalid file"
BAD_MISMATCH = "BAD accepted with a different parse"
BAD_REJECTED = "BAD rejected a valid file"
BAD_MEMORY = "BAD memory over the limit"

#: Replacements for a run of digits: edge values a reader must reject or handle exactly.
EDGE_NUMBERS = (
    b"0", b"-1", b"-0", b"+3", b"1_1", b"00", b"007", b" 3", b"3 ", b"1.0", b"1e3", b"0x1", b"",
    b"2147483647", b"2147483648", b"4294967296", b"1000000000000", b"9" * 40,
    "\uff13".encode(), "\u0663".encode(), "\u00b2".encode(), "1\u00a0".encode(),
)

#: Bytes a reader must not mistake for line breaks or ignore silently (raw and UTF-8 encoded).
CONTROL = (
    b"\x00", b"\t", b"\x0b", b"\x0c", b"\r", b"\x1c", b"\x1d", b"\x1e", b"\x1f", b"\x7f",
    "\x85".encode(), "\u2028".encode(), "\u2029".encode(), "\ufeff".encode(),
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x85",
)

_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_TERMINATOR = re.compile(rb"\r\n|\r|\n")
_DIGITS = re.compile(rb"[0-9]+")
_PUNCT = re.compile(rb"[!-/:-@\[-`{-~]")


def physical_lines(data: bytes) -> list[bytes]:
    """``data`` split into lines as an editor shows them, each keeping its terminator."""
    return _LINE.findall(data)


def line_count(data: bytes) -> int:
    """Number of physical lines (a final line without terminator counts)."""
    return len(physical_lines(data))


# ----------------------------------------------------------------------------- mutations

def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _flip_bit(data, rng):
    i = int(rng.integers(len(data)))
    bit = int(rng.integers(8))
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:], f"flip bit {bit} of byte {i}"


def _set_byte(data, rng):
    i, value = int(rng.integers(len(data))), int(rng.integers(256))
    return data[:i] + bytes([value]) + data[i + 1:], f"byte {i} := {value:#04x}"


def _delete_bytes(data, rng):
    i = int(rng.integers(len(data)))
    k = int(rng.integers(1, 4))
    return data[:i] + data[i + k:], f"delete {k} bytes at {i}"


def _insert_control(data, rng):
    i = int(rng.integers(len(data) + 1))
    char = _pick(rng, CONTROL)
    return data[:i] + char + data[i:], f"insert {char!r} at byte {i}"


def _control_at_line_edge(data, rng):
    lines = physical_lines(data)
    j, char = int(rng.integers(len(lines))), _pick(rng, CONTROL)
    line = lines[j]
    body = line.rstrip(b"\r\n")
    where = _pick(rng, ("start", "end"))
    lines[j] = char + line if where == "start" else body + char + line[len(body):]
    return b"".join(lines), f"insert {char!r} at the {where} of line {j + 1}"


def _truncate(data, rng):
    i = int(rng.integers(len(data)))
    return data[:i], f"truncate to {i} bytes"


def _line_op(data, rng):
    lines = physical_lines(data)
    if lines and not lines[-1].endswith((b"\n", b"\r")):
        lines[-1] += b"\n"  # so moved lines stay separate
    j, k = int(rng.integers(len(lines))), int(rng.integers(len(lines)))
    op = _pick(rng, ("delete", "duplicate", "swap", "move", "copy", "blank", "whitespace"))
    if op == "delete":
        del lines[j]
        what = f"delete line {j + 1}"
    elif op == "duplicate":
        lines.insert(j, lines[j])
        what = f"duplicate line {j + 1}"
    elif op == "swap":
        lines[j], lines[k] = lines[k], lines[j]
        what = f"swap lines {j + 1} and {k + 1}"
    elif op == "move":
        line = lines.pop(j)
        lines.insert(k, line)
        what = f"move line {j + 1} to {k + 1}"
    elif op == "copy":
        lines.insert(k, lines[j])
        what = f"copy line {j + 1} before line {k + 1}"
    elif op == "blank":
        lines.insert(k, _pick(rng, (b"\n", b" \n", b"\t\n", b"\r\n")))
        what = f"blank line before line {k + 1}"
    else:
        pad = _pick(rng, (b" ", b"\t", b"  "))
        body = lines[j].rstrip(b"\r\n")
        lines[j] = pad + body + pad + lines[j][len(body):]
        what = f"pad line {j + 1} with {pad!r}"
    return b"".join(lines), what


def _number(data, rng):
    runs = list(_DIGITS.finditer(data))
    if not runs:
        return _insert_control(data, rng)
    run = _pick(rng, runs)
    choice = int(rng.integers(4))
    if choice == 0:  # off by one: keeps the syntax, breaks totals or ranges
        value = str(int(run.group()) + _pick(rng, (-1, 1))).encode()
    elif choice == 1:  # another number from the same file
        value = _pick(rng, runs).group()
    else:
        value = _pick(rng, EDGE_NUMBERS)
    line = data.count(b"\n", 0, run.start()) + 1
    return (data[:run.start()] + value + data[run.end():],
            f"number {run.group().decode()} near line {line} := {value!r}")


def _punctuation(data, rng):
    marks = list(_PUNCT.finditer(data))
    if not marks:
        return _set_byte(data, rng)
    mark = _pick(rng, marks)
    i = mark.start()
    op = int(rng.integers(3))
    if op == 0:
        return data[:i] + data[i + 1:], f"delete {mark.group()!r} at byte {i}"
    if op == 1:
        return data[:i] + mark.group() * 2 + data[i + 1:], f"double {mark.group()!r} at byte {i}"
    other = _pick(rng, (b",", b":", b";", b"#", b"{", b"}", b" ", b"-"))
    return data[:i] + other + data[i + 1:], f"{mark.group()!r} at byte {i} := {other!r}"


def _line_endings(data, rng):
    ending = _pick(rng, (b"\r\n", b"\r", b"\n\n", b"\x0b", b"\x1e", "\u2028".encode(), "\x85".encode()))
    if rng.integers(2):
        return _TERMINATOR.sub(ending, data), f"every line ending := {ending!r}"
    ends = list(_TERMINATOR.finditer(data))
    if not ends:
        return data + ending, f"append {ending!r}"
    end = _pick(rng, ends)
    return data[:end.start()] + ending + data[end.end():], f"line ending at byte {end.start()} := {ending!r}"


def _encoding(data, rng):
    text = data.decode("utf-8", errors="surrogateescape")
    codec = _pick(rng, ("utf-16", "utf-16-le", "utf-32", "utf-8-sig", "latin-1", "cp1252"))
    if codec in ("latin-1", "cp1252"):
        text = text + "# caf\u00e9 \u00e9l\u00e8ve\n" if rng.integers(2) else text
        return text.encode(codec, errors="replace"), f"re-encoded as {codec}"
    return text.encode(codec, errors="surrogatepass"), f"re-encoded as {codec}"


# Weighted so that structural and numeric damage dominate; encodings are few but always tried.
_OPS = ((_flip_bit, 2), (_set_byte, 1), (_delete_bytes, 1), (_insert_control, 2),
        (_control_at_line_edge, 2), (_truncate, 1), (_line_op, 4), (_number, 5),
        (_punctuation, 2), (_line_endings, 1), (_encoding, 0.5))
_WEIGHTS = np.array([w for _, w in _OPS]) / sum(w for _, w in _OPS)


def mutate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """One random mutation of ``data`` (1 to 3 stacked operations) and its description."""
    steps = []
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        if not data:
            data, what = b"\n", "empty -> newline"
        else:
            op = _OPS[int(rng.choice(len(_OPS), p=_WEIGHTS))][0]
            data, what = op(data, rng)
        steps.append(what)
    return data, " + ".join(steps)


def mutations(data: bytes, rng: np.random.Generator, n: int) -> Iterator[tuple[bytes, str]]:
    """``n`` seeded mutations of ``data``.

    Args:
        data: the original file's bytes.
        rng: a ``numpy.random.Generator``; the same seed gives the same mutations.
        n: how many to yield.

    Yields:
        ``(mutated_bytes, description)``; the description says what was done, for bug reports.
    """
    for _ in range(n):
        yield mutate(data, rng)


# ----------------------------------------------------------------------------- the runner

class FuzzOutcomes(Counter):
    """Outcome counts (a ``Counter``) plus up to a few ``examples`` per outcome, ``bad()``, and
    ``slowest``: ``(seconds, example)`` of the slowest case, reader and oracle together
    (reported, never asserted: timing belongs in benchmarks)."""

    def __init__(self):
        super().__init__()
        self.examples: dict[str, list[str]] = {}
        self.slowest: tuple[float, str] = (0.0, "")

    def bad(self) -> int:
        """How many outcomes were BAD."""
        return sum(count for outcome, count in self.items() if outcome.startswith("BAD"))

    def record(self, outcome: str, example: str, keep: int = 3) -> None:
        self[outcome] += 1
        kept = self.examples.setdefault(outcome, [])
        if len(kept) < keep:
            kept.append(example)


def names_file_and_line(message: str, path: str, data: bytes) -> Optional[int]:
    """The line a ``"<path>:<line>:"`` message names, if it is in ``1..physical_lines + 1``."""
    found = re.search(re.escape(path) + r":(\d+)\b", message)
    if not found:
        return None
    line = int(found.group(1))
    return line if 1 <= line <= line_count(data) + 1 else None


def classify(read_fn: Callable[[str], Any], path: str, data: bytes,
             oracle: Optional[Callable[[bytes, str], Any]] = None,
             same: Callable[[Any, Any], bool] = lambda a, b: a == b,
             memory_limit: Optional[int] = None) -> tuple[str, str]:
    """Reads ``path`` (which holds ``data``) with ``read_fn`` and judges the outcome.

    Args:
        read_fn: the reader, ``read_fn(path) -> parsed``.
        path: the file to read; ``data`` must already be written there.
        data: its bytes, for the oracle and the line range.
        oracle: ``oracle(data, basename) -> expected``, raising when the file is invalid.
        same: compares the reader's result with the oracle's.
        memory_limit: bytes; if set, the read runs under ``tracemalloc`` and a higher peak is BAD.

    Returns:
        ``(outcome, detail)``, the outcome one of the module's outcome strings.
    """
    expected, valid, why = None, None, ""
    if oracle is not None:
        try:
            expected, valid = oracle(data, os.path.basename(path)), True
        except Exception as err:  # any failure of the oracle means "invalid"
            valid, why = False, f"{type(err).__name__}: {err}"
    if memory_limit is not None:
        tracemalloc.start()
    try:
        parsed = read_fn(path)
    except DataError as err:
        if names_file_and_line(str(err), path, data) is None:
            return BAD_MESSAGE, str(err)[:300]
        if valid:
            return BAD_REJECTED, str(err)[:300]
        return ERROR, str(err)[:300]
    except Exception as err:  # the point of the fuzzer: any other exception is a bug
        return BAD_EXCEPTION, f"{type(err).__name__}: {str(err)[:300]}"
    finally:
        if memory_limit is not None:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    if memory_limit is not None and peak > memory_limit:
        return BAD_MEMORY, f"peak {peak} bytes > {memory_limit}"
    if oracle is None:
        return UNCHECKED, ""
    if not valid:
        return BAD_ACCEPTED, f"oracle: {why[:300]}"
    if not same(parsed, expected):
        return BAD_MISMATCH, ""
    return EXACT, ""


def fuzz_reader(read_fn: Callable[[str], Any], paths: Sequence[str], n: int, seed: int, *,
                oracle: Optional[Callable[[bytes, str], Any]] = None,
                same: Callable[[Any, Any], bool] = lambda a, b: a == b,
                memory_limit: Optional[Callable[[int], int]] = None,
                include_original: bool = True) -> FuzzOutcomes:
    """Fuzzes ``read_fn`` with ``n`` mutations of each file in ``paths``.

    Each mutation is written to a temporary folder under the original file name. The stream of
    mutations for a file depends only on ``seed`` and the file's name.

    Args:
        read_fn: ``read_fn(path) -> parsed``.
        paths: the real files to mutate.
        n: mutations per file.
        seed: the fuzzer's seed.
        oracle: independent validity judge, see the module docstring.
        same: ``same(parsed, expected) -> bool``; ``==`` by default.
        memory_limit: ``memory_limit(num_bytes) -> peak bytes allowed`` for one read (tracemalloc
            is slow; leave None unless memory is what you test).
        include_original: also classify each unmutated file (it must be an exact parse).

    Returns:
        A :class:`FuzzOutcomes` counter keyed by outcome, with examples ``"file: mutation: detail"``.
    """
    outcomes = FuzzOutcomes()
    with tempfile.TemporaryDirectory(prefix="mechjax-fuzz-") as tmp:
        for source in paths:
            name = os.path.basename(source)
            with open(source, "rb") as handle:
                original = handle.read()
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            target = os.path.join(tmp, name)
            cases = mutations(original, rng, n)
            if include_original:
                cases = _chain([(original, "unmutated")], cases)
            for data, description in cases:
                with open(target, "wb") as handle:
                    handle.write(data)
                limit = None if memory_limit is None else memory_limit(len(data))
                started = time.perf_counter()
                outcome, detail = classify(read_fn, target, data, oracle, same, limit)
                seconds = time.perf_counter() - started
                outcomes.record(outcome, f"{name}: {description}: {detail}")
                if seconds > outcomes.slowest[0]:
                    outcomes.slowest = (seconds, f"{name}: {description}")
    return outcomes


def _chain(first, rest):
    yield from first
    yield from rest
