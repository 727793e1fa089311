"""Write a results table: ``python experiments/reproduce.py table=<name> [seeds=0,1] [overwrite=true]``.

``table=list`` lists the tables. Runs land in ``experiments/runs/<table>/`` (resumed if present;
``runs=<dir>`` moves them), the table in ``experiments/results/<table>.md``. A run table passes
Hydra overrides (``trainer.steps=...``) to its training runs; a computed table takes its own
``key=value`` options. See ``mechjax/reproduce.py``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax.reproduce import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
