"""Config-level tests of the experiment presets and the launcher configs."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.types import RunMode
from omegaconf import OmegaConf

from snnexp.spec import load_experiment
from snnexp.sweep import check_objective

from .conftest import CONF

PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
needs_genn_config = pytest.mark.skipif(
    not (CONF / "engine" / "genn.yaml").is_file(),
    reason="conf/engine/genn.yaml is not there; the genn engine is not configured",
)


@pytest.fixture
def compose_with_hydra():
    """Compose conf/ with its hydra node, as a multirun would see it."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                config_name="config",
                overrides=list(overrides),
                return_hydra_config=True,
            )

    yield _compose
    GlobalHydra.instance().clear()


def spec_of(cfg):
    task = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    spec = load_experiment(task)
    check_objective(spec.objective)
    return spec


def test_presets_are_there():
    assert {"tutorial", "batch_sweep", "engine_comparison", "optuna_latency"} <= set(
        PRESETS
    )


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_validates(compose_with_hydra, preset):
    spec_of(compose_with_hydra(f"experiment={preset}", "weights.dir=/nowhere"))


def test_tutorial_preset_pins_the_published_settings(compose_with_hydra):
    cfg = compose_with_hydra("experiment=tutorial", "weights.dir=/nowhere")
    spec = spec_of(cfg)
    assert (spec.batch_size, spec.present_timesteps, spec.dt) == (128, 100, 1.0)
    assert (spec.input_scale, spec.reset, spec.engine.name) == (0.01, "genn", "numpy")
    assert spec.data.limit is None
    assert cfg.hydra.mode is None


def sweep_values(cfg, key: str) -> list:
    """The values a basic sweeper gives ``key`` from ``hydra.sweeper.params``."""
    text = f"{key}={cfg.hydra.sweeper.params[key]}"
    override = OverridesParser.create().parse_overrides([text])[0]
    return list(override.sweep_iterator())


def test_batch_sweep_preset_sweeps_batch_sizes(compose_with_hydra):
    cfg = compose_with_hydra("experiment=batch_sweep", "weights.dir=/nowhere")
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert sweep_values(cfg, "batch_size") == [32, 64, 128, 256, 512]
    for size in sweep_values(cfg, "batch_size"):
        spec = spec_of(
            compose_with_hydra(
                "experiment=batch_sweep", f"batch_size={size}", "weights.dir=/nowhere"
            )
        )
        assert spec.batch_size == size


def test_engine_comparison_sweeps_engines_and_batch_sizes(compose_with_hydra):
    cfg = compose_with_hydra("experiment=engine_comparison", "weights.dir=/nowhere")
    assert cfg.hydra.mode == RunMode.MULTIRUN
    assert sweep_values(cfg, "engine") == ["numpy", "genn"]
    assert sweep_values(cfg, "batch_size") == [1, 128]


@needs_genn_config
def test_engine_comparison_jobs_compose_on_every_engine(compose_with_hydra):
    cfg = compose_with_hydra("experiment=engine_comparison", "weights.dir=/nowhere")
    for engine in sweep_values(cfg, "engine"):
        spec = spec_of(
            compose_with_hydra(
                "experiment=engine_comparison",
                f"engine={engine}",
                "weights.dir=/nowhere",
            )
        )
        assert spec.engine.name == engine


def test_optuna_preset_searches_keys_the_config_has(compose_with_hydra):
    cfg = compose_with_hydra("experiment=optuna_latency", "weights.dir=/nowhere")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper")
    assert sweeper.direction == "maximize"
    assert cfg.objective.limit > 0
    assert set(sweeper.params) == {
        "model.populations.hidden.params.Vthr",
        "model.populations.output.params.Vthr",
        "input_scale",
        "present_timesteps",
    }
    for key in sweeper.params:
        assert OmegaConf.select(cfg, key) is not None, key


def test_slurm_launcher_config(compose_with_hydra):
    cfg = compose_with_hydra(
        "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "weights.dir=/nowhere"
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.partition == "gpu"
    assert launcher.timeout_min == 60
    assert launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"
    assert list(launcher.setup) == ["export OPENBLAS_NUM_THREADS=4"]


def test_sweep_summary_callback_is_configured(compose_with_hydra):
    callbacks = compose_with_hydra("weights.dir=/nowhere").hydra.callbacks
    assert callbacks.sweep_summary._target_ == "snnexp.sweep.SweepSummary"
