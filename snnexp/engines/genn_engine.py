"""The ``genn`` engine: the network description as a PyGeNN ``GeNNModel``.

Model definitions go to GeNN unchanged (``create_neuron_model`` and friends),
so GeNN's own code generator compiles the YAML's code strings for CUDA, HIP
or its single-threaded CPU backend. PyGeNN is imported only when this engine
builds a network, so the rest of snnexp runs where it is not installed.

Generated code lives in a cache directory named after a hash of everything
that changes the code (model definitions, sizes, params, initial values,
batch size, precision, ``dt``, backend, preferences, timing) and nothing
that does not (weights, input data, which are copied in after loading). A
sweep over weights or data therefore reuses one build, and a lock file per
directory keeps parallel jobs from writing into it at the same time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from snnexp.engines.base import PRECISIONS, Engine, Simulation
from snnexp.errors import ConfigError, SnnexpError
from snnexp.network import Network, VarRef
from snnexp.schema import EngineConfig

log = logging.getLogger(__name__)

#: Backends the ``engine.backend`` key accepts; ``auto`` lets GeNN choose.
BACKENDS = ("auto", "cuda", "hip", "single_threaded_cpu")

#: Where GeNN documents how to install PyGeNN.
INSTALL_URL = "https://github.com/genn-team/genn/blob/5.4.0/docs/installation.rst"

DEFAULT_CACHE_DIR = Path("~/.cache/snnexp/genn")

_FLOAT_TYPES = {"scalar", "float", "double"}


class PyGeNNMissingError(SnnexpError, ImportError):
    """PyGeNN cannot be imported, so the ``genn`` engine cannot run."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(missing_pygenn_message(reason))


class GeNNBuildError(SnnexpError, RuntimeError):
    """GeNN failed to generate or compile the code of a network."""


def missing_pygenn_message(reason: str = "") -> str:
    """The one line shown when ``engine=genn`` is chosen without PyGeNN."""
    because = f" ({reason})" if reason else ""
    return (
        f"engine=genn needs PyGeNN, which is not importable{because}; install "
        f"GeNN as {INSTALL_URL} describes, or use engine=numpy, which runs "
        f"everywhere."
    )


def import_pygenn():
    """The ``pygenn`` module.

    Raises
    ------
    PyGeNNMissingError
        Where it is not installed or fails to import.
    """
    try:
        import pygenn
    except ImportError as error:
        raise PyGeNNMissingError(str(error)) from None
    return pygenn


def check_engine_config(
    config: EngineConfig, batch_size: int, reset: str = "genn"
) -> None:
    """Check ``engine.*`` without PyGeNN, before any data is read.

    ``engine.backend=auto`` needs PyGeNN to know what it picks, so the batch
    size is checked against it when the network is built, before any code is
    generated.

    Raises
    ------
    ConfigError
        For an unknown backend, a batch size above 1 on the CPU backend, or
        ``reset=full``, which this engine does not offer.
    """
    if reset != "genn":
        raise ConfigError(
            "reset",
            f"got {reset!r}, but the genn engine resets only what the reset "
            f"custom updates reference. Use `reset=genn`, or `engine=numpy` "
            f"for reset={reset}.",
        )
    if config.backend not in BACKENDS:
        raise ConfigError(
            "engine.backend",
            f"got {config.backend!r}; expected one of {', '.join(BACKENDS)}. "
            f"Set e.g. `engine.backend=auto`.",
        )
    if config.backend == "single_threaded_cpu":
        _check_cpu_batch_size(batch_size)


def available_backends() -> list[str] | None:
    """GeNN's backends, best first, or None where PyGeNN is not importable."""
    try:
        from pygenn import genn_model
    except ImportError:
        return None
    return list(genn_model.backend_modules)


def _check_cpu_batch_size(batch_size: int) -> None:
    if batch_size > 1:
        raise ConfigError(
            "batch_size",
            f"got {batch_size}, but GeNN's single_threaded_cpu backend only "
            f"simulates a batch size of 1. Set `batch_size=1`, use `engine=numpy` "
            f"for batches on the CPU, or run on a CUDA GPU "
            f"(`engine.backend=cuda`).",
        )


def resolve_backend(requested: str, available: list[str]) -> str:
    """The backend to build for: ``requested``, or GeNN's first for ``auto``.

    Raises
    ------
    ConfigError
        When PyGeNN was built without the requested backend.
    """
    if requested == "auto":
        return available[0]
    if requested not in available:
        raise ConfigError(
            "engine.backend",
            f"got {requested!r}, but this PyGeNN has only "
            f"{', '.join(available)}. Use `engine.backend=auto` or install a "
            f"PyGeNN built with {requested}.",
        )
    return requested


def code_description(
    network: Network,
    *,
    backend: str,
    preferences: Mapping[str, Any],
    batch_size: int,
    dt: float,
    precision: str,
    timing: bool,
    genn_version: str,
) -> dict:
    """Everything that changes GeNN's generated code, as plain JSON data.

    Weights are described by their shape only: GeNN allocates them and
    snnexp copies their values in after loading, so new weights reuse the
    code. Params and initial values are compiled in as constants, so they
    count.
    """
    return {
        "genn_version": genn_version,
        "backend": backend,
        "preferences": {k: preferences[k] for k in sorted(preferences)},
        "batch_size": batch_size,
        "dt": float(dt),
        "precision": precision,
        "timing": timing,
        "name": network.name,
        "populations": [_describe(p) for p in network.populations.values()],
        "synapses": [
            {
                "name": s.name,
                "source": s.source,
                "target": s.target,
                "shape": list(np.shape(s.g)),
                "matrix_type": s.matrix_type,
                "weight_update_model": s.weight_update_model,
                "postsynaptic_model": s.postsynaptic_model,
                "postsynaptic_params": dict(s.postsynaptic_params or {}),
            }
            for s in network.synapses.values()
        ],
        "current_sources": [_describe(c) for c in network.current_sources.values()],
        "custom_updates": [_describe(c) for c in network.custom_updates.values()],
    }


def _describe(item) -> Any:
    """A JSON-friendly copy of a frozen network dataclass."""
    if hasattr(item, "__dataclass_fields__"):
        return {k: _describe(getattr(item, k)) for k in item.__dataclass_fields__}
    if isinstance(item, Mapping):
        return {str(k): _describe(v) for k, v in item.items()}
    if isinstance(item, tuple | list):
        return [_describe(v) for v in item]
    if isinstance(item, VarRef):
        return str(item)
    return item


def code_hash(description: dict) -> str:
    """A short, stable hash of :func:`code_description`'s result."""
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (a file) while building into it.

    Jobs that need the same code wait here; the second finds GeNN's code up
    to date and only checks it.
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class _CapturedOutput:
    text: str = ""


@contextmanager
def captured_output() -> Iterator[_CapturedOutput]:
    """Capture file descriptors 1 and 2, where GeNN's C++ code and make write.

    GeNN reports some code errors (an undefined identifier) only there, with
    an empty exception message, so the text is needed to explain a failure.
    """
    captured = _CapturedOutput()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile(mode="w+b") as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")


class GeNNEngine(Engine):
    """Builds networks with PyGeNN.

    Parameters
    ----------
    config
        ``engine.*``: backend, preferences, cache directory and timing.
    run_dir
        The run directory; GeNN's build messages are written there.
    """

    name = "genn"

    def __init__(self, config: EngineConfig | None = None, run_dir=None) -> None:
        self.config = config or EngineConfig(name="genn")
        self.run_dir = Path(run_dir) if run_dir is not None else None
        check_engine_config(self.config, 1)

    @property
    def cache_root(self) -> Path:
        return Path(self.config.cache_dir or DEFAULT_CACHE_DIR).expanduser()

    def build(
        self, network: Network, *, batch_size: int, dt: float, precision: str
    ) -> GeNNSimulation:
        """Generate, compile (or reuse) and load ``network``.

        Raises
        ------
        PyGeNNMissingError
            Where PyGeNN is not installed.
        ConfigError
            For a backend PyGeNN lacks, a batch size the backend cannot run or
            an unknown preference; all before any code is generated.
        GeNNBuildError
            When GeNN fails to generate or compile the code.
        """
        pygenn = import_pygenn()
        from pygenn import genn_model

        backend = resolve_backend(self.config.backend, available_backends())
        if backend == "single_threaded_cpu":
            _check_cpu_batch_size(batch_size)
        preferences = dict(self.config.preferences)
        changed = _check_preferences(genn_model.backend_modules[backend], preferences)

        description = code_description(
            network,
            backend=backend,
            preferences=changed,
            batch_size=batch_size,
            dt=dt,
            precision=precision,
            timing=self.config.timing,
            genn_version=pygenn.__version__,
        )
        code_dir = self.cache_root / code_hash(description)
        model = _GeNNModelBuilder(
            pygenn, network, backend, preferences, precision
        ).make(batch_size, dt, self.config.timing)
        log.info(
            "GeNN %s, backend %s, code in %s", pygenn.__version__, backend, code_dir
        )
        with build_lock(code_dir.with_suffix(".lock")):
            reused = self._generate(model, code_dir, description)
        model.load()
        return GeNNSimulation(model, network, batch_size, code_dir, reused)

    def _generate(self, model, code_dir: Path, description: dict) -> bool:
        """Run GeNN's code generator and compiler; True if the code was reused."""
        marker = code_dir / "snnexp-build.json"
        reused = marker.exists()
        code_dir.mkdir(parents=True, exist_ok=True)
        try:
            with captured_output() as messages:
                model.build(path_to_model=str(code_dir))
        except Exception as error:
            raise _build_error(error, messages.text, code_dir, model.name) from None
        finally:
            self._keep_messages(messages.text)
        marker.write_text(json.dumps(description, indent=1, default=str))
        log.info("GeNN code %s", "reused" if reused else "generated and compiled")
        return reused

    def _keep_messages(self, text: str) -> None:
        if text.strip() and self.run_dir is not None and self.run_dir.is_dir():
            (self.run_dir / "genn_build.log").write_text(text)


def _check_preferences(backend_module, preferences: Mapping[str, Any]) -> dict:
    """Check ``preferences``; return those that differ from GeNN's defaults.

    A preference set to its default value generates the same code, so only
    the others count towards the cache directory's hash.
    """
    known = backend_module.Preferences()
    defaults = {key: getattr(known, key, None) for key in preferences}
    for key, value in preferences.items():
        if not hasattr(known, key):
            names = sorted(a for a in dir(known) if not a.startswith("_"))
            raise ConfigError(
                f"engine.preferences.{key}",
                f"this backend has no preference {key!r}; it has {', '.join(names)}.",
            )
        try:
            setattr(known, key, value)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"engine.preferences.{key}",
                f"GeNN does not accept {value!r}: {error}",
            ) from None
    return {k: v for k, v in preferences.items() if getattr(known, k) != defaults[k]}


_LOG_PREFIX = re.compile(r"^\S+ \S+ [A-Z]+ \[\d+\] \[[^\]]+\] ")


def _build_error(error: Exception, messages: str, code_dir: Path, name: str):
    """A :class:`GeNNBuildError` with what GeNN and the compiler said."""
    said = str(error).strip()
    text = f"GeNN failed to build the network ({type(error).__name__})"
    text += f": {said}" if said else ""
    details = [_LOG_PREFIX.sub("", line) for line in messages.splitlines()]
    details = [line for line in details if line.strip()]
    relevant = [line for line in details if re.search(r"error", line, re.I)]
    shown = (relevant or details)[-12:]
    if shown:
        text += "\n  " + "\n  ".join(shown)
    text += f"\nGenerated code: {code_dir / (name + '_CODE')}"
    return GeNNBuildError(text)


class _GeNNModelBuilder:
    """Adds one network's models and groups to a fresh ``GeNNModel``."""

    def __init__(
        self,
        pygenn,
        network: Network,
        backend: str,
        preferences: Mapping[str, Any],
        precision: str,
    ) -> None:
        self.pygenn = pygenn
        self.network = network
        self.backend = backend
        self.preferences = preferences
        self.precision = precision
        self.dtype = PRECISIONS[precision]

    def make(self, batch_size: int, dt: float, timing: bool):
        name = re.sub(r"\W", "_", self.network.name) or "snnexp"
        model = self.pygenn.GeNNModel(
            self.precision, name, backend=self.backend, **self.preferences
        )
        model.dt = dt
        model.batch_size = batch_size
        model.timing_enabled = timing

        neuron_models = self._neuron_models()
        for pop in self.network.populations.values():
            model.add_neuron_population(
                pop.name,
                pop.size,
                neuron_models[pop.model.name],
                dict(pop.params),
                _var_values(pop.var_init, pop.model.vars),
            )
        for syn in self.network.synapses.values():
            self._add_synapse_group(model, syn)
        source_models = self._current_source_models()
        for cs in self.network.current_sources.values():
            model.add_current_source(
                cs.name,
                source_models[cs.model.name],
                model.neuron_populations[cs.population],
                dict(cs.params),
                _var_values(cs.var_init, cs.model.vars),
            )
        update_models = self._custom_update_models()
        for cu in self.network.custom_updates.values():
            refs = {
                name: self._var_ref(model, ref) for name, ref in cu.var_refs.items()
            }
            model.add_custom_update(
                cu.name,
                cu.group,
                update_models[cu.model.name],
                dict(cu.params),
                _var_values(cu.var_init, cu.model.vars),
                refs,
            )
        return model

    def _neuron_models(self) -> dict:
        models = {p.model.name: p.model for p in self.network.populations.values()}
        return {
            name: self.pygenn.create_neuron_model(
                name,
                params=list(m.params),
                vars=list(m.vars.items()),
                sim_code=m.sim_code,
                threshold_condition_code=m.threshold_condition_code,
                reset_code=m.reset_code,
            )
            for name, m in models.items()
        }

    def _current_source_models(self) -> dict:
        sources = self.network.current_sources.values()
        models = {c.model.name: c.model for c in sources}
        return {
            name: self.pygenn.create_current_source_model(
                name,
                params=list(m.params),
                vars=list(m.vars.items()),
                injection_code=m.injection_code,
            )
            for name, m in models.items()
        }

    def _custom_update_models(self) -> dict:
        updates = self.network.custom_updates.values()
        models = {c.model.name: c.model for c in updates}
        read_write = self.pygenn.VarAccessMode.READ_WRITE
        return {
            name: self.pygenn.create_custom_update_model(
                name,
                params=list(m.params),
                vars=list(m.vars.items()),
                var_refs=[(n, t, read_write) for n, t in m.var_refs.items()],
                update_code=m.update_code,
            )
            for name, m in models.items()
        }

    def _add_synapse_group(self, model, syn) -> None:
        weights = np.ascontiguousarray(syn.g, self.dtype).ravel()
        model.add_synapse_population(
            syn.name,
            syn.matrix_type,
            model.neuron_populations[syn.source],
            model.neuron_populations[syn.target],
            self.pygenn.init_weight_update(syn.weight_update_model, {}, {"g": weights}),
            self.pygenn.init_postsynaptic(
                syn.postsynaptic_model, dict(syn.postsynaptic_params or {})
            ),
        )

    def _var_ref(self, model, ref: VarRef):
        if ref.target in model.neuron_populations:
            return self.pygenn.create_var_ref(
                model.neuron_populations[ref.target], ref.var
            )
        return self.pygenn.create_var_ref(model.current_sources[ref.target], ref.var)


def _var_values(values: Mapping[str, float], types: Mapping[str, str]) -> dict:
    """Initial values, as integers for integer variables."""
    out = {}
    for name, value in values.items():
        ctype = " ".join(types[name].split())
        integral = ctype not in _FLOAT_TYPES and float(value).is_integer()
        out[name] = int(value) if integral else value
    return out


class GeNNSimulation(Simulation):
    """A loaded ``GeNNModel``; variables are pulled and pushed around access.

    ``code_dir`` is the cache directory of the generated code and ``reused``
    says whether an earlier build was found there.
    """

    def __init__(
        self, model, network: Network, batch_size: int, code_dir: Path, reused: bool
    ) -> None:
        self.model = model
        self.network = network
        self.batch_size = batch_size
        self.code_dir = code_dir
        self.reused = reused
        self._groups = network.custom_update_groups()

    def _array(self, ref: VarRef):
        if ref.target in self.model.neuron_populations:
            return self.model.neuron_populations[ref.target].vars[ref.var]
        return self.model.current_sources[ref.target].vars[ref.var]

    def _rows(self, array) -> np.ndarray:
        return array.view.reshape(self.batch_size, -1)

    def write(self, ref: VarRef, values: np.ndarray) -> None:
        array = self._array(ref)
        array.pull_from_device()
        self._rows(array)[: len(values)] = values
        array.push_to_device()

    def read(self, ref: VarRef) -> np.ndarray:
        array = self._array(ref)
        array.pull_from_device()
        return self._rows(array).copy()

    def custom_update(self, group: str) -> None:
        if group in self._groups:
            self.model.custom_update(group)

    def run(self, timesteps: int) -> None:
        step = self.model.step_time
        for _ in range(timesteps):
            step()

    def timings(self) -> dict[str, float]:
        """GeNN's own kernel times in seconds, where ``engine.timing`` is on."""
        model = self.model
        if not model.timing_enabled:
            return {}
        times = {
            "genn_neuron_update_time_s": model.neuron_update_time,
            "genn_presynaptic_update_time_s": model.presynaptic_update_time,
            "genn_init_time_s": model.init_time,
        }
        for group in sorted(self._groups):
            times[f"genn_custom_update_{group}_time_s"] = model.get_custom_update_time(
                group
            )
        return times
