"""Where the test suite's compilation goes.

    MECHJAX_COMPILE_LOG=/tmp/compile-log JAX_COMPILATION_CACHE_DIR=/tmp/cold-cache python -m pytest -q -n 2
    python benchmarks/suite_compile.py /tmp/compile-log [top=30]

The first command runs the suite with tests/conftest.py's compile listener (one line per traced,
lowered and compiled program, from every pytest process; a fresh cache directory makes it a cold
run, as in CI). This script sums those lines: seconds by test file, by test, and by program name
(the jitted function's name: ``_truncated_normal`` is a weight initialiser, ``chunk_one`` a training
chunk), each with the number of programs. Not a test: the seconds depend on the machine and its load.
"""

import collections
import glob
import os
import sys


def main(argv):
    log_dir = argv[0]
    top = int(argv[1].split("=", 1)[1]) if len(argv) > 1 else 30
    rows, paths = [], glob.glob(os.path.join(log_dir, "compile-*.tsv"))
    for path in paths:
        with open(path) as f:
            for line in f:
                test, fun, event, secs = line.rstrip("\n").split("\t")
                rows.append((test, fun, event, float(secs)))
    if not rows:
        sys.exit(f"no compile-*.tsv under {log_dir}: run the suite with MECHJAX_COMPILE_LOG={log_dir} first")
    by_event = collections.Counter()
    for _, _, event, secs in rows:
        by_event[event] += secs
    print(f"{len(rows)} events from {len(paths)} processes")
    for event, secs in by_event.most_common():
        print(f"  {event}: {secs:,.1f} s")

    def table(title, key):
        secs, count = collections.Counter(), collections.Counter()
        for row in rows:
            if row[2] == "backend_compile_duration":
                secs[key(row)] += row[3]
                count[key(row)] += 1
        print(f"\n## Backend compilation by {title} (top {top} of {len(secs)})\n")
        print("| seconds | programs | " + title + " |\n|---|---|---|")
        for name, s in secs.most_common(top):
            print(f"| {s:,.1f} | {count[name]} | `{name}` |")

    table("test file", lambda row: row[0].split("::", 1)[0])
    table("test", lambda row: row[0])
    table("program", lambda row: row[1])


if __name__ == "__main__":
    main(sys.argv[1:])
