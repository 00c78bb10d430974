"""End to end: ``python -m snnexp`` from configs to the result files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import ROOT, SHARED_MNIST, SHARED_WEIGHTS, needs_shared_data


def run_snnexp(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snnexp", f"hydra.run.dir={run_dir}", *overrides],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_tiny_dataset_end_to_end(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    done = run_snnexp(run_dir, *tiny_data["overrides"])
    assert done.returncode == 0, done.stderr

    results = pd.read_csv(run_dir / "results.csv")
    assert len(results) == 1
    row = results.iloc[0]
    assert row.status == "completed"
    assert row.n_images == 10
    assert row.batch_size == 4
    assert row.engine == "numpy"
    assert row.accuracy == 1.0
    for column in ("build_time_s", "load_time_s", "sim_time_s", "total_time_s"):
        assert row[column] >= 0
    assert row.total_time_s >= row.sim_time_s
    assert row.images_per_s == pytest.approx(10 / row.sim_time_s)

    batches = pd.read_csv(run_dir / "batches.csv")
    assert list(batches["batch"]) == [0, 1, 2]
    assert list(batches["size"]) == [4, 4, 2]
    assert batches["correct"].sum() == 10

    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert list(predictions["index"]) == list(range(10))
    assert list(predictions["label"]) == list(tiny_data["labels"])
    assert (predictions["prediction"] == predictions["label"]).all()
    assert (run_dir / ".hydra" / "config.yaml").is_file()


def test_partial_last_batch_ignores_stale_rows(tiny_data, tmp_path):
    # 10 images at batch size 8: the second batch fills 2 rows; the other 6
    # still hold images of the first batch and must not be counted.
    run_dir = tmp_path / "run"
    overrides = [o for o in tiny_data["overrides"] if not o.startswith("batch_size")]
    done = run_snnexp(run_dir, *overrides, "batch_size=8")
    assert done.returncode == 0, done.stderr
    batches = pd.read_csv(run_dir / "batches.csv")
    assert list(batches["size"]) == [8, 2]
    assert pd.read_csv(run_dir / "results.csv").iloc[0].n_images == 10
    assert len(pd.read_csv(run_dir / "predictions.csv")) == 10


def test_data_limit_and_cli_help(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    done = run_snnexp(run_dir, *tiny_data["overrides"], "data.limit=3")
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(run_dir / "results.csv").iloc[0].n_images == 3

    shown = subprocess.run(
        [sys.executable, "-m", "snnexp", "--cfg", "job"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0
    assert "batch_size: 128" in shown.stdout
    assert "present_timesteps: 100" in shown.stdout


REFERENCE = [
    f"data.root={SHARED_MNIST}",
    "data.download=false",
    "weights=pretrained",
    f"weights.dir={SHARED_WEIGHTS}",
]


@needs_shared_data
@pytest.mark.shared_data
def test_reference_accuracy_at_batch_128(tmp_path):
    run_dir = tmp_path / "run"
    done = run_snnexp(run_dir, *REFERENCE, "batch_size=128")
    assert done.returncode == 0, done.stderr
    row = pd.read_csv(run_dir / "results.csv").iloc[0]
    assert row.n_images == 10_000
    assert row.correct == 9754  # GeNN's batched tutorial: 97.54%


@needs_shared_data
@pytest.mark.shared_data
@pytest.mark.slow
def test_reference_accuracy_one_image_at_a_time(tmp_path):
    run_dir = tmp_path / "run"
    done = run_snnexp(run_dir, *REFERENCE, "batch_size=1")
    assert done.returncode == 0, done.stderr
    row = pd.read_csv(run_dir / "results.csv").iloc[0]
    assert row.correct == 9744  # GeNN, one image at a time: 97.44%
