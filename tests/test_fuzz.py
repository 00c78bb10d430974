"""Random model code and random config values: a run or a clean error.

Every example goes through the whole pipeline in-process: the composed tiny
config is changed, validated by ``load_experiment`` and, where it passes, run
by ``run_experiment`` on the tiny dataset. Anything other than a completed
run or a :class:`~snnexp.errors.SnnexpError` / ``NotImplementedError`` (the
two kinds the command line reports as one line) fails the test.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from snnexp.errors import SnnexpError
from snnexp.runner import run_experiment
from snnexp.spec import load_experiment

from .conftest import CONF, make_tiny_data

CLEAN_ERRORS = (SnnexpError, NotImplementedError)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CODE_TOKENS = [
    "V", "SpikeCount", "Vthr", "Isyn", "dt", "t", "x", "foo", "exp", "sin",
    "system", "__import__", "exec", "eval", "open", "os", "import", "lambda",
    "scalar", "int", "unsigned", "if", "else", "while", "for", "return", "1",
    "0", "2.5f", "1e308", "-1", "+", "-", "*", "/", "%", "=", "+=", "++", "==",
    "<", ">=", "&&", "||", "!", "?", ":", ",", ";", "(", ")", "{", "}", "[", "]",
    "#include", "#define", "$(V)", '"s"', "'c'", "//", "/*", "*/", "\n", ".",
    "->", "::", "`", "@", "\\",
]  # fmt: skip

CODE_KEYS = [
    "model.neuron_models.if.sim_code",
    "model.neuron_models.if.threshold_condition_code",
    "model.neuron_models.if.reset_code",
    "model.current_source_models.cs_model.injection_code",
    "model.custom_update_models.reset.update_code",
]

ANY_VALUE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)

#: Config keys with values that may be valid and small enough to run.
RUNNABLE = {
    "batch_size": st.integers(min_value=-3, max_value=12),
    "present_timesteps": st.integers(min_value=-3, max_value=40),
    "dt": st.one_of(st.floats(min_value=-2.0, max_value=5.0), st.just(math.nan)),
    "input_scale": st.floats(allow_nan=True, allow_infinity=True),
    "model.populations.hidden.params.Vthr": st.floats(
        allow_nan=True, allow_infinity=True
    ),
    "model.populations.hidden.size": st.integers(min_value=-2, max_value=12),
    "data.limit": st.one_of(st.none(), st.integers(min_value=-2, max_value=12)),
    "precision": st.sampled_from(["float", "double", "half", "", "FLOAT"]),
    "reset": st.sampled_from(["genn", "full", "none", "Genn"]),
    "model.readout": st.sampled_from(
        ["output.SpikeCount", "output.V", "hidden.V", "output", ".V", "output."]
    ),
    "model.input": st.sampled_from(
        ["input_current.magnitude", "input.V", "input", "hidden.V", "nothing.x"]
    ),
    "model.synapses.input_hidden.source": st.sampled_from(
        ["input", "hidden", "output", "", "input_current"]
    ),
    "model.reset_group": st.sampled_from(["Reset", None, "reset", ""]),
}

#: Counts that, valid but large, would make a long run.
COUNT_KEYS = {"batch_size", "present_timesteps", "model.populations.output.size"}

#: Keys that get any value at all: they must be refused or used safely.
ANY_KEYS = [
    "batch_size", "dt", "present_timesteps", "input_scale", "precision",
    "model.populations.hidden.params.Vthr", "model.populations.output.size",
    "model.neuron_models.if.vars.V", "model.custom_updates.input_reset.group",
    "data.limit", "data.split", "engine.name", "weights.dir",
]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    return make_tiny_data(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def base_config(tiny):
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=tiny["overrides"])
    GlobalHydra.instance().clear()
    return cfg


def _run_or_refuse(cfg, changes: dict) -> str:
    """Apply ``changes`` and run; return "ran" or "refused"."""
    result = _attempt(cfg, changes)
    event(result)
    return result


def _attempt(cfg, changes: dict) -> str:
    cfg = cfg.copy()
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value, merge=False)
    try:
        spec = load_experiment(cfg)
        with tempfile.TemporaryDirectory() as run_dir:
            outcome = run_experiment(spec, Path(run_dir))
            results = pd.read_csv(Path(run_dir) / "results.csv")
    except CLEAN_ERRORS as error:
        assert str(error).strip()
        return "refused"
    assert outcome.status == "completed"
    assert results.loc[0, "status"] == "completed"
    assert results.loc[0, "n_images"] == outcome.n_images
    return "ran"


@FUZZ
@given(
    key=st.sampled_from(CODE_KEYS),
    code=st.one_of(
        st.lists(st.sampled_from(CODE_TOKENS), max_size=30).map(" ".join),
        st.text(max_size=80),
    ),
)
def test_random_model_code_runs_or_is_refused(base_config, key, code):
    _run_or_refuse(base_config, {key: code})


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(list(RUNNABLE)),
        st.none(),
        min_size=1,
        max_size=4,
    ).flatmap(lambda keys: st.fixed_dictionaries({k: RUNNABLE[k] for k in keys}))
)
def test_random_run_settings_run_or_are_refused(base_config, changes):
    _run_or_refuse(base_config, changes)


@FUZZ
@given(key=st.sampled_from(ANY_KEYS), value=ANY_VALUE)
def test_any_value_for_a_key_runs_or_is_refused(base_config, key, value):
    if key in COUNT_KEYS and isinstance(value, int) and value > 64:
        _validated_or_refused(base_config, {key: value})
    else:
        _run_or_refuse(base_config, {key: value})


def _validated_or_refused(cfg, changes: dict) -> None:
    """Validate only: a large count that passes would make a long run."""
    cfg = cfg.copy()
    for key, value in changes.items():
        OmegaConf.update(cfg, key, value, merge=False)
    try:
        load_experiment(cfg)
    except CLEAN_ERRORS as error:
        assert str(error).strip()


def test_valid_examples_do_run(base_config):
    assert _attempt(base_config, {"batch_size": 3}) == "ran"
    assert _attempt(base_config, {"dt": math.nan}) == "refused"
