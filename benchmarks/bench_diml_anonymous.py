"""DIML on large anonymous games: wall time per epoch and recovery at n = 40, 80, 120 agents.

    python benchmarks/bench_diml_anonymous.py --agents 40,80,120 --seeds 3

Prints the table (``mechjax.inverse.studies.anonymous_instance`` per (n, seed), rendered by the
``diml_anonymous`` results table). The committed ``experiments/results/diml_anonymous.md`` is
written by ``python experiments/reproduce.py table=diml_anonymous``; this script writes nothing
there. ``--json PATH`` keeps the raw rows. Numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax.inverse import studies  # noqa: E402
from mechjax.inverse.tables import produce_anonymous  # noqa: E402
from mechjax.tables import TableContext  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="40,80,120")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--models", default=",".join(studies.ANONYMOUS_MODELS))
    parser.add_argument("--tiny", action="store_true", help="seconds-long smoke configuration")
    parser.add_argument("--json", default=None, help="write the raw per-(n, seed) rows here")
    args = parser.parse_args(argv)
    options = {"agents": tuple(int(x) for x in args.agents.split(",")), "models": tuple(args.models.split(",")),
               "tiny": args.tiny}
    started = time.perf_counter()
    body, rows = produce_anonymous(TableContext(seeds=tuple(range(args.seeds)), runs_root="", extra=options))
    print(body)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
