"""Typed (structured) configs: the shape and types every config must have.

Hydra composes plain YAML; :func:`snnexp.spec.load_experiment` merges it into
these dataclasses, so a value of the wrong type or an unknown key is reported
with its full key before anything else happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


@dataclass
class NeuronModelConfig:
    params: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    sim_code: str = ""
    threshold_condition_code: str = ""
    reset_code: str = ""


@dataclass
class CurrentSourceModelConfig:
    params: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    injection_code: str = ""


@dataclass
class CustomUpdateModelConfig:
    params: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    var_refs: dict[str, str] = field(default_factory=dict)
    update_code: str = ""


@dataclass
class PopulationConfig:
    size: int = MISSING
    model: str = MISSING
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, float] = field(default_factory=dict)


@dataclass
class WeightUpdateConfig:
    model: str = "StaticPulse"
    weights: str = MISSING  # .npy file name, relative to weights.dir


@dataclass
class PostsynapticConfig:
    model: str = "DeltaCurr"
    params: dict[str, float] = field(default_factory=dict)


@dataclass
class SynapseConfig:
    source: str = MISSING
    target: str = MISSING
    matrix_type: str = "DENSE"
    weight_update: WeightUpdateConfig = field(default_factory=WeightUpdateConfig)
    postsynaptic: PostsynapticConfig = field(default_factory=PostsynapticConfig)


@dataclass
class CurrentSourceConfig:
    model: str = MISSING
    population: str = MISSING
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, float] = field(default_factory=dict)


@dataclass
class CustomUpdateConfig:
    group: str = MISSING
    model: str = MISSING
    params: dict[str, float] = field(default_factory=dict)
    vars: dict[str, float] = field(default_factory=dict)
    var_refs: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelConfig:
    name: str = MISSING
    neuron_models: dict[str, NeuronModelConfig] = field(default_factory=dict)
    current_source_models: dict[str, CurrentSourceModelConfig] = field(
        default_factory=dict
    )
    custom_update_models: dict[str, CustomUpdateModelConfig] = field(
        default_factory=dict
    )
    populations: dict[str, PopulationConfig] = field(default_factory=dict)
    synapses: dict[str, SynapseConfig] = field(default_factory=dict)
    current_sources: dict[str, CurrentSourceConfig] = field(default_factory=dict)
    custom_updates: dict[str, CustomUpdateConfig] = field(default_factory=dict)
    input: str = MISSING  # "<current source or population>.<var>"
    reset_group: Optional[str] = None
    readout: str = MISSING  # "<population>.<var>"


@dataclass
class DataFileConfig:
    name: str = MISSING
    md5: Optional[str] = None  # checksum of the file as the mirror serves it


@dataclass
class SplitFilesConfig:
    images: DataFileConfig = field(default_factory=DataFileConfig)
    labels: DataFileConfig = field(default_factory=DataFileConfig)


@dataclass
class DataConfig:
    name: str = MISSING
    root: str = MISSING
    split: str = "test"
    limit: Optional[int] = None
    download: bool = True
    mirror: str = ""
    files: dict[str, SplitFilesConfig] = field(default_factory=dict)


@dataclass
class EngineConfig:
    name: str = "numpy"
    threads: Optional[int] = None  # numpy: worker threads; None for every usable core
    lane_rows: int = 256  # numpy: batch rows simulated together in cache
    jit: bool = True  # numpy: compile the model code into one Numba kernel
    backend: str = "auto"
    preferences: dict[str, Any] = field(default_factory=dict)
    cache_dir: Optional[str] = None
    timing: bool = False


@dataclass
class WeightsConfig:
    source: str = "pretrained"  # pretrained (read from dir) or trained (cached)
    dir: Optional[str] = None  # .npy files of pretrained weights
    cache_dir: str = "~/.cache/snnexp/weights"  # trained weights, one folder per key
    epochs: int = 10
    batch_size: int = 100  # images per training step
    optimiser: str = "adam"  # adam or sgd (with momentum)
    learning_rate: float = 0.001
    momentum: float = 0.9  # sgd only
    seed: int = 0
    normalise: str = "none"  # none, or data (Diehl et al. 2015)
    percentile: float = 99.9  # of ReLU activations, for normalise=data
    threshold_param: str = "Vthr"  # neuron param holding the firing threshold


@dataclass
class ObjectiveConfig:
    metric: str = "accuracy"  # results.csv column a run returns to a sweeper
    limit_column: str = "sim_time_s"
    limit: Optional[float] = None  # above it, a run returns metric - 1


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    batch_size: int = 128
    dt: float = 1.0
    present_timesteps: int = 100
    input_scale: float = 0.01
    precision: str = "float"
    reset: str = "genn"
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
