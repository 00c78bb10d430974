"""Multiruns: jobs that fail alone, and one table and one plot per sweep.

Hydra's launchers treat a job's exception differently: the basic and joblib
launchers record it and the sweeper re-raises the first one after the batch,
which skips ``on_multirun_end``; a ``SystemExit`` stops the whole sweep; an
exception that cannot be pickled breaks the joblib launcher. So in a multirun
:func:`run_sweep_job` never raises for a failed run: it marks the job's
``results.csv`` as failed and returns NaN. :class:`SweepSummary` then reads
every job's directory from disk (jobs may have run in other processes or on
other machines), writes ``sweep.csv`` and ``sweep.png`` at the sweep
directory's root and ends the process with exit status 1 if any job failed.
"""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from snnexp.errors import ConfigError, SnnexpError
from snnexp.results import write_table
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment

log = logging.getLogger(__name__)

SWEEP_TABLE = "sweep.csv"
SWEEP_FIGURE = "sweep.png"
FIXED_COLUMNS = ["job", "status", "error", "dir"]
OBJECTIVE_COLUMNS = (
    "accuracy",
    "correct",
    "images_per_s",
    "sim_time_s",
    "total_time_s",
    "build_time_s",
    "load_time_s",
)


def run_sweep_job(cfg: DictConfig, run_dir: Path) -> float:
    """Run one job of a multirun; a failure is recorded, never raised.

    Returns
    -------
    float
        The objective (see :func:`objective_value`), or NaN where the job
        failed, which Optuna records as a failed trial.
    """
    try:
        spec = load_experiment(cfg)
        check_objective(spec.objective)
        outcome = run_experiment(spec, run_dir)
    except Exception as error:
        message = describe(error)
        if isinstance(error, SnnexpError):
            log.error("Job failed: %s", message)
        else:
            log.exception("Job failed: %s", message)
        record_failure(run_dir, message)
        return math.nan
    return objective_value(outcome.summary(), spec.objective)


def describe(error: BaseException) -> str:
    """One line for an error: the user's message, or the type for a crash."""
    text = " ".join(str(error).split())
    if isinstance(error, SnnexpError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def record_failure(run_dir: Path, message: str) -> None:
    """Mark ``results.csv`` in ``run_dir`` as failed, keeping what it holds.

    A run that failed after the network was built has already written its
    row (``status=running``) and the batches it finished; only ``status`` and
    ``error`` change. Nothing is written where the directory does not exist.
    """
    path = Path(run_dir) / "results.csv"
    if not path.parent.is_dir():
        return
    row = pd.read_csv(path).iloc[:1] if path.is_file() else pd.DataFrame([{}])
    row = row.assign(status="failed", error=message)
    write_table(row, path)


def check_objective(objective) -> None:
    """Check the ``objective`` keys before anything is built.

    Raises
    ------
    ConfigError
        For a column that ``results.csv`` does not have, or a negative limit.
    """
    for key in ("metric", "limit_column"):
        value = getattr(objective, key)
        if value not in OBJECTIVE_COLUMNS:
            raise ConfigError(
                f"objective.{key}",
                f"got {value!r}; expected a numeric column of results.csv, one "
                f"of {', '.join(OBJECTIVE_COLUMNS)}.",
            )
    if objective.limit is not None and not objective.limit >= 0:
        raise ConfigError(
            "objective.limit",
            f"got {objective.limit}; expected a limit >= 0 in the units of "
            f"{objective.limit_column}, or null for no limit.",
        )


def objective_value(summary: dict, objective) -> float:
    """The value a job returns to the sweeper (Optuna maximises or minimises).

    A run whose ``limit_column`` exceeds ``limit`` (e.g. ``sim_time_s`` over
    a latency budget) returns ``metric - 1``: for a fraction such as accuracy
    that ranks it below every run within the budget, while runs over budget
    still rank among themselves, which gives the sampler a slope to follow.
    """
    value = float(summary[objective.metric])
    if objective.limit is None:
        return value
    if float(summary[objective.limit_column]) > objective.limit:
        log.info(
            "Over budget: %s %.4g > %.4g; objective %.4f - 1",
            objective.limit_column,
            summary[objective.limit_column],
            objective.limit,
            value,
        )
        return value - 1.0
    return value


class SweepSummary(Callback):
    """Hydra callback: ``sweep.csv`` and ``sweep.png`` when a multirun ends.

    Parameters
    ----------
    plot
        Also draw ``sweep.png``.
    fail_on_error
        End the process with exit status 1 when any job did not complete, so
        that scripts and schedulers see the failure.
    """

    def __init__(self, plot: bool = True, fail_on_error: bool = True) -> None:
        self.plot = plot
        self.fail_on_error = fail_on_error

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        swept = swept_keys(config)
        table = collect(sweep_dir, swept, config.hydra.output_subdir)
        write_table(table, sweep_dir / SWEEP_TABLE)
        log.info("Sweep table: %d jobs in %s", len(table), sweep_dir / SWEEP_TABLE)
        if table.empty:
            log.warning(
                "No job directory with %s/hydra.yaml under %s; keep "
                "hydra.output_subdir set so that jobs can be found on disk.",
                config.hydra.output_subdir,
                sweep_dir,
            )
        elif self.plot:
            self._draw(table, sweep_dir / SWEEP_FIGURE)

        failed = table[table["status"] != "completed"]
        if len(failed):
            for _, row in failed.iterrows():
                log.error("Job %s %s: %s", row["job"], row["status"], row["error"])
            if self.fail_on_error:
                print(
                    f"snnexp: error: {len(failed)} of {len(table)} jobs did not "
                    f"complete; see {sweep_dir / SWEEP_TABLE}",
                    file=sys.stderr,
                )
                raise SystemExit(1)

    @staticmethod
    def _draw(table: pd.DataFrame, path: Path) -> None:
        from snnexp.sweep_plot import plot_sweep

        try:
            plot_sweep(table, swept_columns(table), path)
        except Exception as error:
            log.warning(
                "Could not draw %s (%s); the results are all in %s.",
                path.name,
                describe(error),
                SWEEP_TABLE,
            )
            return
        log.info("Sweep figure: %s", path)


def swept_keys(config: DictConfig) -> list[str]:
    """Keys the multirun sweeps: command-line sweeps and ``hydra.sweeper.params``."""
    overrides = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    parsed = OverridesParser.create().parse_overrides(overrides)
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params")
    if params:
        keys += [str(key) for key in params if str(key) not in keys]
    return keys


def collect(
    sweep_dir: Path,
    swept: list[str],
    output_subdir: str | None = ".hydra",
) -> pd.DataFrame:
    """One row per job directory under ``sweep_dir``, in job order.

    Columns: ``job``, the swept keys (their override values), every column of
    the job's ``results.csv`` (where a swept key names a column too, such as
    ``batch_size``, the column holds the override value), then ``status``,
    ``error`` and ``dir``. A key that takes more than one value across the
    jobs counts as swept even if the command line did not sweep it (Optuna's
    parameters, for one). A sweep directory holds one multirun: snnexp
    refuses to start another in it (see :mod:`snnexp.rundir`).
    """
    jobs = _job_dirs(Path(sweep_dir), output_subdir or ".hydra")
    jobs.sort(key=lambda job: job["num"])
    if not jobs:
        return pd.DataFrame(columns=FIXED_COLUMNS)

    table = pd.DataFrame([_job_row(job) for job in jobs])
    result_keys = [key for job in jobs for key in job["results"]]
    override_keys = [key for job in jobs for key in job["overrides"]]
    varying = [key for key in override_keys if table[key].astype(str).nunique() > 1]
    keys = list(dict.fromkeys([k for k in swept if k in override_keys] + varying))
    results = [
        k
        for k in dict.fromkeys(result_keys)
        if k not in keys and k not in FIXED_COLUMNS
    ]
    table = table[["job", *keys, *results, "status", "error", "dir"]]
    for key in results:
        if _all_integers([job["results"].get(key) for job in jobs]):
            table[key] = table[key].astype("Int64")
    table.attrs["swept"] = keys
    return table


def swept_columns(table: pd.DataFrame) -> list[str]:
    """The swept columns of a table made by :func:`collect`."""
    return list(table.attrs.get("swept", []))


def _job_dirs(sweep_dir: Path, output_subdir: str) -> list[dict]:
    jobs = []
    for hydra_yaml in sorted(sweep_dir.glob(f"**/{output_subdir}/hydra.yaml")):
        job_dir = hydra_yaml.parent.parent
        if job_dir == sweep_dir:
            continue
        saved = OmegaConf.load(hydra_yaml)
        num = OmegaConf.select(saved, "hydra.job.num", default=None)
        overrides = OmegaConf.to_container(saved.hydra.overrides.task)
        jobs.append(
            {
                "num": num if isinstance(num, int) else len(jobs),
                "dir": job_dir,
                "overrides": _override_values(overrides),
                "results": _read_results(job_dir),
            }
        )
    return jobs


def _override_values(overrides: list[str]) -> dict:
    parsed = OverridesParser.create().parse_overrides(overrides)
    return {o.key_or_group: o.value() for o in parsed if not o.is_delete()}


def _job_row(job: dict) -> dict:
    results = job["results"]
    status, error = results.get("status"), results.get("error")
    if not results:
        status, error = "missing", f"no results.csv in {job['dir']}"
    elif status != "completed" and not _present(error):
        error = f"the run ended with status {status}"
    return {
        "job": job["num"],
        **results,
        **job["overrides"],
        "status": status,
        "error": error if _present(error) else "",
        "dir": str(job["dir"]),
    }


def _read_results(job_dir: Path) -> dict:
    path = job_dir / "results.csv"
    if not path.is_file():
        return {}
    frame = pd.read_csv(path)
    return frame.iloc[0].to_dict() if len(frame) else {}


def _all_integers(values: list) -> bool:
    present = [v for v in values if _present(v)]
    return bool(present) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present
    )


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
