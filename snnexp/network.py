"""The engine-neutral description of a network.

Engines build from this and nothing else: populations, synapse groups,
current sources and custom updates, with model definitions as GeNN code
strings. Names follow GeNN's own (``sim_code``, ``var_refs``, ``inSyn``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Names every model's code may read besides its own params and vars.
BUILTINS = {"dt": "scalar", "t": "scalar"}

#: GeNN's built-in postsynaptic models and the params each needs.
POSTSYNAPTIC_MODELS = {"DeltaCurr": (), "ExpCurr": ("tau",)}

#: GeNN's built-in weight update models that snnexp supports.
WEIGHT_UPDATE_MODELS = ("StaticPulse",)

#: Synaptic matrix types that snnexp supports.
MATRIX_TYPES = ("DENSE",)


@dataclass(frozen=True)
class NeuronModel:
    name: str
    params: tuple[str, ...]
    vars: Mapping[str, str]
    sim_code: str = ""
    threshold_condition_code: str = ""
    reset_code: str = ""

    def constants(self) -> dict[str, str]:
        """Read-only names of the neuron code: params, built-ins and ``Isyn``."""
        return {**dict.fromkeys(self.params, "scalar"), **BUILTINS, "Isyn": "scalar"}


@dataclass(frozen=True)
class CurrentSourceModel:
    name: str
    params: tuple[str, ...]
    vars: Mapping[str, str]
    injection_code: str = ""

    def constants(self) -> dict[str, str]:
        return {**dict.fromkeys(self.params, "scalar"), **BUILTINS}


@dataclass(frozen=True)
class CustomUpdateModel:
    name: str
    params: tuple[str, ...]
    vars: Mapping[str, str]
    var_refs: Mapping[str, str]
    update_code: str = ""

    def constants(self) -> dict[str, str]:
        return {**dict.fromkeys(self.params, "scalar"), **BUILTINS}


@dataclass(frozen=True)
class Population:
    name: str
    size: int
    model: NeuronModel
    params: Mapping[str, float]
    var_init: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class SynapseGroup:
    """A DENSE synapse group; ``g`` is (source size, target size)."""

    name: str
    source: str
    target: str
    g: np.ndarray
    matrix_type: str = "DENSE"
    weight_update_model: str = "StaticPulse"
    postsynaptic_model: str = "DeltaCurr"
    postsynaptic_params: Mapping[str, float] | None = None


@dataclass(frozen=True)
class CurrentSource:
    name: str
    model: CurrentSourceModel
    population: str
    params: Mapping[str, float]
    var_init: Mapping[str, float]


@dataclass(frozen=True)
class VarRef:
    """A reference to ``var`` of a population or current source ``target``."""

    target: str
    var: str

    @classmethod
    def parse(cls, text: str) -> VarRef:
        target, _, var = text.partition(".")
        return cls(target, var)

    def __str__(self) -> str:
        return f"{self.target}.{self.var}"


@dataclass(frozen=True)
class CustomUpdate:
    name: str
    group: str
    model: CustomUpdateModel
    params: Mapping[str, float]
    var_init: Mapping[str, float]
    var_refs: Mapping[str, VarRef]


@dataclass(frozen=True)
class Network:
    name: str
    populations: Mapping[str, Population]
    synapses: Mapping[str, SynapseGroup]
    current_sources: Mapping[str, CurrentSource]
    custom_updates: Mapping[str, CustomUpdate]

    def incoming(self, population: str) -> list[SynapseGroup]:
        """Synapse groups targeting ``population``, in config order."""
        return [s for s in self.synapses.values() if s.target == population]

    def sources_into(self, population: str) -> list[CurrentSource]:
        """Current sources injecting into ``population``, in config order."""
        cs = self.current_sources.values()
        return [c for c in cs if c.population == population]

    def custom_update_groups(self) -> set[str]:
        return {cu.group for cu in self.custom_updates.values()}

    def var_type(self, ref: VarRef) -> str | None:
        """The C type of a population or current-source var, None if absent."""
        if ref.target in self.populations:
            return self.populations[ref.target].model.vars.get(ref.var)
        if ref.target in self.current_sources:
            return self.current_sources[ref.target].model.vars.get(ref.var)
        return None
