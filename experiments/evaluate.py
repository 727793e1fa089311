"""Evaluate a trained run or a classical mechanism with the strong attacker.

    python experiments/evaluate.py run_dir=outputs/... attack.steps=2000 attack.restarts=100
    python experiments/evaluate.py problem=auction/additive_2x2 mechanism=vcg

The summary is written to this job's own run directory (printed at the end).
"""

import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mechjax.config import register_schemas  # noqa: E402
from mechjax.experiment import evaluate  # noqa: E402
from mechjax.report import summary_table  # noqa: E402

register_schemas()


@hydra.main(config_path="../conf", config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    out_dir = HydraConfig.get().runtime.output_dir
    summary = evaluate(cfg, run_dir=cfg.get("run_dir"), out_dir=out_dir)
    summary["run_dir"] = out_dir
    print(summary_table(summary, title="evaluation"))


if __name__ == "__main__":
    main()
