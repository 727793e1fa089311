"""Train a mechanism: ``python experiments/train.py [overrides]`` (``-m`` sweeps).

With no arguments: RegretNet on the 1 bidder x 2 items additive U[0,1] auction, on CPU in minutes.
Re-running the same command with the same ``hydra.run.dir`` resumes from the last checkpoint.
Errors print one message (``debug=true`` or ``MECHJAX_DEBUG=1`` for the traceback).
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax import cli, distributed  # noqa: E402
from mechjax.config import register_schemas  # noqa: E402
from mechjax.experiment import DEFAULT_CONF_DIR, headline, train  # noqa: E402
from mechjax.report import summary_table  # noqa: E402

register_schemas()


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    if cfg.get("distributed", False):
        # every process runs this script (one per host or GPU, e.g. under Slurm); see mechjax.distributed
        distributed.initialize()
    run_dir = HydraConfig.get().runtime.output_dir
    summary = train(cfg, run_dir)
    if not distributed.is_primary():
        return 0.0  # process 0 evaluates, writes and reports
    print(summary_table(summary))
    return headline(summary)  # the number a Hydra sweeper optimises


if __name__ == "__main__":
    cli.run(main, DEFAULT_CONF_DIR)
