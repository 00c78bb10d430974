"""Config-level tests: compose conf/ as a user would and check the model."""

from __future__ import annotations

import pytest

from snnexp.errors import ConfigError
from snnexp.spec import build_network, load_experiment

from .conftest import CONF


def test_default_config_describes_the_tutorial_network(compose_config):
    spec = load_experiment(compose_config("weights.dir=/nowhere"))
    model = spec.model
    assert {n: p.size for n, p in model.populations.items()} == {
        "input": 784,
        "hidden": 128,
        "output": 10,
    }
    assert [(s.source, s.target) for s in model.synapses.values()] == [
        ("input", "hidden"),
        ("hidden", "output"),
    ]
    assert spec.batch_size == 128
    assert spec.dt == 1.0
    assert spec.present_timesteps == 100
    assert spec.input_scale == 0.01
    assert spec.precision == "float"
    assert spec.engine.name == "numpy"
    assert spec.weights.source == "trained"
    assert spec.weights.normalise == "data"
    assert model.input == "input_current.magnitude"
    assert model.readout == "output.SpikeCount"
    assert model.reset_group == "Reset"


def test_reset_group_references_every_population(compose_config):
    model = load_experiment(compose_config("weights.dir=/nowhere")).model
    reset = [cu for cu in model.custom_updates.values() if cu.group == "Reset"]
    refs = {ref for cu in reset for ref in cu.var_refs.values()}
    assert refs == {
        f"{p}.{v}" for p in ("input", "hidden", "output") for v in ("V", "SpikeCount")
    }


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [
        ("batch_size=256", "batch_size", 256),
        ("present_timesteps=50", "present_timesteps", 50),
        ("data.limit=100", "data.limit", 100),
        ("data.root=/tmp/mnist", "data.root", "/tmp/mnist"),
        ("weights.dir=/tmp/w", "weights.dir", "/tmp/w"),
        ("dt=0.5", "dt", 0.5),
        ("precision=double", "precision", "double"),
        ("engine=numpy", "engine.name", "numpy"),
    ],
)
def test_public_overrides(compose_config, override, key, value):
    overrides = (
        [override]
        if override.startswith("weights.")
        else [override, "weights.dir=/nowhere"]
    )
    spec = load_experiment(compose_config(*overrides))
    node = spec
    for part in key.split("."):
        node = getattr(node, part)
    assert node == value


@pytest.mark.parametrize("group", ["model", "data", "engine", "weights"])
def test_every_config_group_option_composes(compose_config, group):
    for option in sorted((CONF / group).glob("*.yaml")):
        cfg = compose_config(f"{group}={option.stem}", "weights.dir=/nowhere")
        load_experiment(cfg)


def test_network_from_config_wires_weights_and_models(compose_config):
    import numpy as np

    spec = load_experiment(compose_config("weights.dir=/nowhere"))
    weights = {
        "input_hidden": np.zeros((784, 128)),
        "hidden_output": np.zeros((128, 10)),
    }
    network = build_network(spec.model, weights)
    assert [s.name for s in network.incoming("hidden")] == ["input_hidden"]
    assert [c.name for c in network.sources_into("input")] == ["input_current"]
    assert network.custom_update_groups() == {"Reset"}
    assert network.populations["output"].model.reset_code.split() == [
        "V",
        "=",
        "0.0;",
        "SpikeCount++;",
    ]


@pytest.mark.parametrize(
    ("override", "key", "fragment"),
    [
        ("batch_size=0", "batch_size", ">= 1"),
        ("batch_size=abc", "batch_size", "abc"),
        ("dt=-1", "dt", "> 0"),
        ("precision=half", "precision", "float, double"),
        ("model.readout=output.Vm", "model.readout", "did you mean 'V'"),
        (
            "model.synapses.input_hidden.target=hiden",
            "model.synapses.input_hidden.target",
            "did you mean 'hidden'",
        ),
        ("model.reset_group=reset", "model.reset_group", "Reset"),
        (
            "model.neuron_models.if.sim_code='V += Isyn * dtt;'",
            "model.neuron_models.if.sim_code",
            "dtt",
        ),
    ],
)
def test_bad_values_name_their_key(compose_config, override, key, fragment):
    with pytest.raises(ConfigError) as caught:
        load_experiment(compose_config(override, "weights.dir=/nowhere"))
    assert caught.value.key == key
    assert fragment in str(caught.value)


def test_missing_weights_dir_says_how_to_set_it(compose_config):
    with pytest.raises(ConfigError, match=r"weights\.dir.*weights\.dir="):
        load_experiment(compose_config("weights=pretrained"))
