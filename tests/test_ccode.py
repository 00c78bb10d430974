"""Tests of the C-to-NumPy translator used by the NumPy engine."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnexp.engines import ccode
from snnexp.engines.ccode import CodeError, compile_condition, compile_statements

WHERE = "neuron model 'IF' sim_code"
VARIABLES = {"V": "scalar", "SpikeCount": "unsigned int", "k": "int", "flag": "bool"}
CONSTANTS = {"Vthr": "scalar", "dt": "scalar", "t": "scalar", "Isyn": "scalar"}


def make_env(v=(0.0, 1.0, 2.0), dtype=np.float32, **extra):
    """Arrays of shape (1, n) for every declared name, plus ``extra``."""
    n = len(v)
    env = {
        "V": np.array([v], dtype),
        "SpikeCount": np.zeros((1, n), np.uint32),
        "k": np.zeros((1, n), np.int32),
        "flag": np.zeros((1, n), bool),
        "Vthr": np.dtype(dtype).type(1.5),
        "dt": np.dtype(dtype).type(0.5),
        "t": np.dtype(dtype).type(0.0),
        "Isyn": np.ones((1, n), dtype),
    }
    env.update(extra)
    return env


def run(code, env=None, sinks=None, **kwargs):
    env = make_env(**kwargs) if env is None else env
    block = compile_statements(code, WHERE, VARIABLES, CONSTANTS, sinks)
    block.run(env)
    return env


def values(code, name="V", **kwargs):
    return run(code, **kwargs)[name][0].tolist()


def compile_error(code, error=CodeError, **kwargs):
    with pytest.raises(error) as info:
        compile_statements(code, WHERE, VARIABLES, CONSTANTS, **kwargs)
    message = str(info.value)
    assert message.startswith(WHERE + ": ")
    return message


# --- expressions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("V = V + 2;", [2.0, 3.0, 4.0]),
        ("V = V - 0.5;", [-0.5, 0.5, 1.5]),
        ("V = V * Vthr;", [0.0, 1.5, 3.0]),
        ("V = V / 4;", [0.0, 0.25, 0.5]),
        ("V = -V + +1;", [1.0, 0.0, -1.0]),
        ("V = (V + 1) * (V - 1);", [-1.0, 0.0, 3.0]),
        ("V = V > 0.5 ? 10 : -10;", [-10.0, 10.0, 10.0]),
        ("V = V == 1 ? 1.0f : V != 2 ? 5.0 : 7;", [5.0, 1.0, 7.0]),
        ("V = (V > 0.5) + (V >= 1) + (V < 2) + (V <= 0);", [2.0, 3.0, 2.0]),
        ("V = V > 0.5 && V < 1.5;", [0.0, 1.0, 0.0]),
        ("V = V < 0.5 || V > 1.5;", [1.0, 0.0, 1.0]),
        ("V = !V;", [1.0, 0.0, 0.0]),
        ("V = 0x1F + 010 + 5u + 1e-1 + .5;", [44.6] * 3),
        ("V = true + true + false;", [2.0] * 3),
        ("V = (int)(V * 1.5 - 2.2);", [-2.0, 0.0, 0.0]),
        ("V = (float)1 / 2 + (scalar)(3 / 2);", [1.5] * 3),
        ("V = (bool)(V - 1);", [1.0, 0.0, 1.0]),
        ("V = dt * t + Isyn;", [1.0] * 3),
    ],
)
def test_float_expressions(code, expected):
    assert values(code) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("k = -7 / 2;", -3),
        ("k = 7 / -2;", -3),
        ("k = -7 % 2;", -1),
        ("k = 7 % -2;", 1),
        ("k = 17 / 5 * 5 + 17 % 5;", 17),
        ("k = 6 & 3 | 8 ^ 1;", 11),
        ("k = ~5;", -6),
        ("k = 1 << 4 >> 2;", 4),
        ("k = 2.9;", 2),
        ("k = -2.9;", -2),
        ("k = 0u - 1 > 0;", 1),
        ("k = -1 < 0u;", 0),
        ("k = 3 / 2 * 2.0;", 2),
        ("k = 0x7fffffff + 1;", -(2**31)),
    ],
)
def test_integer_semantics_follow_c(code, expected):
    assert values(code, name="k") == [expected] * 3


def test_unsigned_wraps_and_integer_variables_truncate_floats():
    env = run("SpikeCount -= 1; k = V * 1.9 - 2;")
    assert env["SpikeCount"].tolist() == [[4294967295] * 3]
    assert env["k"].tolist() == [[-2, 0, 1]]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("V = exp(V) - expf(V);", [0.0, 0.0, 0.0]),
        ("V = sqrt(V * 8) + sqrtf(4.0f);", [2.0, 2 + 8**0.5, 6.0]),
        ("V = fmin(V, 1.5) + fmax(V, 0.5);", [0.5, 2.0, 3.5]),
        ("V = pow(V, 3) + powf(2, V);", [1.0, 3.0, 12.0]),
        ("V = round(V * 2.5 - 2.5);", [-3.0, 0.0, 3.0]),
        ("V = floor(-V / 3) + ceil(V / 3) + trunc(-1.5);", [-1.0, -1.0, -1.0]),
        ("V = fmod(-V - 5, 3) + fabs(-V);", [-2.0, 1.0, 1.0]),
        ("V = abs(-7 / 2) + abs(-V);", [3.0, 4.0, 5.0]),
        ("V = log(exp(V)) + log10(100) + log2(8) + log1p(0) + expm1(0);", [5.0, 6, 7]),
        (
            "V = sin(0) + cos(0) + tan(0) + atan2(0, 1) + hypot(3, V * 2);",
            [4, 4.6055512, 6],
        ),
        ("V = copysign(V, -1) + cbrt(27) + tanh(0) + erf(0) + erf(30);", [4.0, 3, 2]),
    ],
)
def test_math_functions(code, expected):
    assert values(code) == pytest.approx(expected, rel=1e-5)


# --- statements ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("k = 13; k += 4;", 17),
        ("k = 13; k -= 4;", 9),
        ("k = 13; k *= 4;", 52),
        ("k = -13; k /= 4;", -3),
        ("k = -13; k %= 4;", -1),
        ("k = 13; k &= 4;", 4),
        ("k = 13; k |= 2;", 15),
        ("k = 13; k ^= 1;", 12),
        ("k = 13; k <<= 2;", 52),
        ("k = 13; k >>= 2;", 3),
        ("k = 13; k += 0.9;", 13),
        ("k = 3; k++; ++k; k--; --k; k++;", 4),
    ],
)
def test_assignment_operators(code, expected):
    assert values(code, name="k") == [expected] * 3


def test_increment_of_unsigned_array_and_postfix_value():
    env = run("SpikeCount++; ++SpikeCount; k = SpikeCount++ * 10; k += ++SpikeCount;")
    assert env["SpikeCount"].tolist() == [[4, 4, 4]]
    assert env["SpikeCount"].dtype == np.uint32
    assert env["k"].tolist() == [[24, 24, 24]]


def test_chained_and_comma_assignments():
    env = run("k = SpikeCount = 3; V = 1, V += 2;")
    assert env["k"].tolist() == [[3, 3, 3]]
    assert env["SpikeCount"].tolist() == [[3, 3, 3]]
    assert env["V"].tolist() == [[3, 3, 3]]


def test_if_else_masks_each_element():
    code = """
    if (V >= Vthr) { V = 0; SpikeCount++; }
    else if (V > 0.5f) V = 7;
    else { V -= 1; k = 2; }
    """
    env = run(code, v=(0.0, 1.0, 2.0, 1.5))
    assert env["V"].tolist() == [[-1.0, 7.0, 0.0, 0.0]]
    assert env["SpikeCount"].tolist() == [[0, 0, 1, 1]]
    assert env["k"].tolist() == [[2, 0, 0, 0]]


def test_nested_ifs_combine_masks():
    code = """
    if (V > 0) {
        if (V > 2) { k = 1; } else { k = 2; if (V == 1) SpikeCount = 9; }
        V += 10;
    } else {
        if (V < -1) k = 3; else k = 4;
    }
    """
    env = run(code, v=(-2.0, -1.0, 0.0, 1.0, 2.0, 3.0))
    assert env["k"].tolist() == [[3, 4, 4, 2, 2, 1]]
    assert env["SpikeCount"].tolist() == [[0, 0, 0, 9, 0, 0]]
    assert env["V"].tolist() == [[-2.0, -1.0, 0.0, 11.0, 12.0, 13.0]]


def test_condition_is_evaluated_before_either_branch():
    env = run("if (V < 1) V = 5; else V = -5;")
    assert env["V"].tolist() == [[5.0, -5.0, -5.0]]
    env = run("flag = V > 0.5; if (flag) { flag = false; V = 9; }")
    assert env["V"].tolist() == [[0.0, 9.0, 9.0]]
    assert not env["flag"].any()


def test_constant_conditions_pick_a_branch_at_compile_time():
    assert values("if (1) V = 3; else V = 4;") == [3.0] * 3
    assert values("if (0 && V) V = 3; else if (false) V = 4;") == [0.0, 1.0, 2.0]


def test_locals_are_scoped_masked_and_typed():
    code = """
    scalar x = V * 2;
    const int half = 7 / 2;
    if (V > 0.5) { x = -1; int y = half; k = y; } else { int y = 8; k = y; }
    unsigned int u = 0; u--;
    V = x; SpikeCount = u;
    { scalar x = 100; V += x; }
    """
    env = run(code)
    assert env["V"].tolist() == [[100.0, 99.0, 99.0]]
    assert env["k"].tolist() == [[8, 3, 3]]
    assert env["SpikeCount"].tolist() == [[4294967295] * 3]


def test_local_types_convert_like_c():
    code = """
    long double q = 1.5; char c = 3; uint8_t small = 300; int16_t s = -1;
    bool yes = 0.25; unsigned long long big = -1; int64_t wide = 1;
    V = q + c + small + s + yes;
    k = big == 18446744073709551615u;
    SpikeCount = wide << 40 >> 38;
    """
    env = run(code)
    assert env["V"].tolist() == [[48.5] * 3]
    assert env["k"].tolist() == [[1] * 3]
    assert env["SpikeCount"].tolist() == [[4] * 3]


def test_scalar_arrays_set_the_precision_not_double_ones():
    env = {"D": np.zeros(2, np.float64), "V": np.zeros(2, np.float32), "dt": 0.1}
    variables = {"D": "double", "V": "scalar"}
    code = "D = 1.0 / 3.0; scalar x = dt; D += x; V = x;"
    compile_statements(code, WHERE, variables, {"dt": "scalar"}).run(env)
    assert env["D"].tolist() == [1.0 / 3.0 + float(np.float32(0.1))] * 2
    assert env["V"].dtype == np.float32


def test_local_copies_the_array_it_was_initialised_from():
    assert values("scalar old = V; V += 1; V = V - old;") == [1.0, 1.0, 1.0]


def test_empty_code_and_empty_statements_do_nothing():
    assert values("") == [0.0, 1.0, 2.0]
    assert values(" ;; {} // just a comment\n/* and another */") == [0.0, 1.0, 2.0]


def test_updates_arrays_in_place():
    env = make_env()
    original = env["V"]
    run("V += Isyn * dt; if (V > 1) V = 0;", env=env)
    assert env["V"] is original
    assert original.tolist() == [[0.5, 0.0, 0.0]]


def test_float32_stays_float32_and_float64_stays_float64():
    code = "scalar x = V / 3.0 + 0.1; V = x * 1e-3 + dt; Isyn = exp(-x) + (scalar)k;"
    constants = {"dt": "scalar", "k": "int"}
    for dtype in (np.float32, np.float64):
        v = np.array([[1.0, 2.0, 3.0]], dtype)
        isyn = np.zeros((1, 3), dtype)
        env = {"V": v, "Isyn": isyn, "dt": 0.25, "k": 2}
        block = compile_statements(
            code, WHERE, {"V": "scalar", "Isyn": "scalar"}, constants
        )
        block.run(env)
        x = np.array([1.0, 2.0, 3.0], dtype) / dtype(3.0) + dtype(0.1)
        assert v.dtype == dtype
        np.testing.assert_array_equal(v[0], x * dtype(1e-3) + dtype(0.25))
        np.testing.assert_array_equal(isyn[0], np.exp(-x) + dtype(2))


def test_evaluation_never_produces_float64_from_float32_inputs(monkeypatch):
    seen = []
    store = np.copyto

    def spy(dst, src, *args, **kwargs):
        seen.append(np.result_type(src))
        return store(dst, src, *args, **kwargs)

    monkeypatch.setattr(np, "copyto", spy)
    run("V = V > 1 ? 0.5 : 1.5; V = (scalar)k / 3; V = -(1.0 / 3.0) * t + 2 * dt;")
    assert seen and all(dtype != np.float64 for dtype in seen)


def test_sinks_add_into_their_target_under_the_mask():
    env = run(
        "injectCurrent(2.5); if (V > 0.5) injectCurrent(V * 2);",
        sinks={"injectCurrent": "Isyn"},
    )
    assert env["Isyn"].tolist() == [[3.5, 5.5, 7.5]]


def test_reads_and_writes():
    block = compile_statements(
        "scalar x = Vthr; V += x * dt; SpikeCount = 0; k++; injectCurrent(t);",
        WHERE,
        VARIABLES,
        CONSTANTS,
        sinks={"injectCurrent": "Isyn"},
    )
    assert block.reads == {"Vthr", "V", "dt", "k", "t"}
    assert block.writes == {"V", "SpikeCount", "k", "Isyn"}


def test_run_where_restricts_the_whole_block():
    env = make_env()
    block = compile_statements("V = 5; SpikeCount++;", WHERE, VARIABLES, CONSTANTS)
    block.run(env, where=np.array([[True, False, True]]))
    assert env["V"].tolist() == [[5.0, 1.0, 5.0]]
    assert env["SpikeCount"].tolist() == [[1, 0, 1]]


def test_broadcasts_between_batch_and_neuron_shapes():
    env = {
        "V": np.zeros((2, 3), np.float32),
        "g": np.array([1.0, 2.0, 3.0], np.float32),
        "b": np.array([[10.0], [20.0]], np.float32),
    }
    block = compile_statements(
        "V = g + b; if (g > 1.5) V = -V;",
        WHERE,
        {"V": "scalar"},
        {"g": "scalar", "b": "scalar"},
    )
    block.run(env)
    assert env["V"].tolist() == [[11.0, -12.0, -13.0], [21.0, -22.0, -23.0]]


# --- conditions ---------------------------------------------------------------


def test_condition_evaluates_to_a_boolean_mask():
    cond = compile_condition("V >= Vthr && !flag", WHERE, VARIABLES, CONSTANTS)
    env = make_env(v=(0.0, 1.5, 2.0))
    env["flag"][0, 2] = True
    mask = cond.evaluate(env)
    assert mask.dtype == bool
    assert mask.tolist() == [[False, True, False]]
    assert cond.reads == {"V", "Vthr", "flag"}


def test_condition_of_scalars_and_constants():
    assert not compile_condition("false", WHERE).evaluate({})
    assert compile_condition("t > 1", WHERE, constants={"t": "scalar"}).evaluate(
        {"t": 2.0}
    )


def test_condition_result_is_not_the_callers_array():
    cond = compile_condition("flag", WHERE, VARIABLES)
    env = make_env()
    mask = cond.evaluate(env)
    env["flag"][:] = True
    assert not mask.any()


@pytest.mark.parametrize("code", ["V = 1", "V++ > 0", "V > 1; V = 0", ""])
def test_condition_must_be_one_expression_without_effects(code):
    with pytest.raises(CodeError, match=WHERE):
        compile_condition(code, WHERE, VARIABLES, CONSTANTS)


# --- errors -------------------------------------------------------------------


def test_unknown_identifier_names_the_snippet_and_suggests():
    message = compile_error("V += Isyn;\nV = Vth;")
    assert "unknown identifier 'Vth' at line 2" in message
    assert "V, SpikeCount, k, flag, Vthr, dt, t, Isyn" in message
    assert "did you mean 'Vthr'?" in message
    assert "Declare it under params or vars" in message


def test_local_is_not_visible_outside_its_block():
    message = compile_error("if (V > 1) { scalar x = 1; }\nV = x;")
    assert "unknown identifier 'x' at line 2" in message


def test_assigning_a_constant_is_refused():
    message = compile_error("Vthr = 3;")
    assert "'Vthr' is read-only here at line 1" in message
    assert "const local" in compile_error("const scalar x = 1; x = 2;")
    assert "hides a name" in compile_error("scalar V = 1;")


def test_genn4_syntax_is_explained():
    message = compile_error("$(V) += $(Isyn) * DT;")
    assert "GeNN 4 syntax" in message and "write 'V' instead" in message
    assert "write 'addToInSyn(...)'" in compile_error("$(addToInSyn, 1);")


@pytest.mark.parametrize("line", ["#include <math.h>", "  #define X 1", "#pragma once"])
def test_preprocessor_lines_are_refused(line):
    message = compile_error(f"V = 1;\n{line}\nV = 2;")
    assert "preprocessor line" in message and "at line 2" in message


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        (
            "V = 1;\nif (V > 0) {\n  V = 2;\n",
            "'{' at line 2, column 12 is never closed",
        ),
        ("V = 1; }", "'}' at line 1, column 8 has no matching '{'"),
        ("V = (1 + 2];", "']' at line 1, column 11 closes '('"),
        ("V = 1;\nV = (2 +);", "syntax error at line 2, column 9"),
        ("V = 1\nV = 2;", "syntax error at line 2, column 1"),
        ("V = 1 /* unclosed", "comment opened at line 1, column 7 is never closed"),
        ("V = 1 @ 2;", "syntax error at line 1"),
    ],
)
def test_malformed_code_points_at_the_users_line(code, fragment):
    assert fragment in compile_error(code)


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.system('ls')",
        "def f():\n    return 1",
        "V = [x for x in range(3)]",
        "lambda: 0",
        "print('hi')",
        "__import__('os')",
        "__import__('os').system('ls');",
        "V = eval('1');",
        'exec("V = 1");',
    ],
)
def test_python_code_is_refused(code):
    with pytest.raises((CodeError, NotImplementedError), match=WHERE):
        compile_statements(code, WHERE, VARIABLES, CONSTANTS)


def test_dunder_import_is_an_unknown_function():
    message = compile_error("__import__('os');")
    assert "unknown function '__import__'" in message


@pytest.mark.parametrize(
    ("code", "construct"),
    [
        ("for (int i = 0; i < 3; i++) V += 1;", "for loop"),
        ("while (V < 3) V += 1;", "while loop"),
        ("do { V += 1; } while (V < 3);", "do-while loop"),
        ("switch (k) { case 1: V = 0; }", "switch statement"),
        ("goto end; end: V = 1;", "goto statement"),
        ("return;", "return statement"),
        ("scalar *p = 0;", "pointer"),
        ("V = *k;", "pointer dereference"),
        ("scalar a[3];", "array"),
        ("V = Isyn[0];", "array subscript"),
        ("V = Isyn.x;", "struct member access"),
        ("V = sizeof(V);", "sizeof"),
        ('V = "text";', "string literal"),
        ("static scalar s = 0;", "'static' declaration"),
        ("typedef int myint;", "typedef"),
        ("V = (V > 0) ? V++ : 0;", "inside '?:'"),
        ("k = V > 0 && k++;", "inside '&&'"),
    ],
)
def test_unsupported_constructs_raise_not_implemented(code, construct):
    with pytest.raises(NotImplementedError) as info:
        compile_statements(code, WHERE, VARIABLES, CONSTANTS)
    message = str(info.value)
    assert message.startswith(WHERE + ": ")
    assert construct in message and "not supported" in message


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("V = V % 2;", "needs integer operands"),
        ("k = k << 1.5;", "needs integer operands"),
        ("V = foo(V);", "unknown function 'foo'"),
        ("V = exps(V);", "did you mean 'exp"),
        ("V = exp(V, 2);", "exp() at line 1 takes 1 argument, got 2"),
        ("V = V(1);", "'V' at line 1 is a variable"),
        ("V = exp;", "is a function"),
        ("V = injectCurrent(1);", "returns nothing"),
        ("exp = 1;", "cannot be assigned"),
        ("(V + 1) = 2;", "only a variable can be assigned"),
        ("scalar x = 1; scalar x = 2;", "declared twice"),
        ("myint x = 1;", "syntax error at line 1"),
        ("V = 99999999999999999999999;", "too large"),
    ],
)
def test_other_code_errors(code, fragment):
    assert fragment in compile_error(code, sinks={"injectCurrent": "Isyn"})


def test_too_long_code_is_refused():
    assert "over the limit of 10000" in compile_error("V += 1;" * 1500)


def test_too_deep_nesting_is_refused():
    assert "deeper than 64" in compile_error("V = " + "(" * 65 + "1" + ")" * 65 + ";")
    assert "deeper than 64" in compile_error("if (V) {" * 70 + "}" * 70)
    assert "nests too deeply" in compile_error("V = " + "!" * 3000 + "V;")
    assert "nests too deeply" in compile_error("V = " + " + ".join(["V"] * 500) + ";")


def test_deep_but_allowed_nesting_runs():
    code = "".join(f"if (V > {i}) {{" for i in range(30)) + "V = -1;" + "}" * 30
    assert values(code, v=(0.0, 29.0, 30.0, 31.0)) == [0.0, 29.0, -1.0, -1.0]


def test_bad_declarations_are_code_errors():
    with pytest.raises(CodeError, match="unsupported type 'vector'"):
        compile_statements("", WHERE, {"V": "vector"})
    with pytest.raises(CodeError, match="not a C identifier"):
        compile_statements("", WHERE, {"V x": "scalar"})
    with pytest.raises(CodeError, match="reserved"):
        compile_statements("", WHERE, constants={"int": "int"})
    with pytest.raises(CodeError, match="must be a string"):
        compile_statements(None, WHERE)


def test_run_time_errors_name_the_snippet():
    block = compile_statements("V = Vthr;", WHERE, VARIABLES, CONSTANTS)
    with pytest.raises(CodeError, match=f"{WHERE}: no value for 'Vthr'"):
        block.run({"V": np.zeros(3, np.float32)})
    with pytest.raises(CodeError, match="must be a NumPy array"):
        block.run({"V": 1.0, "Vthr": 2.0})
    with pytest.raises(CodeError, match="cannot store a value of shape"):
        block.run({"V": np.zeros(3, np.float32), "Vthr": np.ones(4, np.float32)})


def test_translators_never_call_eval_exec_or_compile():
    engines = Path(ccode.__file__).parents[1]
    sources = [*Path(ccode.__file__).parent.glob("*.py")]
    sources += [engines / "codegen.py", engines / "kernel.py"]
    assert len(sources) > 3
    for source in sources:
        called = {
            node.func.id
            for node in ast.walk(ast.parse(source.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not called & {"eval", "exec", "compile", "__import__"}, source


# --- property test --------------------------------------------------------------

TOKENS = [
    "V", "k", "SpikeCount", "flag", "Vthr", "dt", "x", "exp", "pow", "fmod",
    "injectCurrent", "scalar", "int", "unsigned", "const", "if", "else", "for",
    "while", "return", "true", "1", "0", "2.5f", "0x10u", "-1", "+", "-", "*", "/",
    "%", "=", "+=", "%=", "<<=", "++", "--", "==", "<", ">=", "&&", "||", "!", "~",
    "&", "|", "^", "<<", ">>", "?", ":", ",", ";", "(", ")", "{", "}", "[", "]", "$(",
    "#", "'a'", '"s"', "//", "/*", "*/", "\n", ".", "->", "sizeof", "__import__",
]  # fmt: skip


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
        st.text(max_size=60),
    )
)
def test_any_text_compiles_or_raises_a_code_error(code):
    try:
        block = compile_statements(
            code, WHERE, VARIABLES, CONSTANTS, sinks={"injectCurrent": "Isyn"}
        )
    except (CodeError, NotImplementedError) as error:
        assert str(error).startswith(WHERE)
        return
    env = make_env(v=(-1.5, 0.0, 2.5))
    before = {name: id(value) for name, value in env.items()}
    try:
        block.run(env)
    except CodeError:
        return
    assert {name: id(value) for name, value in env.items()} == before
    assert env["V"].dtype == np.float32
    try:
        condition = compile_condition(code, WHERE, VARIABLES, CONSTANTS)
    except (CodeError, NotImplementedError):
        return
    assert condition.evaluate(make_env()).dtype == bool


def test_known_unit_constants_are_multiplied_away_exactly():
    # With dt known to be 1, `V += Isyn * dt` adds Isyn itself; the result is
    # the same to the last bit as multiplying, and dt = 2 still multiplies.
    isyn = np.array([[0.1, 0.7, 3.3]], np.float32)
    for dt in (1.0, 2.0):
        env = {"V": np.zeros((1, 3), np.float32), "Isyn": isyn, "dt": np.float32(dt)}
        block = compile_statements(
            "V += Isyn * dt; V = V / dt * dt;",
            where="sim_code",
            variables={"V": "scalar"},
            constants={"Isyn": "scalar", "dt": "scalar"},
            known={"dt": dt},
        )
        block.run(env)
        assert env["V"].dtype == np.float32
        np.testing.assert_array_equal(env["V"], isyn * np.float32(dt))
