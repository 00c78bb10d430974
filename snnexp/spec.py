"""From a composed Hydra config to a validated experiment and its network.

Everything downstream reads the typed :class:`~snnexp.schema.ExperimentConfig`
returned by :func:`load_experiment`, never the raw DictConfig. Every check
runs before anything is built and raises :class:`~snnexp.errors.ConfigError`
naming the config key, the bad value and the fix.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from snnexp import network as net
from snnexp.conversion import check_weights_config
from snnexp.errors import ConfigError
from snnexp.schema import ExperimentConfig, ModelConfig

ENGINES = ("numpy", "genn")
PRECISIONS = ("float", "double")
RESETS = ("genn", "full")

#: GeNN counts neurons, batch rows and timesteps in 32-bit unsigned integers.
COUNT_LIMIT = 2**32 - 1


def load_experiment(cfg: DictConfig | Mapping) -> ExperimentConfig:
    """Type-check ``cfg`` against the schema and validate its values.

    Raises
    ------
    ConfigError
        For a value of the wrong type, an unknown or missing key, a value
        out of range or a reference to something the model does not define.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), cfg)
        spec = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise _schema_error(error) from None
    validate(spec)
    return spec


def _schema_error(error: OmegaConfBaseException) -> ConfigError:
    key = getattr(error, "full_key", None) or "config"
    reason = str(error).splitlines()[0]
    if "Missing mandatory value" in str(error) or "missing mandatory" in reason:
        return ConfigError(key, f"no value is set. Set it, e.g. `{key}=...`.")
    if "not in struct" in reason or "Key '" in reason:
        return ConfigError(
            key, f"{reason}. Check the spelling against conf/ or remove the key."
        )
    return ConfigError(key, f"{reason}. Fix the value in conf/ or the override.")


def validate(spec: ExperimentConfig) -> None:
    """Check ranges, choices and every cross-reference of ``spec``."""
    _check_run_settings(spec)
    _check_model(spec.model)
    _check_code(spec.model, numpy_engine=spec.engine.name == "numpy")
    check_weights_config(spec)
    _check_precision(spec)


def _check_precision(spec: ExperimentConfig) -> None:
    """Every number must survive the cast to the model precision: in float32
    a value beyond about 3.4e38 becomes infinite and poisons the run."""
    dtype = np.float32 if spec.precision == "float" else np.float64
    largest = float(np.finfo(dtype).max)
    pixel = 255 * abs(spec.input_scale)
    numbers = [("dt", spec.dt, spec.dt), ("input_scale", spec.input_scale, pixel)]
    model = spec.model
    for section in ("populations", "current_sources", "custom_updates"):
        for name, item in getattr(model, section).items():
            for part in ("params", "vars"):
                key = f"model.{section}.{name}.{part}"
                values = getattr(item, part).items()
                numbers += [(f"{key}.{k}", v, v) for k, v in values]
    for name, syn in model.synapses.items():
        key = f"model.synapses.{name}.postsynaptic.params"
        numbers += [(f"{key}.{k}", v, v) for k, v in syn.postsynaptic.params.items()]
    for key, value, used in numbers:
        if abs(used) > largest:
            raise ConfigError(
                key,
                f"got {value:g}, which makes numbers beyond the largest "
                f"{spec.precision} ({largest:g}); use a smaller value or "
                f"precision=double.",
            )


def _check_run_settings(spec: ExperimentConfig) -> None:
    _at_least("batch_size", spec.batch_size, 1, COUNT_LIMIT)
    _at_least("present_timesteps", spec.present_timesteps, 1, COUNT_LIMIT)
    if not (math.isfinite(spec.dt) and spec.dt > 0):
        raise ConfigError("dt", f"got {spec.dt}; the timestep must be > 0 ms.")
    if not math.isfinite(spec.input_scale):
        raise ConfigError("input_scale", f"got {spec.input_scale}; use a number.")
    _one_of("precision", spec.precision, PRECISIONS)
    _one_of("reset", spec.reset, RESETS)
    _one_of("engine.name", spec.engine.name, ENGINES, hint="engine=")
    if spec.engine.threads is not None:
        _at_least("engine.threads", spec.engine.threads, 1)
    _at_least("engine.lane_rows", spec.engine.lane_rows, 1)
    if spec.engine.name == "genn":
        from snnexp.engines.genn_engine import check_engine_config

        check_engine_config(spec.engine, spec.batch_size, spec.reset)
    if spec.data.limit is not None:
        _at_least("data.limit", spec.data.limit, 1)
    _exists("data.split", spec.data.split, spec.data.files, "split")


def _at_least(key: str, value: int, lowest: int, highest: int | None = None) -> None:
    if value < lowest:
        raise ConfigError(key, f"got {value}; it must be >= {lowest}.")
    if highest is not None and value > highest:
        raise ConfigError(
            key, f"got {value}; it must be <= {highest}, the most GeNN can count."
        )


def _one_of(key: str, value: str, choices: Iterable[str], hint: str = "") -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(
            key,
            f"got {value!r}; expected one of {', '.join(choices)}"
            f"{_did_you_mean(value, choices)}. Set e.g. `{hint or key + '='}"
            f"{choices[0]}`.",
        )


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _exists(key: str, name: str, defined: Mapping, what: str) -> None:
    if name not in defined:
        known = ", ".join(defined) or "none"
        raise ConfigError(
            key,
            f"{what} {name!r} is not defined{_did_you_mean(name, defined)}; "
            f"defined: {known}. Use one of those or define {name!r}.",
        )


def _check_values(key: str, given: Mapping, declared: Iterable[str], what: str):
    """Every declared name has a value in ``given`` and nothing else does.

    Where ``declared`` maps names to C types, integer values must also fit
    their type, since GeNN would otherwise wrap or truncate them silently.
    """
    types = declared if isinstance(declared, Mapping) else {}
    declared = list(declared)
    for name in declared:
        if name not in given:
            raise ConfigError(
                f"{key}.{name}",
                f"the model declares {what} {name!r} but no value is given. "
                f"Add `{name}: <value>` under {key}.",
            )
    for name, value in given.items():
        if name not in declared:
            raise ConfigError(
                f"{key}.{name}",
                f"the model has no {what} {name!r}"
                f"{_did_you_mean(name, declared)}; it declares "
                f"{', '.join(declared) or 'none'}.",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                f"{key}.{name}", f"got {value!r}; expected a number, e.g. 1.0."
            )
        if not math.isfinite(value):
            raise ConfigError(f"{key}.{name}", f"got {value}; use a finite number.")
        if name in types:
            _check_integer(f"{key}.{name}", value, types[name])


def _check_integer(key: str, value: float, type_text: str) -> None:
    from snnexp.engines.ccode import declared_type

    dtype = declared_type(key, "var", key.rsplit(".", 1)[-1], type_text)
    if dtype is None or dtype.kind == "b":
        return
    info = np.iinfo(dtype)
    if value != int(value) or not info.min <= value <= info.max:
        raise ConfigError(
            key,
            f"got {value} but the var is declared {type_text!r}, which holds "
            f"whole numbers from {info.min} to {info.max}; use such a value or "
            f"declare the var scalar.",
        )


def _check_model(model: ModelConfig) -> None:
    _check_definitions(model)
    populations = model.populations
    if not populations:
        raise ConfigError(
            "model.populations",
            "no population is defined; add one under model.populations.",
        )
    for name, pop in populations.items():
        key = f"model.populations.{name}"
        _at_least(f"{key}.size", pop.size, 1, COUNT_LIMIT)
        _exists(f"{key}.model", pop.model, model.neuron_models, "neuron model")
        definition = model.neuron_models[pop.model]
        _check_values(f"{key}.params", pop.params, definition.params, "param")
        _check_values(f"{key}.vars", pop.vars, definition.vars, "var")

    for name, syn in model.synapses.items():
        _check_synapse(f"model.synapses.{name}", syn, populations)

    for name, cs in model.current_sources.items():
        key = f"model.current_sources.{name}"
        _exists(f"{key}.population", cs.population, populations, "population")
        models = model.current_source_models
        _exists(f"{key}.model", cs.model, models, "current source model")
        _check_values(f"{key}.params", cs.params, models[cs.model].params, "param")
        _check_values(f"{key}.vars", cs.vars, models[cs.model].vars, "var")

    for name, cu in model.custom_updates.items():
        _check_custom_update(f"model.custom_updates.{name}", cu, model)

    _check_var_ref("model.input", model.input, model, sources=True)
    _check_var_ref("model.readout", model.readout, model, sources=False)
    groups = {cu.group for cu in model.custom_updates.values()}
    if model.reset_group is not None:
        _exists(
            "model.reset_group",
            model.reset_group,
            dict.fromkeys(groups),
            "custom-update group",
        )


def _check_definitions(model: ModelConfig) -> None:
    """Each model declares every name once, with a supported type, and none
    of them hides a name its code gets from GeNN (``dt``, ``Isyn``, ...)."""
    builtins = {
        "neuron_models": {*net.BUILTINS, "Isyn"},
        "current_source_models": {*net.BUILTINS, "Isyn", "injectCurrent"},
        "custom_update_models": set(net.BUILTINS),
    }
    for section, reserved in builtins.items():
        for name, definition in getattr(model, section).items():
            key = f"model.{section}.{name}"
            declared = [("params", p, "scalar") for p in definition.params]
            declared += [("vars", v, t) for v, t in definition.vars.items()]
            var_refs = getattr(definition, "var_refs", {})
            declared += [("var_refs", v, t) for v, t in var_refs.items()]
            _check_declared(key, declared, reserved)


def _check_declared(key: str, declared: list, reserved: set) -> None:
    from snnexp.engines.ccode import CodeError, declared_type

    seen: dict[str, str] = {}
    for part, name, type_text in declared:
        name_key = f"{key}.{part}" if part == "params" else f"{key}.{part}.{name}"
        if name in reserved:
            raise ConfigError(
                name_key,
                f"{name!r} is a built-in name of GeNN model code "
                f"({', '.join(sorted(reserved))}); rename the {part[:-1]}.",
            )
        if name in seen:
            where = (
                f"twice under {part}"
                if seen[name] == part
                else (f"both under {seen[name]} and {part}")
            )
            raise ConfigError(
                name_key,
                f"{name!r} is declared {where}; give each param, var and var "
                f"ref its own name.",
            )
        seen[name] = part
        try:
            declared_type(name_key, part[:-1].replace("_", " "), name, type_text)
        except CodeError as error:
            message = str(error).removeprefix(f"{name_key}: ")
            raise ConfigError(name_key, message) from None


def _check_synapse(key: str, syn, populations: Mapping) -> None:
    _exists(f"{key}.source", syn.source, populations, "population")
    _exists(f"{key}.target", syn.target, populations, "population")
    _one_of(f"{key}.matrix_type", syn.matrix_type, net.MATRIX_TYPES)
    _one_of(
        f"{key}.weight_update.model", syn.weight_update.model, net.WEIGHT_UPDATE_MODELS
    )
    psm = syn.postsynaptic
    _one_of(f"{key}.postsynaptic.model", psm.model, net.POSTSYNAPTIC_MODELS)
    _check_values(
        f"{key}.postsynaptic.params",
        psm.params,
        net.POSTSYNAPTIC_MODELS[psm.model],
        "param",
    )
    if psm.params.get("tau", 1.0) <= 0:
        raise ConfigError(
            f"{key}.postsynaptic.params.tau",
            f"got {psm.params['tau']}; the decay time constant must be > 0 ms.",
        )
    if not syn.weight_update.weights.endswith(".npy"):
        raise ConfigError(
            f"{key}.weight_update.weights",
            f"got {syn.weight_update.weights!r}; expected a .npy file name.",
        )


def _check_custom_update(key: str, cu, model: ModelConfig) -> None:
    _exists(f"{key}.model", cu.model, model.custom_update_models, "custom update model")
    definition = model.custom_update_models[cu.model]
    _check_values(f"{key}.params", cu.params, definition.params, "param")
    _check_values(f"{key}.vars", cu.vars, definition.vars, "var")
    for name in definition.var_refs:
        if name not in cu.var_refs:
            raise ConfigError(
                f"{key}.var_refs.{name}",
                f"the model declares var ref {name!r} but it is not bound. Add "
                f"`{name}: <population>.<var>` under {key}.var_refs.",
            )
    for name, text in cu.var_refs.items():
        ref_key = f"{key}.var_refs.{name}"
        if name not in definition.var_refs:
            raise ConfigError(
                ref_key,
                f"the model has no var ref {name!r}; it declares "
                f"{', '.join(definition.var_refs) or 'none'}.",
            )
        ref_type = _check_var_ref(ref_key, text, model, sources=True)
        wanted = definition.var_refs[name]
        if _ctype(ref_type) != _ctype(wanted):
            raise ConfigError(
                ref_key,
                f"{text} has type {ref_type!r} but var ref {name!r} is declared "
                f"{wanted!r}; make the types agree.",
            )


def _ctype(name: str) -> str:
    return " ".join(name.split())


def _check_var_ref(key: str, text: str, model: ModelConfig, sources: bool) -> str:
    """Check that ``text`` names ``<target>.<var>``; return the var's type."""
    ref = net.VarRef.parse(text)
    targets = dict(model.populations)
    if sources:
        targets.update(model.current_sources)
    if not ref.var:
        raise ConfigError(key, f"got {text!r}; expected `<name>.<var>`.")
    what = "population or current source" if sources else "population"
    _exists(key, ref.target, targets, what)
    if ref.target in model.populations:
        declared = model.neuron_models[model.populations[ref.target].model].vars
    else:
        source = model.current_sources[ref.target]
        declared = model.current_source_models[source.model].vars
    if ref.var not in declared:
        raise ConfigError(
            key,
            f"{ref.target!r} has no var {ref.var!r}"
            f"{_did_you_mean(ref.var, declared)}; its vars are "
            f"{', '.join(declared) or 'none'}.",
        )
    return declared[ref.var]


def _check_code(model: ModelConfig, numpy_engine: bool) -> None:
    """Translate every code string once, so bad code fails before building.

    C that is valid but beyond the NumPy engine (a loop, say) only fails
    when that engine will run it; GeNN compiles it as it is.
    """
    from snnexp.engines.ccode import CodeError, compile_condition, compile_statements

    for key, kind, code, variables, constants, sinks in _code_strings(model):
        try:
            if kind == "condition":
                compile_condition(
                    code, where=key, variables=variables, constants=constants
                )
            else:
                compile_statements(
                    code,
                    where=key,
                    variables=variables,
                    constants=constants,
                    sinks=sinks,
                )
        except CodeError as error:
            raise ConfigError(key, str(error).removeprefix(f"{key}: ")) from None
        except NotImplementedError:
            if numpy_engine:
                raise


def _code_strings(model: ModelConfig):
    built = model_definitions(model)
    for name, nm in built["neuron"].items():
        key = f"model.neuron_models.{name}"
        variables, constants = dict(nm.vars), nm.constants()
        yield f"{key}.sim_code", "code", nm.sim_code, variables, constants, {}
        yield (
            f"{key}.threshold_condition_code",
            "condition",
            nm.threshold_condition_code,
            variables,
            constants,
            {},
        )
        yield f"{key}.reset_code", "code", nm.reset_code, variables, constants, {}
    for name, csm in built["current_source"].items():
        key = f"model.current_source_models.{name}.injection_code"
        sinks = {"injectCurrent": "Isyn"}
        variables = {**csm.vars, "Isyn": "scalar"}
        yield key, "code", csm.injection_code, variables, csm.constants(), sinks
    for name, cum in built["custom_update"].items():
        key = f"model.custom_update_models.{name}.update_code"
        variables = {**cum.vars, **cum.var_refs}
        yield key, "code", cum.update_code, variables, cum.constants(), {}


def model_definitions(model: ModelConfig) -> dict[str, dict]:
    """The neuron, current-source and custom-update models of ``model``."""
    return {
        "neuron": {
            name: net.NeuronModel(
                name,
                tuple(m.params),
                dict(m.vars),
                m.sim_code,
                m.threshold_condition_code,
                m.reset_code,
            )
            for name, m in model.neuron_models.items()
        },
        "current_source": {
            name: net.CurrentSourceModel(
                name, tuple(m.params), dict(m.vars), m.injection_code
            )
            for name, m in model.current_source_models.items()
        },
        "custom_update": {
            name: net.CustomUpdateModel(
                name, tuple(m.params), dict(m.vars), dict(m.var_refs), m.update_code
            )
            for name, m in model.custom_update_models.items()
        },
    }


def build_network(model: ModelConfig, weights: Mapping[str, np.ndarray]) -> net.Network:
    """The engine-neutral network of ``model`` with ``weights`` per synapse group."""
    defs = model_definitions(model)
    populations = {
        name: net.Population(
            name, p.size, defs["neuron"][p.model], dict(p.params), dict(p.vars)
        )
        for name, p in model.populations.items()
    }
    synapses = {
        name: net.SynapseGroup(
            name,
            s.source,
            s.target,
            weights[name],
            s.matrix_type,
            s.weight_update.model,
            s.postsynaptic.model,
            dict(s.postsynaptic.params),
        )
        for name, s in model.synapses.items()
    }
    current_sources = {
        name: net.CurrentSource(
            name,
            defs["current_source"][c.model],
            c.population,
            dict(c.params),
            dict(c.vars),
        )
        for name, c in model.current_sources.items()
    }
    custom_updates = {
        name: net.CustomUpdate(
            name,
            c.group,
            defs["custom_update"][c.model],
            dict(c.params),
            dict(c.vars),
            {k: net.VarRef.parse(v) for k, v in c.var_refs.items()},
        )
        for name, c in model.custom_updates.items()
    }
    return net.Network(
        model.name, populations, synapses, current_sources, custom_updates
    )
