"""snnexp's own vectorised simulator, with GeNN's update semantics.

State is held as NumPy arrays of shape (batch, neurons); model code strings
are translated once by :mod:`snnexp.engines.ccode` into NumPy operations over
those arrays. One timestep follows GeNN's generated code: first every synapse
group propagates the spikes emitted in the previous step into ``inSyn``, then
every population sums its postsynaptic input and injected current into
``Isyn``, runs its sim code, tests its threshold and resets where it spiked.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from snnexp.engines.base import PRECISIONS, Engine, Simulation
from snnexp.engines.ccode import compile_condition, compile_statements
from snnexp.network import CustomUpdate, Network, Population, SynapseGroup, VarRef

log = logging.getLogger(__name__)

_INTEGER_TYPES = {
    "bool": np.bool_,
    "int": np.int32,
    "int8_t": np.int8,
    "int16_t": np.int16,
    "int32_t": np.int32,
    "int64_t": np.int64,
    "unsigned int": np.uint32,
    "uint8_t": np.uint8,
    "uint16_t": np.uint16,
    "uint32_t": np.uint32,
    "uint64_t": np.uint64,
}


def numpy_dtype(ctype: str, precision: type) -> np.dtype:
    """The NumPy dtype of a GeNN variable type; ``scalar`` is ``precision``."""
    ctype = " ".join(ctype.split())
    if ctype == "scalar":
        return np.dtype(precision)
    if ctype in ("float", "double"):
        return np.dtype(np.float32 if ctype == "float" else np.float64)
    if ctype in _INTEGER_TYPES:
        return np.dtype(_INTEGER_TYPES[ctype])
    raise ValueError(
        f"unsupported variable type {ctype!r}; use scalar, float, double, bool or "
        f"a C integer type such as unsigned int"
    )


class NumpyEngine(Engine):
    name = "numpy"

    def __init__(self, **_options) -> None:
        pass

    def build(
        self, network: Network, *, batch_size: int, dt: float, precision: str
    ) -> NumpySimulation:
        return NumpySimulation(network, batch_size, dt, PRECISIONS[precision])


class _PopulationState:
    """Arrays and translated code of one population."""

    def __init__(self, pop: Population, batch: int, dt, dtype) -> None:
        model = pop.model
        where = f"neuron model '{model.name}'"
        variables, constants = dict(model.vars), model.constants()
        self.name = pop.name
        self.env = {name: _scalar(value, dtype) for name, value in pop.params.items()}
        self.env.update(dt=dt, t=_scalar(0.0, dtype))
        self.env["Isyn"] = np.zeros((batch, pop.size), dtype)
        for name, ctype in model.vars.items():
            self.env[name] = np.full(
                (batch, pop.size), pop.var_init[name], numpy_dtype(ctype, dtype)
            )
        self.spikes = np.zeros((batch, pop.size), bool)
        self.sim = compile_statements(
            model.sim_code, where=f"{where} sim_code", variables=variables,
            constants=constants,
        )
        self.threshold = compile_condition(
            model.threshold_condition_code or "false",
            where=f"{where} threshold_condition_code", variables=variables,
            constants=constants,
        )
        self.reset = compile_statements(
            model.reset_code, where=f"{where} reset_code", variables=variables,
            constants=constants,
        )
        self.postsynaptic: list[_Postsynaptic] = []
        self.sources: list[tuple] = []

    def update(self) -> None:
        isyn = self.env["Isyn"]
        isyn.fill(0)
        for psm in self.postsynaptic:
            psm.apply(isyn)
        for block, env in self.sources:
            block.run(env)
        self.sim.run(self.env)
        np.copyto(self.spikes, np.broadcast_to(self.threshold.evaluate(self.env),
                                               self.spikes.shape))
        if self.spikes.any():
            self.reset.run(self.env, where=self.spikes)


class _Postsynaptic:
    """``inSyn`` of one synapse group and its postsynaptic model."""

    def __init__(self, syn: SynapseGroup, batch: int, size: int, dt, dtype):
        self.in_syn = np.zeros((batch, size), dtype)
        self.model = syn.postsynaptic_model
        if self.model == "ExpCurr":
            tau = float(syn.postsynaptic_params["tau"])
            self.exp_decay = _scalar(math.exp(-float(dt) / tau), dtype)
            self.init = _scalar(tau * (1.0 - math.exp(-float(dt) / tau)) / float(dt),
                                dtype)

    def apply(self, isyn: np.ndarray) -> None:
        if self.model == "DeltaCurr":
            isyn += self.in_syn
            self.in_syn.fill(0)
        else:
            isyn += self.init * self.in_syn
            self.in_syn *= self.exp_decay


def _scalar(value, dtype):
    return np.dtype(dtype).type(value)


class NumpySimulation(Simulation):
    def __init__(self, network: Network, batch_size: int, dt: float, dtype) -> None:
        self.batch_size = batch_size
        self.dtype = np.dtype(dtype)
        self.dt = _scalar(dt, dtype)
        self.timestep = 0
        self.populations = {
            name: _PopulationState(pop, batch_size, self.dt, dtype)
            for name, pop in network.populations.items()
        }
        self.synapses = []
        for syn in network.synapses.values():
            target = self.populations[syn.target]
            size = network.populations[syn.target].size
            psm = _Postsynaptic(syn, batch_size, size, self.dt, dtype)
            target.postsynaptic.append(psm)
            weights = np.ascontiguousarray(syn.g, dtype)
            self.synapses.append((self.populations[syn.source], weights, psm))
        self.sources = {}
        for cs in network.current_sources.values():
            self.sources[cs.name] = self._build_source(cs, network)
        self.custom_updates: dict[str, list] = {}
        for cu in network.custom_updates.values():
            self.custom_updates.setdefault(cu.group, []).append(
                self._build_custom_update(cu)
            )

    def _build_source(self, cs, network: Network) -> dict:
        size = network.populations[cs.population].size
        target = self.populations[cs.population]
        env = {name: _scalar(value, self.dtype) for name, value in cs.params.items()}
        env.update(dt=self.dt, t=_scalar(0.0, self.dtype), Isyn=target.env["Isyn"])
        for name, ctype in cs.model.vars.items():
            env[name] = np.full((self.batch_size, size), cs.var_init[name],
                                numpy_dtype(ctype, self.dtype))
        block = compile_statements(
            cs.model.injection_code,
            where=f"current source model '{cs.model.name}' injection_code",
            variables=dict(cs.model.vars), constants=cs.model.constants(),
            sinks={"injectCurrent": "Isyn"},
        )
        target.sources.append((block, env))
        return env

    def _build_custom_update(self, cu: CustomUpdate) -> tuple:
        model = cu.model
        env = {name: _scalar(value, self.dtype) for name, value in cu.params.items()}
        env.update(dt=self.dt, t=_scalar(0.0, self.dtype))
        for name, ref in cu.var_refs.items():
            env[name] = self._array(ref)
        size = max((env[name].shape[1] for name in cu.var_refs), default=1)
        for name, ctype in model.vars.items():
            env[name] = np.full((self.batch_size, size), cu.var_init[name],
                                numpy_dtype(ctype, self.dtype))
        block = compile_statements(
            model.update_code,
            where=f"custom update model '{model.name}' update_code",
            variables={**model.vars, **model.var_refs}, constants=model.constants(),
        )
        return block, env

    def _array(self, ref: VarRef) -> np.ndarray:
        if ref.target in self.populations:
            return self.populations[ref.target].env[ref.var]
        return self.sources[ref.target][ref.var]

    def write(self, ref: VarRef, values: np.ndarray) -> None:
        array = self._array(ref)
        array[: len(values)] = values

    def read(self, ref: VarRef) -> np.ndarray:
        return self._array(ref).copy()

    def custom_update(self, group: str) -> None:
        for block, env in self.custom_updates.get(group, []):
            env["t"] = self._time()
            block.run(env)

    def clear_transients(self) -> None:
        for _, _, psm in self.synapses:
            psm.in_syn.fill(0)
        for pop in self.populations.values():
            pop.spikes.fill(False)

    def run(self, timesteps: int) -> None:
        for _ in range(timesteps):
            self._step()

    def _time(self):
        return _scalar(self.timestep * float(self.dt), self.dtype)

    def _step(self) -> None:
        for source, weights, psm in self.synapses:
            if source.spikes.any():
                psm.in_syn += source.spikes.astype(self.dtype) @ weights
        t = self._time()
        for pop in self.populations.values():
            pop.env["t"] = t
            for _, env in pop.sources:
                env["t"] = t
            pop.update()
        self.timestep += 1
