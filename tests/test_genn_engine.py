"""The genn engine: config checks everywhere; builds where PyGeNN is installed.

Tests that build a ``GeNNModel`` use GeNN's single-threaded CPU backend and
check it against the numpy engine, the independent reference, on small
networks. They share one code cache for the session so that identical
models compile once.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from snnexp import network as net
from snnexp.engines import get_engine
from snnexp.engines.genn_engine import (
    INSTALL_URL,
    GeNNBuildError,
    GeNNEngine,
    PyGeNNMissingError,
    code_description,
    code_hash,
    import_pygenn,
    missing_pygenn_message,
)
from snnexp.errors import ConfigError, SnnexpError
from snnexp.runner import run_experiment
from snnexp.schema import EngineConfig
from snnexp.spec import load_experiment

PYGENN_SKIP = "PyGeNN is not importable; install GeNN to run the genn engine tests"


@pytest.fixture(scope="module")
def pygenn():
    return pytest.importorskip("pygenn", reason=PYGENN_SKIP)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("genn-cache")


def _cpu_engine(cache_dir, **options) -> GeNNEngine:
    config = EngineConfig(
        name="genn", backend="single_threaded_cpu", cache_dir=str(cache_dir), **options
    )
    return GeNNEngine(config=config, run_dir=None)


def test_missing_pygenn_message_is_one_line_with_the_way_out():
    message = missing_pygenn_message("No module named 'pygenn'")

    assert "\n" not in message
    assert "PyGeNN" in message and INSTALL_URL in message
    assert "engine=numpy" in message
    assert issubclass(PyGeNNMissingError, SnnexpError)


def test_building_without_pygenn_raises_the_message(monkeypatch, tiny_network):
    monkeypatch.setitem(sys.modules, "pygenn", None)

    with pytest.raises(PyGeNNMissingError, match="engine=numpy, which runs everywhere"):
        import_pygenn()
    engine = get_engine("genn", config=EngineConfig(name="genn"), run_dir=None)
    with pytest.raises(PyGeNNMissingError, match="needs PyGeNN"):
        engine.build(tiny_network, batch_size=1, dt=1.0, precision="float")


def test_cpu_backend_with_batches_is_refused_before_anything_is_read(
    compose_config,
):
    cfg = compose_config(
        "engine=genn",
        "engine.backend=single_threaded_cpu",
        "batch_size=4",
        "data.root=/nonexistent",
        "weights.dir=/nonexistent",
    )

    with pytest.raises(ConfigError, match="engine=numpy") as caught:
        load_experiment(cfg)
    assert caught.value.key == "batch_size"
    assert "CUDA" in str(caught.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [("engine.backend=opencl", "engine.backend"), ("reset=full", "reset")],
)
def test_genn_settings_are_checked_at_validation(compose_config, override, key):
    cfg = compose_config("engine=genn", "batch_size=1", "weights.dir=/w", override)

    with pytest.raises(ConfigError) as caught:
        load_experiment(cfg)
    assert caught.value.key == key


def test_code_hash_ignores_weights_but_not_sizes(tiny_network):
    settings = dict(
        backend="single_threaded_cpu",
        preferences={},
        batch_size=1,
        dt=1.0,
        precision="float",
        timing=False,
        genn_version="5",
    )
    other_weights = _with_weights(tiny_network, seed=99)
    bigger = _tiny_network(n_hidden=9)

    base = code_hash(code_description(tiny_network, **settings))
    assert code_hash(code_description(other_weights, **settings)) == base
    assert code_hash(code_description(bigger, **settings)) != base
    for change in (
        {"dt": 0.5},
        {"precision": "double"},
        {"batch_size": 2},
        {"preferences": {"optimize_code": True}},
    ):
        assert (
            code_hash(code_description(tiny_network, **{**settings, **change})) != base
        )


@pytest.mark.genn
def test_auto_backend_refuses_batches_on_the_cpu(pygenn, tiny_network, tmp_path):
    from pygenn import genn_model

    if next(iter(genn_model.backend_modules)) != "single_threaded_cpu":
        pytest.skip("auto picks a GPU backend here, which runs batches")
    engine = GeNNEngine(config=EngineConfig(name="genn", cache_dir=str(tmp_path)))

    with pytest.raises(ConfigError, match="batch_size"):
        engine.build(tiny_network, batch_size=8, dt=1.0, precision="float")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.genn
def test_small_network_matches_numpy_engine(pygenn, cache_dir):
    network = _lif_network()
    genn = _cpu_engine(cache_dir).build(
        network, batch_size=1, dt=0.5, precision="float"
    )
    numpy = get_engine("numpy").build(network, batch_size=1, dt=0.5, precision="float")

    for sim in (genn, numpy):
        sim.write(net.VarRef("drive", "amp"), np.linspace(0.5, 3.0, 6)[None])
        sim.run(40)
    for name in ("first", "second"):
        counts = [s.read(net.VarRef(name, "SpikeCount")) for s in (genn, numpy)]
        voltages = [s.read(net.VarRef(name, "V")) for s in (genn, numpy)]
        assert counts[0].sum() > 0
        np.testing.assert_array_equal(counts[0], counts[1])
        np.testing.assert_allclose(voltages[0], voltages[1], rtol=1e-5, atol=1e-6)

    for sim in (genn, numpy):
        sim.custom_update("Reset")
    assert genn.read(net.VarRef("second", "SpikeCount")).sum() == 0
    np.testing.assert_array_equal(genn.read(net.VarRef("second", "V")), 0.0)


@pytest.mark.genn
def test_new_weights_reuse_the_cached_build(pygenn, cache_dir, tiny_network):
    first = _cpu_engine(cache_dir).build(
        tiny_network, batch_size=1, dt=1.0, precision="float"
    )
    library = sorted(first.code_dir.glob("*_CODE/*.so"))
    built_at = [p.stat().st_mtime_ns for p in library]
    second = _cpu_engine(cache_dir).build(
        _with_weights(tiny_network, seed=3), batch_size=1, dt=1.0, precision="float"
    )

    assert second.code_dir == first.code_dir
    assert second.code_dir.parent == cache_dir
    assert second.reused
    assert library and [p.stat().st_mtime_ns for p in library] == built_at
    outputs = []
    for sim in (first, second):
        sim.write(net.VarRef("drive", "amp"), np.full((1, 6), 2.0))
        sim.run(30)
        outputs.append(sim.read(net.VarRef("output", "SpikeCount")))
    assert not np.array_equal(outputs[0], outputs[1])


def _build_and_count(cache_dir: str) -> tuple[str, list[int]]:
    """Build the tiny network in a fresh process and run it for 30 steps."""
    sim = _cpu_engine(cache_dir).build(
        _tiny_network(), batch_size=1, dt=1.0, precision="float"
    )
    sim.write(net.VarRef("drive", "amp"), np.full((1, 6), 2.0))
    sim.run(30)
    return str(sim.code_dir), sim.read(net.VarRef("output", "SpikeCount")).tolist()


@pytest.mark.genn
def test_parallel_jobs_share_one_build_safely(pygenn, tmp_path):
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_build_and_count, [str(tmp_path)] * 2)

    assert results[0] == results[1]
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 1


@pytest.mark.genn
def test_failed_code_generation_names_the_error_and_the_code(pygenn, tmp_path):
    model = net.NeuronModel(
        "broken", (), {"V": "scalar"}, "V += undefined_thing * dt;", "V >= 1.0", ""
    )
    population = net.Population("p", 2, model, {}, {"V": 0.0})
    network = net.Network("broken_net", {"p": population}, {}, {}, {})

    with pytest.raises(GeNNBuildError) as caught:
        _cpu_engine(tmp_path).build(network, batch_size=1, dt=1.0, precision="float")
    message = str(caught.value)
    assert "undefined_thing" in message
    assert str(tmp_path) in message and "broken_net_CODE" in message


@pytest.mark.genn
def test_default_preference_values_reuse_the_default_build(
    pygenn, cache_dir, tiny_network
):
    plain = _cpu_engine(cache_dir).build(
        tiny_network, batch_size=1, dt=1.0, precision="float"
    )
    explicit = _cpu_engine(cache_dir, preferences={"optimize_code": False}).build(
        tiny_network, batch_size=1, dt=1.0, precision="float"
    )

    assert explicit.code_dir == plain.code_dir


@pytest.mark.genn
def test_unknown_preference_is_a_config_error(pygenn, tiny_network, tmp_path):
    engine = _cpu_engine(tmp_path, preferences={"optimise_code": True})

    with pytest.raises(ConfigError, match="optimize_code") as caught:
        engine.build(tiny_network, batch_size=1, dt=1.0, precision="float")
    assert caught.value.key == "engine.preferences.optimise_code"


@pytest.mark.genn
def test_experiment_matches_numpy_and_reports_genn_times(
    pygenn, cache_dir, compose_config, tiny_data, tmp_path
):
    overrides = [*tiny_data["overrides"], "batch_size=1"]
    genn = ["engine=genn", "engine.timing=true", f"engine.cache_dir={cache_dir}"]
    outcomes = {}
    for engine, chosen in (("numpy", ["engine=numpy"]), ("genn", genn)):
        cfg = compose_config(*overrides, *chosen)
        run_dir = tmp_path / engine
        run_dir.mkdir()
        outcomes[engine] = run_experiment(load_experiment(cfg), run_dir)

    np.testing.assert_array_equal(
        np.concatenate(outcomes["genn"].readouts),
        np.concatenate(outcomes["numpy"].readouts),
    )
    results = pd.read_csv(tmp_path / "genn" / "results.csv")
    assert results["accuracy"].iloc[0] == 1.0
    for column in (
        "genn_neuron_update_time_s",
        "genn_presynaptic_update_time_s",
        "genn_init_time_s",
        "genn_custom_update_Reset_time_s",
    ):
        assert results[column].iloc[0] >= 0.0
    assert results["genn_neuron_update_time_s"].iloc[0] > 0.0


@pytest.mark.genn
def test_compare_writes_matching_rows(
    pygenn, cache_dir, compose_config, tiny_data, tmp_path
):
    from snnexp.compare import compare_engines

    cfg = compose_config(
        *tiny_data["overrides"],
        "batch_size=1",
        "engine=genn",
        f"engine.cache_dir={cache_dir}",
    )
    comparison = compare_engines(load_experiment(cfg), tmp_path)

    table = pd.read_csv(tmp_path / "comparison.csv")
    assert len(table) == comparison.n_images == len(tiny_data["labels"])
    assert comparison.matching_predictions == comparison.n_images
    assert table["spike_counts_match"].all()
    assert (table["prediction_genn"] == table["label"]).all()


@pytest.fixture
def tiny_network() -> net.Network:
    return _tiny_network()


def _tiny_network(n_hidden: int = 4) -> net.Network:
    """6-``n_hidden``-2 integrate-and-fire network driven by a current source."""
    neuron = net.NeuronModel(
        "if",
        ("Vthr",),
        {"V": "scalar", "SpikeCount": "unsigned int"},
        "V += Isyn * dt;",
        "V >= Vthr",
        "V = 0.0;\nSpikeCount++;",
    )
    source = net.CurrentSourceModel("dc", (), {"amp": "scalar"}, "injectCurrent(amp);")
    sizes = {"input": 6, "hidden": n_hidden, "output": 2}
    populations = {
        name: net.Population(
            name, size, neuron, {"Vthr": 1.0}, {"V": 0.0, "SpikeCount": 0}
        )
        for name, size in sizes.items()
    }
    rng = np.random.default_rng(1)
    synapses = {
        "input_hidden": net.SynapseGroup(
            "input_hidden", "input", "hidden", rng.uniform(0, 1, (6, n_hidden))
        ),
        "hidden_output": net.SynapseGroup(
            "hidden_output", "hidden", "output", rng.uniform(0, 1, (n_hidden, 2))
        ),
    }
    sources = {"drive": net.CurrentSource("drive", source, "input", {}, {"amp": 0.0})}
    return net.Network("tiny", populations, synapses, sources, {})


def _with_weights(network: net.Network, seed: int) -> net.Network:
    rng = np.random.default_rng(seed)
    synapses = {
        name: net.SynapseGroup(
            name, s.source, s.target, rng.uniform(0, 1, s.g.shape) * 3
        )
        for name, s in network.synapses.items()
    }
    return net.Network(
        network.name,
        network.populations,
        synapses,
        network.current_sources,
        network.custom_updates,
    )


def _lif_network() -> net.Network:
    """Leaky neurons, an ExpCurr synapse group and a "Reset" custom update."""
    lif = net.NeuronModel(
        "lif",
        ("tau", "Vthr"),
        {"V": "scalar", "SpikeCount": "unsigned int"},
        "V += (Isyn - V / tau) * dt;",
        "V >= Vthr",
        "V = 0.0;\nSpikeCount++;",
    )
    source = net.CurrentSourceModel(
        "scaled", ("gain",), {"amp": "scalar"}, "injectCurrent(gain * amp);"
    )
    reset = net.CustomUpdateModel(
        "zero",
        (),
        {},
        {"V": "scalar", "SpikeCount": "unsigned int"},
        "V = 0.0;\nSpikeCount = 0;",
    )
    populations = {
        name: net.Population(
            name, size, lif, {"tau": 20.0, "Vthr": 1.0}, {"V": 0.0, "SpikeCount": 0}
        )
        for name, size in (("first", 6), ("second", 5))
    }
    weights = np.random.default_rng(5).uniform(0, 0.8, (6, 5))
    synapses = {
        "first_second": net.SynapseGroup(
            "first_second",
            "first",
            "second",
            weights,
            postsynaptic_model="ExpCurr",
            postsynaptic_params={"tau": 5.0},
        )
    }
    sources = {
        "drive": net.CurrentSource(
            "drive", source, "first", {"gain": 0.5}, {"amp": 0.0}
        )
    }
    updates = {
        f"reset_{name}": net.CustomUpdate(
            f"reset_{name}",
            "Reset",
            reset,
            {},
            {},
            {"V": net.VarRef(name, "V"), "SpikeCount": net.VarRef(name, "SpikeCount")},
        )
        for name in populations
    }
    return net.Network("lif_net", populations, synapses, sources, updates)
