"""Command line: ``python -m snnexp [overrides]`` or ``snnexp [overrides]``."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from snnexp.errors import SnnexpError
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment
from snnexp.sweep import check_objective, objective_value, run_sweep_job

log = logging.getLogger("snnexp")


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _run(cfg: DictConfig) -> float:
    """Run one experiment; return its objective (accuracy by default).

    In a multirun a failed job is recorded in its ``results.csv`` and the
    sweep goes on (see :mod:`snnexp.sweep`); a single run that fails on bad
    input prints one line on stderr and exits with status 2.
    """
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return run_sweep_job(cfg, run_dir)
    try:
        spec = load_experiment(cfg)
        check_objective(spec.objective)
        outcome = run_experiment(spec, run_dir)
    except (SnnexpError, NotImplementedError) as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"snnexp: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return objective_value(outcome.summary(), spec.objective)


def main() -> None:
    """Entry point of the ``snnexp`` console script."""
    _run()


if __name__ == "__main__":
    main()
