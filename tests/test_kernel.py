"""The NumPy engine's compiled kernel against its NumPy operations.

Both paths of the engine are given the same network and the same state, and
must leave every array bitwise equal (transcendental functions aside, which
follow the C library in the kernel and NumPy's own routines otherwise).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from snnexp.engines.ccode import CodeError
from snnexp.engines.numpy_engine import NumpyEngine
from snnexp.network import (
    CurrentSource,
    CurrentSourceModel,
    Network,
    NeuronModel,
    Population,
    SynapseGroup,
    VarRef,
)

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.1, 1e30, -1e30, 3.4e38, math.inf, -math.inf, 1e-40]

LIF = NeuronModel(
    "lif",
    ("C", "TauM", "Vrest", "Vreset", "Vthresh", "Ioffset", "TauRefrac"),
    {"V": "scalar", "RefracTime": "scalar", "SpikeCount": "unsigned int"},
    sim_code="""
        if (RefracTime <= 0.0) {
            const scalar alpha = ((Isyn + Ioffset) * (TauM / C)) + Vrest;
            V = alpha - (exp(-dt / TauM) * (alpha - V));
        }
        else {
            RefracTime -= dt;
        }""",
    threshold_condition_code="RefracTime <= 0.0 && V >= Vthresh",
    reset_code="V = Vreset;\nRefracTime = TauRefrac;\nSpikeCount++;",
)
LIF_PARAMS = {
    "C": 1.0,
    "TauM": 20.0,
    "Vrest": -65.0,
    "Vreset": -70.0,
    "Vthresh": -60.0,
    "Ioffset": 0.0,
    "TauRefrac": 2.0,
}

INTEGERS = NeuronModel(
    "integers",
    ("Vthr",),
    {
        "V": "scalar",
        "n": "int",
        "u": "unsigned int",
        "s": "uint8_t",
        "L": "int64_t",
        "b": "bool",
    },
    sim_code="""
        n += 3;
        s++;
        L = L * 3 - n;
        b = !b || (n > 10);
        V += b ? Isyn : -Isyn * 0.5f;
        unsigned int w = n;
        w -= 7u;
        u = (w & 0xFF) ^ 2;
        u = u * 2654435761u + s;""",
    threshold_condition_code="V >= Vthr && (u & 1) == 0",
    reset_code="V = Isyn * 0.25 + t * 0.001;\nL = ~L;\nn = -n;",
)

FOLDING = NeuronModel(
    "folding",
    ("Vthr",),
    {"V": "scalar", "W": "scalar"},
    sim_code="""
        V = V + (1.0 / 3.0) * Isyn + (scalar)(2 + 3) * 0.1 - 0.1 * 0.2;
        W = (V > 1.0 ? 0.7 : 0.3) * W + 1e-3 * (V < 0.0) + 0.1f + 0x1p-3;
        W += 2147483647 + 1 > 0 ? 1.0 : 2.0;
        if (1) { W -= 1.0; } else { W += 100.0; }""",
    threshold_condition_code="V >= Vthr",
    reset_code="V = 0.0;",
)

EXACT_MATHS = NeuronModel(
    "exact_maths",
    ("Vthr",),
    {"V": "scalar", "W": "scalar"},
    sim_code="""
        W = sqrt(fabs(V)) + floor(V) - ceil(W) + trunc(V * 0.3) + round(V * 0.5);
        W = fmin(W, fmax(V, -2.5)) + copysign(1.0, V) + abs(-3) + fabsf(W);
        V += Isyn;""",
    threshold_condition_code="V >= Vthr",
    reset_code="V = V - Vthr;",
)

TRANSCENDENTAL = NeuronModel(
    "transcendental",
    ("Vthr",),
    {"V": "scalar", "W": "scalar"},
    sim_code="""
        W = exp(-fabs(V)) + log1p(fabs(W)) + tanh(V) + pow(fabs(V) + 1.0, 0.5)
            + sin(V) * cos(W) + atan2(V, 1.5) + erf(W * 0.1) + expm1(-fabs(V));
        W += exp2(V * 0.1) + cbrt(W) + log2(fabs(V) + 1.0) + log10(fabs(W) + 2.0)
            + asin(tanh(V)) + acos(tanh(W)) + atan(V) + sinh(V * 0.1)
            + coshf(W * 0.1) + tan(V * 0.01) + hypot(V, W) + fmod(V, 0.75)
            + log(fabs(V) + 1.0) + sqrtf(fabs(W)) + expf(-1.0);
        V += Isyn;""",
    threshold_condition_code="V >= Vthr",
    reset_code="V = 0.0;",
)

DRIVE = CurrentSourceModel(
    "drive",
    ("gain",),
    {"magnitude": "scalar", "calls": "unsigned int"},
    "calls++;\ninjectCurrent(magnitude * gain);",
)


def _network(model: NeuronModel, params: dict, init: dict, size: int = 6) -> Network:
    """``model`` driven by a current source, feeding a second copy of itself
    through an exponential synapse."""
    populations = {
        name: Population(name, size, model, params, init) for name in ("a", "b")
    }
    rng = np.random.default_rng(3)
    g = rng.normal(0.0, 2.0, (size, size)).astype(np.float32)
    synapses = {
        "a_b": SynapseGroup(
            "a_b", "a", "b", g, postsynaptic_model="ExpCurr",
            postsynaptic_params={"tau": 5.0},
        ),
        "b_b": SynapseGroup("b_b", "b", "b", g.T.copy()),
    }  # fmt: skip
    sources = {
        "drive": CurrentSource(
            "drive", DRIVE, "a", {"gain": 1.5}, {"magnitude": 0.0, "calls": 0}
        )
    }
    return Network("kernel-test", populations, synapses, sources, {})


def _state_refs(network: Network) -> list[VarRef]:
    refs = [
        VarRef(pop, var)
        for pop, p in network.populations.items()
        for var in p.model.vars
    ]
    return refs + [VarRef("drive", "magnitude"), VarRef("drive", "calls")]


def _simulate(network, jit, start, drive, steps=25, batch=3, precision="float"):
    """Arrays after ``steps`` steps from state ``start``; ``start`` maps each
    variable to its initial (batch, size) values."""
    sim = NumpyEngine(threads=2, jit=jit).build(
        network, batch_size=batch, dt=0.5, precision=precision
    )
    assert (sim.kernel is not None) == jit
    for ref, values in start.items():
        sim.write(ref, values)
    sim.write(VarRef("drive", "magnitude"), drive)
    sim.run(steps)
    sim.run(steps)
    state = {str(ref): sim.read(ref) for ref in _state_refs(network)}
    state.update({f"inSyn {k}": v.copy() for k, v in sim.in_syn.items()})
    sim.close()
    return state


def _start(network, rng, batch=3):
    start = {}
    for pop, p in network.populations.items():
        for var, ctype in p.model.vars.items():
            shape = (batch, p.size)
            if ctype == "scalar":
                values = rng.normal(0.0, 3.0, shape)
            elif ctype == "bool":
                values = rng.integers(0, 2, shape)
            else:
                values = rng.integers(0, 200, shape)
            start[VarRef(pop, var)] = values
    return start


def assert_same_state(kernel: dict, numpy_ops: dict, exact: bool = True) -> None:
    for name in numpy_ops:
        a, b = kernel[name], numpy_ops[name]
        assert a.dtype == b.dtype, name
        if not exact and a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5, err_msg=name)
            continue
        assert np.array_equal(a, b, equal_nan=True), name
        if a.dtype.kind == "f":  # -0.0 and 0.0 compare equal
            both = ~np.isnan(a)
            assert np.array_equal(np.signbit(a[both]), np.signbit(b[both])), name


MODELS = {
    "lif": (LIF, LIF_PARAMS, {"V": -65.0, "RefracTime": 0.0, "SpikeCount": 0}, False),
    "integers": (INTEGERS, {"Vthr": 2.0}, dict.fromkeys("VnusLb", 0), True),
    "folding": (FOLDING, {"Vthr": 4.0}, {"V": 0.0, "W": 0.0}, True),
    "exact-maths": (EXACT_MATHS, {"Vthr": 4.0}, {"V": 0.0, "W": 0.0}, True),
    "transcendental": (TRANSCENDENTAL, {"Vthr": 4.0}, {"V": 0.0, "W": 0.0}, False),
}


@pytest.mark.parametrize("precision", ["float", "double"])
@pytest.mark.parametrize("model", list(MODELS))
def test_kernel_leaves_the_state_numpy_operations_leave(model, precision):
    neuron, params, init, exact = MODELS[model]
    network = _network(neuron, params, init)
    rng = np.random.default_rng(11)
    start = _start(network, rng)
    drive = rng.uniform(0.0, 3.0, (3, 6))
    kernel = _simulate(network, True, start, drive, precision=precision)
    numpy_ops = _simulate(network, False, start, drive, precision=precision)
    assert_same_state(kernel, numpy_ops, exact)
    assert kernel["a.SpikeCount" if model == "lif" else "drive.calls"].sum() > 0


def test_code_outside_the_generator_runs_as_numpy_operations(caplog):
    modulo = NeuronModel(
        "modulo",
        ("Vthr",),
        {"V": "scalar", "n": "int"},
        sim_code="n = (n + 5) % 3;\nV += Isyn / (n + 1);",
        threshold_condition_code="V >= Vthr",
        reset_code="V = 0.0;",
    )
    network = _network(modulo, {"Vthr": 2.0}, {"V": 0.0, "n": 0})
    with caplog.at_level(logging.INFO, logger="snnexp.engines.numpy_engine"):
        sim = NumpyEngine().build(network, batch_size=2, dt=1.0, precision="float")
    assert sim.kernel is None
    assert "not translated: operator '%'" in caplog.text
    sim.write(VarRef("drive", "magnitude"), np.ones((2, 6)))
    sim.run(10)
    assert sim.read(VarRef("a", "n")).max() == 2


def test_generated_source_holds_no_text_of_the_config(tmp_path):
    secret = NeuronModel(
        "secretModel",
        ("thresholdSecret",),
        {"membraneSecret": "scalar"},
        sim_code="membraneSecret += Isyn * dt; /* __import__('os') */",
        threshold_condition_code="membraneSecret >= thresholdSecret",
        reset_code="membraneSecret = 0.0; // os.system",
    )
    network = _network(secret, {"thresholdSecret": 1.25}, {"membraneSecret": 0.0})
    engine = NumpyEngine(_engine_config(str(tmp_path)))
    sim = engine.build(network, batch_size=1, dt=1.0, precision="float")
    assert sim.kernel is not None
    (source,) = tmp_path.glob("kernel_*.py")
    text = source.read_text()
    for word in ("Secret", "secret", "import__", "os.", "1.25", "drive", "gain"):
        assert word not in text
    assert "def present(" in text


def _engine_config(cache_dir):
    class Config:
        threads = 1
        lane_rows = 256
        jit = True

    Config.cache_dir = cache_dir
    return Config()


def test_a_second_build_reuses_the_cached_kernel(tmp_path):
    network = _network(*MODELS["folding"][:3])
    for _ in range(2):
        engine = NumpyEngine(_engine_config(str(tmp_path / "kernels")))
        engine.build(network, batch_size=2, dt=1.0, precision="float")
    assert len(list((tmp_path / "kernels").glob("kernel_*.py"))) == 1


def test_an_unwritable_cache_falls_back_to_a_temporary_directory(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    network = _network(*MODELS["exact-maths"][:3])
    engine = NumpyEngine(_engine_config(str(blocker / "kernels")))
    with caplog.at_level(logging.WARNING):
        sim = engine.build(network, batch_size=2, dt=1.0, precision="float")
    assert sim.kernel is not None
    assert "cannot write the kernel cache" in caplog.text
    assert "engine.cache_dir" in caplog.text


# -- random code --------------------------------------------------------------

NAMES = {
    "V": "scalar", "W": "scalar", "n": "int", "u": "unsigned int",
    "s": "uint8_t", "L": "int64_t", "b": "bool",
}  # fmt: skip
LEAVES = [*NAMES, "Isyn", "dt", "t", "Vthr", "true"] + [
    "0", "1", "7u", "0xFFFFFFFF", "2147483647", "-3", "0.5", "0.1f", "1e30",
    "-0.0", "3.4e38", "1e-40",
]  # fmt: skip
# Bitwise operators are left to the integer model above: on random operands
# they would mostly meet a real and be refused.
OPERATORS = ["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "&&", "||"]
CASTS = ["(scalar)", "(int)", "(unsigned int)", "(bool)", "(int64_t)", "(uint8_t)"]


def _expressions():
    leaves = st.sampled_from(LEAVES)

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(OPERATORS), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        unary = st.tuples(st.sampled_from(["-", "!", "+"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        )
        ternary = st.tuples(inner, inner, inner).map(
            lambda t: f"({t[0]} ? {t[1]} : {t[2]})"
        )
        cast = st.tuples(st.sampled_from(CASTS), inner).map(lambda t: f"{t[0]}{t[1]}")
        call = st.tuples(
            st.sampled_from(["fabs", "fmin", "fmax", "floor", "sqrt", "abs"]),
            inner,
            inner,
        ).map(
            lambda t: (
                f"{t[0]}({t[1]}, {t[2]})" if t[0][:2] == "fm" else f"{t[0]}({t[1]})"
            )
        )
        return st.one_of(binary, unary, ternary, cast, call)

    return st.recursive(leaves, extend, max_leaves=6)


def _statements():
    target = st.sampled_from(list(NAMES))
    assign = st.tuples(target, st.sampled_from(["=", "+=", "-=", "*="]), _expressions())
    plain = assign.map(lambda t: f"{t[0]} {t[1]} {t[2]};")
    step = st.tuples(st.sampled_from(["++", "--"]), target).map(
        lambda t: f"{t[1]}{t[0]};"
    )
    local = _expressions().map(lambda e: f"{{ scalar q = {e}; W -= q; }}")
    simple = st.one_of(plain, step, local)
    branch = st.tuples(_expressions(), simple, simple).map(
        lambda t: f"if ({t[0]}) {{ {t[1]} }} else {{ {t[2]} }}"
    )
    return st.lists(st.one_of(simple, branch), min_size=1, max_size=5).map("\n".join)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    sim_code=_statements(),
    threshold=_expressions(),
    reset=_statements(),
    seed=st.integers(0, 99),
)
def test_random_code_gives_the_same_state_on_both_paths(
    sim_code, threshold, reset, seed
):
    model = NeuronModel("random", ("Vthr",), NAMES, sim_code, threshold, reset)
    network = _network(model, {"Vthr": 1.5}, dict.fromkeys(NAMES, 0), size=4)
    try:
        sim = NumpyEngine(jit=True).build(
            network, batch_size=2, dt=0.5, precision="float"
        )
    except (CodeError, NotImplementedError):
        event("code refused by the translation")
        return
    if sim.kernel is None:
        event("outside the generator: NumPy operations only")
        return
    event("compiled")
    rng = np.random.default_rng(seed)
    start = _start(network, rng, batch=2)
    for ref in start:
        if NAMES[ref.var] == "scalar":
            start[ref] = rng.choice(SPECIAL + [2.5, -7.25], (2, 4))
    drive = rng.uniform(0.0, 3.0, (2, 4))
    kernel = _simulate(network, True, start, drive, steps=3, batch=2)
    numpy_ops = _simulate(network, False, start, drive, steps=3, batch=2)
    assert_same_state(kernel, numpy_ops)
