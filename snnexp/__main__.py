"""Command line: ``python -m snnexp [overrides]`` or ``snnexp [overrides]``."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from snnexp.errors import SnnexpError, report
from snnexp.rundir import check_run_dir
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
        check_run_dir(run_dir)
        spec = load_experiment(cfg)
        check_objective(spec.objective)
        outcome = run_experiment(spec, run_dir)
    except (SnnexpError, NotImplementedError) as error:
        report(error)
    except KeyboardInterrupt as stop:
        _stopped(stop, run_dir)
    return objective_value(outcome.summary(), spec.objective)


def _stopped(stop: KeyboardInterrupt, run_dir: Path) -> None:
    """Say what survived a SIGINT or SIGTERM and exit with 128 + its number."""
    signum = getattr(stop, "signum", signal.SIGINT)
    name = signal.Signals(signum).name
    if (run_dir / "results.csv").exists():
        where = f"results so far (status=interrupted) are in {run_dir}"
    else:
        where = "it stopped before the first batch, so nothing was written"
    print(f"snnexp: interrupted by {name}; {where}.", file=sys.stderr)
    raise SystemExit(128 + signum) from None


def main() -> None:
    """Entry point of the ``snnexp`` console script."""
    _run()


if __name__ == "__main__":
    main()
