"""Multiruns as a user starts them: ``python -m snnexp -m ...`` on tiny data.

Each test runs a real sweep in a subprocess and checks ``sweep.csv`` row by
row against the ``results.csv`` every job wrote into its own directory.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from snnexp.errors import ConfigError
from snnexp.schema import ObjectiveConfig
from snnexp.sweep import check_objective, objective_value, record_failure

from .conftest import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_sweep(sweep_dir: Path, *overrides: str, multirun: bool = True):
    """``python -m snnexp [-m] overrides hydra.sweep.dir=sweep_dir``."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    command = [
        sys.executable,
        "-m",
        "snnexp",
        *(["-m"] if multirun else []),
        *overrides,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def tiny(tiny_data: dict, *drop: str) -> list[str]:
    """The tiny dataset's overrides without the keys a test sweeps."""
    return [o for o in tiny_data["overrides"] if o.split("=")[0] not in drop]


def check_rows_match_job_results(table: pd.DataFrame) -> None:
    for _, row in table.iterrows():
        results = pd.read_csv(Path(row["dir"]) / "results.csv").iloc[0]
        for column, value in results.items():
            if column in ("status", "error") or pd.isna(value):
                continue
            if isinstance(value, str):
                assert row[column] == value, column
            else:
                assert float(row[column]) == pytest.approx(float(value)), column


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_writes_one_row_per_job(tmp_path, tiny_data, launcher):
    sweep_dir = tmp_path / "sweep"
    done = run_sweep(
        sweep_dir,
        "batch_size=2,3",
        "present_timesteps=10,20",
        f"hydra/launcher={launcher}",
        *tiny(tiny_data, "batch_size", "present_timesteps"),
    )
    assert done.returncode == 0, done.stderr

    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert list(table.columns[:3]) == ["job", "batch_size", "present_timesteps"]
    assert list(table.columns[-3:]) == ["status", "error", "dir"]
    assert table["job"].tolist() == [0, 1, 2, 3]
    assert list(zip(table["batch_size"], table["present_timesteps"], strict=True)) == [
        (2, 10),
        (2, 20),
        (3, 10),
        (3, 20),
    ]
    assert (table["status"] == "completed").all()
    assert table["error"].isna().all()
    assert table["accuracy"].tolist() == [1.0] * 4
    assert table["n_images"].tolist() == [10] * 4
    assert (table["images_per_s"] > 0).all()
    assert [Path(d).name for d in table["dir"]] == ["0", "1", "2", "3"]
    check_rows_match_job_results(table)
    assert (sweep_dir / "sweep.png").read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_failing_job_costs_only_itself(tmp_path, tiny_data, launcher):
    sweep_dir = tmp_path / "sweep"
    done = run_sweep(
        sweep_dir,
        "batch_size=2,0,4",
        f"hydra/launcher={launcher}",
        *tiny(tiny_data, "batch_size"),
    )
    assert done.returncode == 1
    assert "1 of 3 jobs did not complete" in done.stderr

    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert table["batch_size"].tolist() == [2, 0, 4]
    assert table["status"].tolist() == ["completed", "failed", "completed"]
    assert "batch_size" in table["error"][1] and ">= 1" in table["error"][1]
    assert table["accuracy"][[0, 2]].tolist() == [1.0, 1.0]
    assert math.isnan(table["accuracy"][1])
    check_rows_match_job_results(table.iloc[[0, 2]])
    for job in (0, 2):
        predictions = pd.read_csv(sweep_dir / str(job) / "predictions.csv")
        assert (predictions["label"] == predictions["prediction"]).all()
    failed = pd.read_csv(sweep_dir / "1" / "results.csv").iloc[0]
    assert failed["status"] == "failed"
    assert failed["error"] == table["error"][1]
    assert (sweep_dir / "sweep.png").is_file()


def test_a_used_sweep_dir_is_refused_and_kept(tmp_path, tiny_data):
    sweep_dir = tmp_path / "sweep"
    first = run_sweep(sweep_dir, "batch_size=2,3", *tiny(tiny_data, "batch_size"))
    assert first.returncode == 0, first.stderr
    table = (sweep_dir / "sweep.csv").read_bytes()

    second = run_sweep(
        sweep_dir,
        "batch_size=5",
        "hydra.sweep.subdir=again_${hydra.job.num}",
        *tiny(tiny_data, "batch_size"),
    )
    assert second.returncode == 2
    assert "hydra.sweep.dir" in second.stderr
    assert "never overwrites" in second.stderr
    assert (sweep_dir / "sweep.csv").read_bytes() == table
    assert not (sweep_dir / "again_0").exists()


def test_submitit_local_launcher(tmp_path, tiny_data):
    sweep_dir = tmp_path / "sweep"
    done = run_sweep(
        sweep_dir,
        "batch_size=2,5",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=5",
        *tiny(tiny_data, "batch_size"),
    )
    assert done.returncode == 0, done.stderr

    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert table["batch_size"].tolist() == [2, 5]
    assert table["status"].tolist() == ["completed", "completed"]
    assert table["accuracy"].tolist() == [1.0, 1.0]
    check_rows_match_job_results(table)


def test_optuna_preset_runs_trials_within_budget(tmp_path, tiny_data):
    sweep_dir = tmp_path / "optuna"
    done = run_sweep(
        sweep_dir,
        "experiment=optuna_latency",
        "hydra.sweeper.n_trials=2",
        "data.limit=null",
        "objective.limit=0.0",
        *tiny(tiny_data, "batch_size", "present_timesteps"),
        multirun=False,
    )
    assert done.returncode == 0, done.stderr

    table = pd.read_csv(sweep_dir / "sweep.csv")
    assert len(table) == 2
    for key in (
        "model.populations.hidden.params.Vthr",
        "input_scale",
        "present_timesteps",
    ):
        assert table[key].notna().all(), key
    assert (table["status"] == "completed").all()
    check_rows_match_job_results(table)

    best = OmegaConf.load(sweep_dir / "optimization_results.yaml")
    assert best.best_value == pytest.approx(table["accuracy"].max() - 1.0)


def test_objective_penalises_runs_over_the_limit():
    summary = {"accuracy": 0.9, "sim_time_s": 3.0}
    assert objective_value(summary, ObjectiveConfig()) == 0.9
    assert objective_value(summary, ObjectiveConfig(limit=5.0)) == 0.9
    assert objective_value(summary, ObjectiveConfig(limit=2.0)) == pytest.approx(-0.1)


@pytest.mark.parametrize(
    ("objective", "key"),
    [
        (ObjectiveConfig(metric="acc"), "objective.metric"),
        (ObjectiveConfig(limit_column="latency"), "objective.limit_column"),
        (ObjectiveConfig(limit=-1.0), "objective.limit"),
    ],
)
def test_bad_objective_names_its_key(objective, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_objective(objective)


def test_record_failure_keeps_what_the_run_wrote(tmp_path):
    pd.DataFrame(
        [{"accuracy": 0.5, "n_images": 20, "status": "running", "error": ""}]
    ).to_csv(tmp_path / "results.csv", index=False)
    record_failure(tmp_path, "MemoryError: out of memory")

    row = pd.read_csv(tmp_path / "results.csv").iloc[0]
    assert (row["accuracy"], row["n_images"]) == (0.5, 20)
    assert (row["status"], row["error"]) == ("failed", "MemoryError: out of memory")


def test_record_failure_writes_nothing_without_a_directory(tmp_path):
    record_failure(tmp_path / "absent", "an error")
    assert not (tmp_path / "absent").exists()
