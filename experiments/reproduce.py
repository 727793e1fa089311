"""Reproduce a committed results table: ``python experiments/reproduce.py table=regretnet seeds=0``.

Runs land in ``experiments/runs/<table>/`` (resumed if present) and the table in
``experiments/results/<table>.md``. Any other ``key=value`` is passed to every training run.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax.reproduce import REPO_DIR, TABLES, run_table  # noqa: E402


def main(argv):
    args = dict(a.split("=", 1) for a in argv if "=" in a and not a.startswith(("+", "trainer.", "attack.")))
    extra = [a for a in argv if a.startswith(("+", "trainer.", "attack."))]
    table = args.get("table", "regretnet")
    if table not in TABLES:
        sys.exit(f"table={table!r} is unknown; choose from {sorted(TABLES)}")
    seeds = [int(s) for s in args.get("seeds", "0").split(",")]
    path = run_table(table, seeds, args.get("runs", os.path.join(REPO_DIR, "experiments", "runs")),
                     os.path.join(REPO_DIR, "experiments", "results"), extra)
    print(open(path).read())


if __name__ == "__main__":
    main(sys.argv[1:])
