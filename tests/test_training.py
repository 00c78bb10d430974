"""Weights from data: training, the weight cache, normalisation, results."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snnexp import ann
from snnexp.data import write_idx
from snnexp.errors import ConfigError, DataError
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment
from snnexp.trained import METADATA

TRAINING = ["weights.epochs=30", "weights.batch_size=10", "weights.learning_rate=0.01"]


def _trained_spec(compose_config, tiny_data, cache: Path, *extra: str):
    overrides = [o for o in tiny_data["overrides"] if not o.startswith("weights")]
    return load_experiment(
        compose_config(
            *overrides,
            "weights=trained",
            f"weights.cache_dir={cache}",
            *TRAINING,
            *extra,
        )
    )


def _run(spec, run_dir: Path) -> dict:
    run_dir.mkdir()
    run_experiment(spec, run_dir)
    return pd.read_csv(run_dir / "results.csv").iloc[0].to_dict()


def _entries(cache: Path) -> list[Path]:
    return sorted(path.parent for path in cache.glob(f"*/{METADATA}"))


def test_trained_weights_are_saved_then_reused(
    compose_config, tiny_data, tmp_path, caplog
):
    cache = tmp_path / "cache"
    spec = _trained_spec(compose_config, tiny_data, cache)
    caplog.set_level(logging.INFO, logger="snnexp")

    first = _run(spec, tmp_path / "run1")
    assert "cache miss" in caplog.text
    [entry] = _entries(cache)
    metadata = json.loads((entry / METADATA).read_text())
    assert metadata["sizes"] == [16, 8, 3]
    assert metadata["training"]["epochs"] == 30
    assert metadata["ann_accuracy"] == 1.0
    assert sorted(p.name for p in entry.glob("*.npy")) == [
        "weights_0_1.npy",
        "weights_1_2.npy",
    ]
    assert first["ann_accuracy"] == 1.0
    assert first["accuracy"] == 1.0
    assert first["conversion_loss"] == 0.0
    stamp = (entry / METADATA).stat().st_mtime_ns
    caplog.clear()

    second = _run(spec, tmp_path / "run2")
    assert "cache hit" in caplog.text
    assert "cache miss" not in caplog.text
    assert _entries(cache) == [entry]
    assert (entry / METADATA).stat().st_mtime_ns == stamp
    assert second["accuracy"] == first["accuracy"]


@pytest.mark.parametrize(
    "change",
    [
        "weights.seed=1",
        "weights.epochs=31",
        "weights.optimiser=sgd",
        "model.populations.hidden.size=9",
    ],
)
def test_a_changed_setting_trains_anew(
    compose_config, tiny_data, tmp_path, caplog, change
):
    cache = tmp_path / "cache"
    _run(_trained_spec(compose_config, tiny_data, cache), tmp_path / "run1")
    caplog.set_level(logging.INFO, logger="snnexp")

    _run(_trained_spec(compose_config, tiny_data, cache, change), tmp_path / "run2")
    assert "cache miss" in caplog.text
    assert len(_entries(cache)) == 2


def test_changed_training_data_trains_anew(compose_config, tiny_data, tmp_path):
    cache = tmp_path / "cache"
    spec = _trained_spec(compose_config, tiny_data, cache)
    _run(spec, tmp_path / "run1")

    labels = np.array([0, 1, 2] * 20, np.uint8)
    images = np.zeros((60, 4, 4), np.uint8)
    images[np.arange(60), labels] = 250
    write_idx(tiny_data["root"] / "train-images-idx3-ubyte.gz", images)
    write_idx(tiny_data["root"] / "train-labels-idx1-ubyte", labels)
    _run(spec, tmp_path / "run2")
    assert len(_entries(cache)) == 2


def test_a_damaged_cache_entry_names_the_folder(compose_config, tiny_data, tmp_path):
    cache = tmp_path / "cache"
    spec = _trained_spec(compose_config, tiny_data, cache)
    _run(spec, tmp_path / "run1")
    [entry] = _entries(cache)
    (entry / METADATA).write_text("{not json")

    with pytest.raises(DataError, match=f"Delete {entry}"):
        _run(spec, tmp_path / "run2")


def test_unnormalised_trained_weights_are_warned_about(
    compose_config, tiny_data, tmp_path, caplog
):
    cache = tmp_path / "cache"
    spec = _trained_spec(compose_config, tiny_data, cache, "weights.normalise=none")
    _run(spec, tmp_path / "run")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("weights.normalise=data instead" in r.message for r in warnings)


def test_normalisation_matches_a_hand_worked_case():
    w1 = np.array([[1.0], [2.0]], np.float32)
    w2 = np.array([[3.0]], np.float32)
    images = np.array([[1, 0], [0, 1]], np.uint8)

    # Peaks (100th percentile): pixels 1, hidden max(1, 2) = 2, output
    # max(3, 6) = 6; thresholds 5 and 4: factors 5 * 1/2 and 4 * 2/6.
    scaled, factors = ann.normalise([w1, w2], images, 100.0, [5.0, 4.0])
    assert factors == pytest.approx([2.5, 4 / 3])
    np.testing.assert_allclose(scaled[0], [[2.5], [5.0]])
    np.testing.assert_allclose(scaled[1], [[4.0]])
    assert scaled[0].dtype == np.float32


def test_normalisation_uses_the_percentile_and_keeps_predictions():
    rng = np.random.default_rng(3)
    weights = [
        rng.normal(size=(16, 8)).astype(np.float32),
        rng.normal(size=(8, 3)).astype(np.float32),
    ]
    images = rng.integers(0, 256, size=(200, 16)).astype(np.uint8)

    scaled, _ = ann.normalise(weights, images, 99.0, [1.0, 1.0])
    hidden, output = ann.forward(scaled, images)[1:]
    assert np.percentile(hidden, 99.0) == pytest.approx(
        np.percentile(images, 99.0), rel=1e-4
    )
    assert np.percentile(np.maximum(output, 0), 99.0) == pytest.approx(
        np.percentile(images, 99.0), rel=1e-4
    )
    np.testing.assert_array_equal(
        ann.predict(scaled, images), ann.predict(weights, images)
    )


def test_normalisation_rejects_a_silent_layer(compose_config, tiny_data, tmp_path):
    silent = tmp_path / "silent"
    silent.mkdir()
    np.save(silent / "weights_0_1.npy", -np.ones((16, 8), np.float32))
    np.save(silent / "weights_1_2.npy", np.ones((8, 3), np.float32))
    spec = load_experiment(
        compose_config(
            *tiny_data["overrides"], f"weights.dir={silent}", "weights.normalise=data"
        )
    )
    with pytest.raises(DataError, match="weights.normalise=none"):
        _run(spec, tmp_path / "run")


def test_pretrained_weights_report_the_ann_accuracy(
    compose_config, tiny_data, tmp_path
):
    spec = load_experiment(compose_config(*tiny_data["overrides"]))
    row = _run(spec, tmp_path / "run")
    assert row["ann_accuracy"] == 1.0
    assert row["conversion_loss"] == pytest.approx(1.0 - row["accuracy"])


def test_training_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=400)
    images = rng.integers(0, 60, size=(400, 6)).astype(np.uint8)
    images[labels == 1, :3] += 150
    images[labels == 0, 3:] += 150
    settings = ann.TrainingSettings(
        epochs=5,
        batch_size=20,
        optimiser="sgd",
        learning_rate=0.05,
        momentum=0.9,
        seed=1,
    )

    weights = ann.train([6, 4, 2], images, labels, settings)
    assert ann.accuracy(weights, images, labels) > 0.95
    again = ann.train([6, 4, 2], images, labels, settings)
    np.testing.assert_array_equal(weights[0], again[0])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("weights.optimiser=adamw", "weights.optimiser"),
        ("weights.normalise=max", "weights.normalise"),
        ("weights.epochs=0", "weights.epochs"),
        ("weights.learning_rate=-1", "weights.learning_rate"),
        ("weights.momentum=1.5", "weights.momentum"),
        ("weights.percentile=0", "weights.percentile"),
        ("weights.threshold_param=Vth", "weights.threshold_param"),
        ("weights.source=downloaded", "weights.source"),
        ("~data.files.train", "data.files.train"),
        (
            "+model.synapses.skip={source: input, target: output, weight_update: "
            "{weights: skip.npy}}",
            "model.synapses",
        ),
    ],
)
def test_bad_weights_settings_name_their_key(compose_config, override, key):
    with pytest.raises(ConfigError) as caught:
        load_experiment(compose_config(override))
    assert caught.value.key == key
