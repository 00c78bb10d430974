"""snnexp's own vectorised simulator, with GeNN's update semantics.

State is held as NumPy arrays of shape (batch, neurons); model code strings
are translated once by :mod:`snnexp.engines.ccode` into NumPy operations over
those arrays. One timestep follows GeNN's generated code: first every synapse
group propagates the spikes emitted in the previous step into ``inSyn``, then
every population sums its postsynaptic input and injected current into
``Isyn``, runs its sim code, tests its threshold and resets where it spiked.

Batch rows never interact, so the rows are split into lanes of a few hundred
rows each: a lane's arrays stay in the processor's cache for a whole
presentation, and lanes run side by side on a thread pool (NumPy and the
compiled kernels release the GIL).

By default (``jit``) the whole network is generated as one Numba kernel by
:mod:`snnexp.engines.kernel`, which runs a lane's presentation in one call
and computes exactly what the NumPy operations compute. Model code outside
what that generator translates runs as the NumPy operations, with a log line
that says why.
"""

from __future__ import annotations

import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from snnexp.engines.base import PRECISIONS, Engine, Simulation
from snnexp.engines.ccode import compile_condition, compile_statements
from snnexp.engines.kernel import Kernel, Unsupported, build_kernel
from snnexp.engines.kernels import propagate
from snnexp.network import CustomUpdate, Network, Population, VarRef

log = logging.getLogger(__name__)

#: Rows per lane: small enough for a population's arrays to stay in cache.
LANE_ROWS = 256

#: Fewest rows worth a lane of their own when splitting a batch across threads.
MIN_LANE_ROWS = 48

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
    """Builds :class:`NumpySimulation`; ``threads`` defaults to every core this
    process may run on."""

    name = "numpy"

    def __init__(
        self,
        config=None,
        run_dir=None,
        threads: int | None = None,
        lane_rows: int = LANE_ROWS,
        jit: bool | None = None,
    ) -> None:
        self.threads = threads or getattr(config, "threads", None) or _usable_cores()
        self.lane_rows = getattr(config, "lane_rows", None) or lane_rows
        self.jit = getattr(config, "jit", True) if jit is None else jit
        self.cache_dir = getattr(config, "cache_dir", None)

    def build(
        self, network: Network, *, batch_size: int, dt: float, precision: str
    ) -> NumpySimulation:
        return NumpySimulation(
            network,
            batch_size,
            dt,
            PRECISIONS[precision],
            threads=self.threads,
            lane_rows=self.lane_rows,
            jit=self.jit,
            cache_dir=self.cache_dir,
        )


def _usable_cores() -> int:
    """The cores this process may run on: fewer than the machine has under a
    batch scheduler or ``taskset``, which restrict its CPU affinity."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _scalar(value, dtype):
    return np.dtype(dtype).type(value)


class _Code:
    """The translated code of one population, shared by every lane."""

    def __init__(self, pop: Population, dt: float) -> None:
        model = pop.model
        where = f"neuron model '{model.name}'"
        names = {
            "variables": dict(model.vars),
            "constants": model.constants(),
            "known": {**pop.params, "dt": dt},
        }
        self.sim = compile_statements(
            model.sim_code, where=f"{where} sim_code", **names
        )
        self.threshold = compile_condition(
            model.threshold_condition_code or "false",
            where=f"{where} threshold_condition_code",
            **names,
        )
        self.reset = compile_statements(
            model.reset_code, where=f"{where} reset_code", **names
        )


class _PopulationLane:
    """One population restricted to the rows of one lane.

    ``spiked`` holds the flat indices (row * size + neuron, ascending) of the
    neurons that spiked in the last step: the reset code and the synapse
    groups leaving this population only ever need those.
    """

    def __init__(self, code: _Code, env: dict, shape: tuple[int, int]) -> None:
        self.code = code
        self.env = env
        self.shape = shape
        self.spiked = np.zeros(0, np.int64)
        self.postsynaptic: list[_Postsynaptic] = []
        self.sources: list[tuple] = []
        self._sim = code.sim.bind(env)
        self._threshold = code.threshold.bind(env)
        names = code.reset.reads | code.reset.writes
        self._gathered = sorted(n for n in names if isinstance(env[n], np.ndarray))
        self._compact = {n: env[n] for n in names}
        self._reset_compact = code.reset.bind(self._compact)

    def add_source(self, block, env: dict) -> None:
        self.sources.append((env, block.bind(env)))

    def update(self, t) -> None:
        env = self.env
        env["t"] = t
        isyn = env["Isyn"]
        isyn.fill(0)
        for psm in self.postsynaptic:
            psm.apply(isyn)
        for source_env, inject in self.sources:
            source_env["t"] = t
            inject()
        self._sim()
        crossed = self._threshold()
        if crossed.shape != self.shape:
            crossed = np.broadcast_to(crossed, self.shape)
        self.spiked = crossed.reshape(-1).nonzero()[0]
        if self.spiked.size:
            self._reset()

    def _reset(self) -> None:
        """Run the reset code on the neurons that spiked.

        Only a few percent of neurons spike in a step, so the code runs on
        those elements gathered into short arrays, and what it wrote is
        scattered back: cheaper than masking every element of every array.
        """
        compact, spiked = self._compact, self.spiked
        if "t" in compact:
            compact["t"] = self.env["t"]
        for name in self._gathered:
            value = self.env[name]
            if value.shape != self.shape:
                value = np.broadcast_to(value, self.shape)
            compact[name] = value.reshape(-1).take(spiked)
        self._reset_compact()
        for name in self.code.reset.writes:
            self.env[name].reshape(-1).put(spiked, compact[name])


class _Postsynaptic:
    """``inSyn`` of one synapse group, for the rows of one lane."""

    def __init__(self, model: str, params, in_syn: np.ndarray, dt) -> None:
        self.model = model
        self.in_syn = in_syn
        if model == "ExpCurr":
            decay = math.exp(-float(dt) / float(params["tau"]))
            self.exp_decay = _scalar(decay, in_syn.dtype)
            self.init = _scalar(
                float(params["tau"]) * (1.0 - decay) / float(dt), in_syn.dtype
            )

    def apply(self, isyn: np.ndarray) -> None:
        if self.model == "DeltaCurr":
            isyn += self.in_syn
            self.in_syn.fill(0)
        else:
            isyn += self.init * self.in_syn
            self.in_syn *= self.exp_decay


class _Lane:
    """Rows ``rows`` of every array, simulated independently of other rows."""

    def __init__(self, populations: list[_PopulationLane], synapses: list) -> None:
        self.populations = populations
        self.synapses = synapses

    def run(self, first_timestep: int, timesteps: int, dt) -> None:
        with np.errstate(all="ignore"):
            for step in range(first_timestep, first_timestep + timesteps):
                t = dt.dtype.type(step * float(dt))
                for source, g, in_syn in self.synapses:
                    propagate(source.spiked, source.spiked.size, g, in_syn, 0)
                for population in self.populations:
                    population.update(t)


class _KernelLane:
    """Rows ``rows`` simulated by the network's compiled kernel.

    ``spikes`` and ``counts`` hold each population's spikes of the last
    step (flat indices within the lane, as in :class:`_PopulationLane`).
    """

    def __init__(self, kernel: Kernel, rows: slice, array) -> None:
        self.kernel = kernel
        self.rows = rows
        n = rows.stop - rows.start
        # Eight spare slots: the spike scan writes one past the last spike.
        self.spikes = {
            pop: np.zeros(n * size + 8, np.int64) for pop, size in kernel.sizes.items()
        }
        self.counts = {pop: np.zeros(1, np.int64) for pop in kernel.sizes}
        lane = {"spikes": self.spikes, "count": self.counts}
        self.args = tuple(
            lane[a.kind][a.owner] if a.kind in lane else array(a.kind, a.owner, a.name)
            for a in kernel.args
        )

    def run(self, first_timestep: int, timesteps: int, dt=None) -> None:
        rows = self.rows
        self.kernel.present(
            rows.start, rows.stop, first_timestep, timesteps, *self.args
        )

    def clear(self) -> None:
        for count in self.counts.values():
            count[0] = 0


class NumpySimulation(Simulation):
    def __init__(
        self,
        network: Network,
        batch_size: int,
        dt: float,
        dtype,
        threads: int = 1,
        lane_rows: int = LANE_ROWS,
        jit: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        self.batch_size = batch_size
        self.dtype = np.dtype(dtype)
        self.dt = _scalar(dt, dtype)
        self.timestep = 0
        self.network = network
        self.envs = {
            name: self._population_env(pop) for name, pop in network.populations.items()
        }
        self.in_syn = {
            name: np.zeros((batch_size, network.populations[s.target].size), self.dtype)
            for name, s in network.synapses.items()
        }
        self.weights = {
            name: np.ascontiguousarray(s.g, self.dtype)
            for name, s in network.synapses.items()
        }
        self.source_envs = {
            name: self._source_env(cs) for name, cs in network.current_sources.items()
        }
        self.custom_updates: dict[str, list] = {}
        for cu in network.custom_updates.values():
            self.custom_updates.setdefault(cu.group, []).append(
                self._build_custom_update(cu)
            )
        # Translating the code into NumPy operations also checks it, so it
        # comes first even where the compiled kernel will run it.
        code, sources = self._translate()
        self.kernel = self._build_kernel(cache_dir) if jit else None
        if self.kernel is None:
            self.lanes = self._build_lanes(lane_rows, threads, code, sources)
            self._load_kernels()
        else:
            self.lanes = self._kernel_lanes(lane_rows, threads)
        workers = min(threads, len(self.lanes))
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None
        log.debug(
            "NumPy engine: %d lanes on %d threads", len(self.lanes), max(workers, 1)
        )

    def _population_env(self, pop: Population) -> dict:
        env = {name: _scalar(value, self.dtype) for name, value in pop.params.items()}
        env.update(dt=self.dt, t=_scalar(0.0, self.dtype))
        env["Isyn"] = np.zeros((self.batch_size, pop.size), self.dtype)
        for name, ctype in pop.model.vars.items():
            env[name] = np.full(
                (self.batch_size, pop.size),
                pop.var_init[name],
                numpy_dtype(ctype, self.dtype),
            )
        return env

    def _source_env(self, cs) -> dict:
        size = self.network.populations[cs.population].size
        env = {name: _scalar(value, self.dtype) for name, value in cs.params.items()}
        env.update(dt=self.dt, t=_scalar(0.0, self.dtype))
        for name, ctype in cs.model.vars.items():
            env[name] = np.full(
                (self.batch_size, size),
                cs.var_init[name],
                numpy_dtype(ctype, self.dtype),
            )
        return env

    def _build_custom_update(self, cu: CustomUpdate) -> tuple:
        model = cu.model
        env = {name: _scalar(value, self.dtype) for name, value in cu.params.items()}
        env.update(dt=self.dt, t=_scalar(0.0, self.dtype))
        for name, ref in cu.var_refs.items():
            env[name] = self._array(ref)
        size = max((env[name].shape[1] for name in cu.var_refs), default=1)
        for name, ctype in model.vars.items():
            env[name] = np.full(
                (self.batch_size, size),
                cu.var_init[name],
                numpy_dtype(ctype, self.dtype),
            )
        block = compile_statements(
            model.update_code,
            where=f"custom update model '{model.name}' update_code",
            variables={**model.vars, **model.var_refs},
            constants=model.constants(),
            known={**cu.params, "dt": float(self.dt)},
        )
        return block, env

    def _build_kernel(self, cache_dir: str | None) -> Kernel | None:
        try:
            kernel = build_kernel(
                self.network, self.dtype, float(self.dt), self._kernel_array, cache_dir
            )
        except Unsupported as why:
            log.info(
                "NumPy engine: the model code runs as NumPy operations, not as a "
                "compiled kernel (not translated: %s)",
                why,
            )
            return None
        # Compile (or load from the cache) now: it counts as build time.
        lane = _KernelLane(kernel, slice(0, 0), self._kernel_array)
        lane.run(0, 0)
        return kernel

    def _kernel_array(self, kind: str, owner: str, name: str) -> np.ndarray:
        if kind == "var":
            return self.envs[owner][name]
        if kind == "source_var":
            return self.source_envs[owner][name]
        return {"in_syn": self.in_syn, "g": self.weights}[kind][owner]

    def _kernel_lanes(self, lane_rows: int, threads: int) -> list[_KernelLane]:
        # A lane runs a whole presentation in one call, so even a few rows
        # are worth a thread of their own.
        count = max(
            math.ceil(self.batch_size / lane_rows), min(threads, self.batch_size)
        )
        bounds = np.linspace(0, self.batch_size, count + 1).astype(int)
        return [
            _KernelLane(self.kernel, slice(a, b), self._kernel_array)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def _translate(self) -> tuple[dict, dict]:
        """The code of every population and current source as NumPy
        operations; raises CodeError or NotImplementedError for bad code."""
        code = {
            name: _Code(pop, float(self.dt))
            for name, pop in self.network.populations.items()
        }
        sources = {
            name: compile_statements(
                cs.model.injection_code,
                where=f"current source model '{cs.model.name}' injection_code",
                variables=dict(cs.model.vars),
                constants=cs.model.constants(),
                sinks={"injectCurrent": "Isyn"},
                known={**cs.params, "dt": float(self.dt)},
            )
            for name, cs in self.network.current_sources.items()
        }
        return code, sources

    def _build_lanes(
        self, lane_rows: int, threads: int, code: dict, sources: dict
    ) -> list[_Lane]:
        # Enough lanes to keep each in cache, and one per thread where that
        # still leaves each lane enough rows to outweigh its Python overhead.
        count = max(
            math.ceil(self.batch_size / lane_rows),
            min(threads, self.batch_size // MIN_LANE_ROWS),
            1,
        )
        bounds = np.linspace(0, self.batch_size, count + 1).astype(int)
        return [
            self._lane(slice(a, b), code, sources)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]

    def _lane(self, rows: slice, code: dict, sources: dict) -> _Lane:
        network = self.network
        populations = {}
        for name in network.populations:
            env = {
                k: v[rows] if isinstance(v, np.ndarray) else v
                for k, v in self.envs[name].items()
            }
            shape = (rows.stop - rows.start, network.populations[name].size)
            populations[name] = _PopulationLane(code[name], env, shape)
        synapses = []
        for name, syn in network.synapses.items():
            in_syn = self.in_syn[name][rows]
            target = populations[syn.target]
            target.postsynaptic.append(
                _Postsynaptic(
                    syn.postsynaptic_model,
                    syn.postsynaptic_params or {},
                    in_syn,
                    self.dt,
                )
            )
            synapses.append((populations[syn.source], self.weights[name], in_syn))
        for name, cs in network.current_sources.items():
            target = populations[cs.population]
            env = {
                k: v[rows] if isinstance(v, np.ndarray) else v
                for k, v in self.source_envs[name].items()
            }
            env["Isyn"] = target.env["Isyn"]
            target.add_source(sources[name], env)
        return _Lane(list(populations.values()), synapses)

    def _load_kernels(self) -> None:
        """Compile (or load from Numba's cache) the kernels for this precision
        now, so that it counts as build time rather than simulation time."""
        g = np.zeros((1, 1), self.dtype)
        propagate(np.zeros(0, np.int64), 0, g, np.zeros((1, 1), self.dtype), 0)

    def _array(self, ref: VarRef) -> np.ndarray:
        if ref.target in self.envs:
            return self.envs[ref.target][ref.var]
        return self.source_envs[ref.target][ref.var]

    def write(self, ref: VarRef, values: np.ndarray) -> None:
        self._array(ref)[: len(values)] = values

    def read(self, ref: VarRef) -> np.ndarray:
        return self._array(ref).copy()

    def custom_update(self, group: str) -> None:
        t = _scalar(self.timestep * float(self.dt), self.dtype)
        with np.errstate(all="ignore"):
            for block, env in self.custom_updates.get(group, []):
                env["t"] = t
                block.run(env)

    def clear_transients(self) -> None:
        for in_syn in self.in_syn.values():
            in_syn.fill(0)
        for lane in self.lanes:
            if isinstance(lane, _KernelLane):
                lane.clear()
                continue
            for population in lane.populations:
                population.spiked = population.spiked[:0]

    def run(self, timesteps: int) -> None:
        first = self.timestep
        if self._pool is None:
            for lane in self.lanes:
                lane.run(first, timesteps, self.dt)
        else:
            jobs = [
                self._pool.submit(lane.run, first, timesteps, self.dt)
                for lane in self.lanes
            ]
            for job in jobs:
                job.result()
        self.timestep += timesteps

    def close(self) -> None:
        """Stop the worker threads; the simulation cannot run afterwards."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
