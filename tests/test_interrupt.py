"""A run stopped part-way keeps what it finished, and nothing is overwritten.

Each test starts ``python -m snnexp`` on a dataset large enough to take far
longer than the test waits, lets it finish a few batches, stops it with a
signal and reads what survived on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT, make_tiny_data

N_IMAGES = 3000
STARTUP_LIMIT_S = 120


def _start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    tiny = make_tiny_data(tmp_path, n_images=N_IMAGES)
    run_dir = tmp_path / "run"
    overrides = [
        *tiny["overrides"],
        "batch_size=2",
        "present_timesteps=400",
        f"hydra.run.dir={run_dir}",
    ]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "snnexp", *overrides],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, run_dir


def _wait_for_batches(process: subprocess.Popen, batches: Path, count: int) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the run ended early: {process.stderr.read()}")
        if batches.exists() and len(batches.read_text().splitlines()) > count:
            return
        time.sleep(0.05)
    pytest.fail(f"no {count} batches within {STARTUP_LIMIT_S} s")


def _stop(process: subprocess.Popen, signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, err


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_a_signal_leaves_the_finished_batches_on_disk(tmp_path, signum, status):
    process, run_dir = _start(tmp_path)
    _wait_for_batches(process, run_dir / "batches.csv", count=2)

    returncode, err = _stop(process, signum)

    assert returncode == status
    assert "Traceback" not in err
    assert f"interrupted by {signal.Signals(signum).name}" in err
    results = pd.read_csv(run_dir / "results.csv")
    batches = pd.read_csv(run_dir / "batches.csv")
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert results.loc[0, "status"] == "interrupted"
    assert len(batches) >= 2
    assert 0 < results.loc[0, "n_images"] < N_IMAGES
    assert results.loc[0, "n_images"] == batches["size"].sum() == len(predictions)
    assert results.loc[0, "correct"] == batches["correct"].sum()
    assert (
        results.loc[0, "correct"]
        == (predictions["label"] == predictions["prediction"]).sum()
    )
    assert list(batches["batch"]) == list(range(len(batches)))
    assert list(predictions["index"]) == list(range(len(predictions)))
    hidden = [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    assert hidden == [".hydra"]


def test_an_interrupted_run_directory_is_not_reused(tmp_path):
    process, run_dir = _start(tmp_path)
    _wait_for_batches(process, run_dir / "batches.csv", count=1)
    _stop(process, signal.SIGINT)
    before = {p.name: p.read_bytes() for p in run_dir.glob("*.csv")}

    again = subprocess.run(
        [sys.executable, "-m", "snnexp", *process.args[3:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert again.returncode == 2
    assert "already holds the results of a run" in again.stderr
    assert {p.name: p.read_bytes() for p in run_dir.glob("*.csv")} == before
