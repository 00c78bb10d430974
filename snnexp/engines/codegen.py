"""Translate GeNN model code strings into per-neuron Python for Numba.

:mod:`snnexp.engines.ccode` turns a snippet into NumPy operations over whole
arrays. This module turns the same syntax tree into scalar Python statements
for one neuron, which :mod:`snnexp.engines.kernel` places inside a loop over
neurons and compiles with Numba, as GeNN places its snippets inside generated
C. The emitted text is built only from this module's templates: every name of
the model becomes a generated name (``x3``), every literal and parameter a
generated constant (``k5``), so no text from a config reaches the compiler.

The statements compute exactly what the NumPy translation computes:

* Floating-point values are in the model precision, rounded after every
  operation (Numba would otherwise carry float32 arithmetic in float64).
* Integers follow C's usual arithmetic conversions and wrap like C.
* Literal subexpressions are folded by :mod:`ccode`'s own folding, so both
  engines round them alike.

Code outside the part of C handled here raises :class:`Unsupported`, and the
engine runs that network with the NumPy translation instead. Transcendental
functions (``exp``, ``log``, ``pow``, ...) call the C maths library, as GeNN's
generated code does; NumPy's vectorised versions of them may differ in the
last bit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pycparser import c_ast

from snnexp.engines.ccode.expressions import (
    BINARY_FUNCTIONS,
    REAL_FUNCTIONS,
    apply1,
    apply2,
    coerce,
    combine,
    constant,
    select,
)
from snnexp.engines.ccode.parse import (
    float_literal,
    int_literal,
    parse_condition,
    parse_statements,
)
from snnexp.engines.ccode.static_types import (
    BOOL,
    INT,
    REAL,
    common_type,
    promote,
    resolve_type,
    same_type,
)

__all__ = ["Constants", "Emitter", "Name", "Unsupported", "indent"]


class Unsupported(Exception):
    """A snippet that the kernel generator does not translate; the message
    says what, for the log line that reports the fallback."""


#: C functions of the model precision and the Python that computes them.
_FUNCTIONS = {
    "exp": "math.exp", "expm1": "math.expm1", "exp2": "np.exp2",
    "log": "math.log", "log1p": "math.log1p", "log2": "math.log2",
    "log10": "math.log10", "sqrt": "math.sqrt", "cbrt": "np.cbrt",
    "fabs": "abs", "floor": "np.floor", "ceil": "np.ceil", "round": "c_round",
    "trunc": "np.trunc", "erf": "math.erf", "sin": "math.sin", "cos": "math.cos",
    "tan": "math.tan", "asin": "math.asin", "acos": "math.acos",
    "atan": "math.atan", "sinh": "math.sinh", "cosh": "math.cosh",
    "tanh": "math.tanh", "fmin": "np.fmin", "fmax": "np.fmax", "pow": "c_pow",
    "atan2": "math.atan2", "fmod": "np.fmod", "copysign": "math.copysign",
    "hypot": "math.hypot",
}  # fmt: skip
_FUNCTIONS.update({name + "f": python for name, python in list(_FUNCTIONS.items())})

_ARITHMETIC = {"+", "-", "*"}
_BITWISE = {"&", "|", "^"}
_COMPARISONS = {"<", "<=", ">", ">=", "==", "!="}
_PYTHON_OPS = {"&&": "and", "||": "or"}
#: Expressions that, as statements of their own, change nothing.
_VALUES = {"ID", "Constant", "BinaryOp", "UnaryOp", "TernaryOp", "Cast", "FuncCall"}


def cast_name(ctype) -> str:
    """The generated name of the conversion to ``ctype`` (``R`` for reals)."""
    return "R" if ctype is REAL else f"np.{np.dtype(ctype).name}"


@dataclass(frozen=True)
class Name:
    """A name the snippet may use: its generated Python name and C type;
    ``array`` names the array that holds a variable's values, if any."""

    python: str
    ctype: Any
    writable: bool = False
    array: str | None = None


@dataclass(frozen=True)
class _Value:
    """An emitted expression of C type ``ctype``; ``folded`` is ccode's
    constant expression when the value is known while generating."""

    python: str
    ctype: Any
    folded: Any = None


class Constants:
    """The generated constants of one kernel, each a global of its module."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._names: dict[tuple, str] = {}

    def real(self, value: float) -> str:
        """A model-precision constant, rounded from ``value`` as NumPy would."""
        return self._add(
            ("R", float(value).hex()), f"R(float.fromhex('{float(value).hex()}'))"
        )

    def integer(self, value, ctype) -> str:
        text = str(bool(value)) if ctype == BOOL else str(int(value))
        return self._add((cast_name(ctype), text), f"{cast_name(ctype)}({text})")

    def float64(self, value: float) -> str:
        return self._add(
            ("f64", float(value).hex()), f"float.fromhex('{float(value).hex()}')"
        )

    def _add(self, key: tuple, definition: str) -> str:
        if key not in self._names:
            self._names[key] = f"k{len(self._names)}"
            self.lines.append(f"{self._names[key]} = {definition}")
        return self._names[key]


@dataclass
class Emitter:
    """Emits the statements of snippets that share one neuron's names.

    ``names`` maps the C names a snippet may use to :class:`Name`; ``sinks``
    maps a call such as ``injectCurrent`` to the real-valued name it adds
    into. Names the snippets read and write are collected in ``reads`` and
    ``writes`` (C names), so the caller loads and stores only those.
    """

    names: Mapping[str, Name]
    constants: Constants
    fresh: Iterator[int] = field(default_factory=itertools.count)
    sinks: Mapping[str, str] = field(default_factory=dict)
    reads: set = field(default_factory=set)
    writes: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self._scopes: list[dict[str, Name]] = []

    # -- entry points -----------------------------------------------------

    def statements(self, code: str, where: str) -> list[str]:
        """Python lines (indented by four spaces per level) for ``code``."""
        if not code.strip():
            return []
        tree = parse_statements(code, where)
        return self._block(tree)

    def condition(self, code: str, where: str) -> str:
        """A Python bool expression for a condition; ``false`` when empty."""
        if not code.strip():
            return "False"
        return self._coerce(self._expression(parse_condition(code, where)), BOOL).python

    # -- statements -------------------------------------------------------

    def _block(self, compound) -> list[str]:
        self._scopes.append({})
        lines = [
            line
            for item in compound.block_items or ()
            for line in self._statement(item)
        ]
        self._scopes.pop()
        return lines

    def _statement(self, node) -> list[str]:
        kind = type(node).__name__
        if kind == "Compound":
            return self._block(node)
        if kind == "Decl":
            return self._declaration(node)
        if kind == "If":
            return self._if(node)
        if kind == "EmptyStatement":
            return []
        if kind == "ExprList":
            return [line for item in node.exprs for line in self._statement(item)]
        if kind == "Assignment":
            return self._assignment(node)
        if kind == "UnaryOp" and node.op in ("++", "--", "p++", "p--"):
            return self._increment(node)
        if kind == "FuncCall" and _call_name(node) in self.sinks:
            return self._sink(node)
        if kind in _VALUES:
            self._expression(node)  # no effects: C evaluates and discards it
            return []
        raise Unsupported(f"{kind} statement")

    def _branch(self, node) -> list[str]:
        if node is None:
            return []
        self._scopes.append({})
        lines = self._statement(node)
        self._scopes.pop()
        return lines

    def _if(self, node) -> list[str]:
        condition = self._coerce(self._expression(node.cond), BOOL)
        if condition.folded is not None:
            return self._branch(node.iftrue if condition.folded.value else node.iffalse)
        then = self._branch(node.iftrue) or ["pass"]
        otherwise = self._branch(node.iffalse)
        lines = [f"if {condition.python}:", *indent(then)]
        if otherwise:
            lines += ["else:", *indent(otherwise)]
        return lines

    def _declaration(self, node: c_ast.Decl) -> list[str]:
        decl = node.type
        if node.storage or not isinstance(decl, c_ast.TypeDecl):
            raise Unsupported("declaration")
        if not isinstance(decl.type, c_ast.IdentifierType):
            raise Unsupported("declared type")
        ctype = resolve_type(decl.type.names)
        if ctype is None or isinstance(node.init, c_ast.InitList):
            raise Unsupported("declaration")
        if node.init is None:
            value = self._constant(0, ctype)
        else:
            value = self._coerce(self._expression(node.init), ctype)
        local = Name(f"l{next(self.fresh)}", ctype, writable=True)
        self._scopes[-1][node.name] = local
        return [f"{local.python} = {value.python}"]

    def _assignment(self, node: c_ast.Assignment) -> list[str]:
        target = self._target(node.lvalue)
        value = self._expression(node.rvalue)
        if node.op == "=":
            return [f"{target.python} = {self._coerce(value, target.ctype).python}"]
        return self._update(target, node.op[:-1], value)

    def _increment(self, node: c_ast.UnaryOp) -> list[str]:
        target = self._target(node.expr)
        return self._update(target, node.op[-1], self._constant(1, INT))

    def _update(self, target: Name, op: str, value: _Value) -> list[str]:
        current = _Value(target.python, target.ctype)
        combined = self._binary(op, current, value)
        return [f"{target.python} = {self._coerce(combined, target.ctype).python}"]

    def _sink(self, node: c_ast.FuncCall) -> list[str]:
        args = node.args.exprs if node.args is not None else []
        if len(args) != 1:
            raise Unsupported("sink call")
        value = self._expression(args[0])
        if value.ctype is not REAL:
            # NumPy adds an integer into a float array in float64 first.
            raise Unsupported("integer argument to a sink")
        total = self.sinks[_call_name(node)]
        return [f"{total} = R({total} + {value.python})"]

    def _target(self, node) -> Name:
        if not isinstance(node, c_ast.ID):
            raise Unsupported("assignment target")
        name = self._lookup(node.name)
        if name is None or not name.writable:
            raise Unsupported("assignment target")
        if self._local(node.name) is None:
            self.writes.add(node.name)
            self.reads.add(node.name)
        return name

    # -- expressions ------------------------------------------------------

    def _expression(self, node) -> _Value:
        handler = getattr(self, f"_expr_{type(node).__name__}", None)
        if handler is None:
            raise Unsupported(type(node).__name__)
        return handler(node)

    def _expr_Constant(self, node: c_ast.Constant) -> _Value:
        if node.type == "string" or "'" in node.value:
            raise Unsupported("string or character literal")
        if node.type in ("float", "double", "long double"):
            return self._constant(float_literal(node.value), REAL)
        value, ctype = int_literal(node.value)
        return self._constant(value, ctype)

    def _expr_ID(self, node: c_ast.ID) -> _Value:
        if node.name in ("true", "false"):
            return self._constant(node.name == "true", BOOL)
        name = self._lookup(node.name)
        if name is None:
            raise Unsupported(f"name {node.name!r}")
        if self._local(node.name) is None:
            self.reads.add(node.name)
        return _Value(name.python, name.ctype)

    def _expr_Cast(self, node: c_ast.Cast) -> _Value:
        decl = node.to_type.type
        if not isinstance(decl, c_ast.TypeDecl) or not isinstance(
            decl.type, c_ast.IdentifierType
        ):
            raise Unsupported("cast")
        ctype = resolve_type(decl.type.names)
        if ctype is None:
            raise Unsupported("cast")
        return self._coerce(self._expression(node.expr), ctype)

    def _expr_TernaryOp(self, node: c_ast.TernaryOp) -> _Value:
        condition = self._coerce(self._expression(node.cond), BOOL)
        a, b = self._expression(node.iftrue), self._expression(node.iffalse)
        ctype = common_type(a.ctype, b.ctype)
        a, b = self._coerce(a, ctype), self._coerce(b, ctype)
        if condition.folded is not None:
            return a if condition.folded.value else b
        folded = _fold_select(condition, a, b, ctype)
        text = f"({a.python} if {condition.python} else {b.python})"
        return self._result(text, ctype, folded)

    def _expr_UnaryOp(self, node: c_ast.UnaryOp) -> _Value:
        op = node.op
        if op not in ("-", "+", "!", "~"):
            raise Unsupported(f"operator {op!r} inside an expression")
        operand = self._expression(node.expr)
        if op == "!":
            operand = self._coerce(operand, BOOL)
            folded = _fold(np.logical_not, BOOL, operand)
            return self._result(f"(not {operand.python})", BOOL, folded)
        ctype = promote(operand.ctype)
        operand = self._coerce(operand, ctype)
        if op == "+":
            return operand
        func = np.negative if op == "-" else np.invert
        folded = _fold(func, ctype, operand)
        return self._result(f"{cast_name(ctype)}({op}{operand.python})", ctype, folded)

    def _expr_BinaryOp(self, node: c_ast.BinaryOp) -> _Value:
        return self._binary(
            node.op, self._expression(node.left), self._expression(node.right)
        )

    def _binary(self, op: str, left: _Value, right: _Value) -> _Value:
        if op in _PYTHON_OPS:
            left, right = self._coerce(left, BOOL), self._coerce(right, BOOL)
            func = np.logical_and if op == "&&" else np.logical_or
            folded = _fold(func, BOOL, left, right)
            text = f"({left.python} {_PYTHON_OPS[op]} {right.python})"
            return self._result(text, BOOL, folded)
        ctype = common_type(left.ctype, right.ctype)
        if (
            op == "/"
            and ctype is not REAL
            or op not in (_ARITHMETIC | _BITWISE | _COMPARISONS | {"/"})
        ):
            raise Unsupported(f"operator {op!r} on these types")
        left, right = self._coerce(left, ctype), self._coerce(right, ctype)
        func = BINARY_FUNCTIONS[op]
        if op in _COMPARISONS:
            folded = _fold(func, BOOL, left, right)
            return self._result(f"({left.python} {op} {right.python})", BOOL, folded)
        folded = _fold(func, ctype, left, right)
        text = f"{cast_name(ctype)}({left.python} {op} {right.python})"
        return self._result(text, ctype, folded)

    def _expr_FuncCall(self, node: c_ast.FuncCall) -> _Value:
        name = _call_name(node)
        args = node.args.exprs if node.args is not None else []
        if name == "abs" and len(args) == 1:
            operand = self._expression(args[0])
            ctype = REAL if operand.ctype is REAL else promote(operand.ctype)
            operand = self._coerce(operand, ctype)
            folded = _fold(np.abs, ctype, operand)
            return self._result(
                f"{cast_name(ctype)}(abs({operand.python}))", ctype, folded
            )
        if name not in _FUNCTIONS:
            raise Unsupported(f"call of {name!r}")
        func, count = REAL_FUNCTIONS[name]
        if len(args) != count:
            raise Unsupported(f"call of {name!r}")
        operands = [self._coerce(self._expression(arg), REAL) for arg in args]
        folded = _fold(func, REAL, *operands)
        text = f"R({_FUNCTIONS[name]}({', '.join(o.python for o in operands)}))"
        return self._result(text, REAL, folded)

    def _expr_ExprList(self, node) -> _Value:
        raise Unsupported("comma operator inside an expression")

    def _expr_Assignment(self, node) -> _Value:
        raise Unsupported("assignment inside an expression")

    # -- values -----------------------------------------------------------

    def _lookup(self, name: str) -> Name | None:
        return self._local(name) or self.names.get(name)

    def _local(self, name: str) -> Name | None:
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        return None

    def _constant(self, value, ctype) -> _Value:
        return self._from_folded(constant(value, ctype))

    def _from_folded(self, expr) -> _Value:
        ctype, value = expr.ctype, expr.value
        if ctype is REAL:
            return _Value(self.constants.real(value), REAL, expr)
        return _Value(self.constants.integer(value, ctype), ctype, expr)

    def _result(self, text: str, ctype, folded) -> _Value:
        if folded is not None and folded.constant:
            return self._from_folded(folded)
        return _Value(text, ctype)

    def _coerce(self, value: _Value, ctype) -> _Value:
        """``value`` converted as a C cast or assignment converts it."""
        if same_type(value.ctype, ctype):
            return value
        folded = None
        if value.folded is not None:
            folded = coerce(value.folded, ctype)
            if folded.constant:
                return self._from_folded(folded)
        if ctype == BOOL:
            zero = self._constant(0, value.ctype).python
            return _Value(f"({value.python} != {zero})", BOOL)
        if value.ctype is REAL:
            # NumPy and C leave out-of-range conversions undefined, and differ.
            raise Unsupported("conversion of a real to an integer")
        return _Value(f"{cast_name(ctype)}({value.python})", ctype)


def _call_name(node: c_ast.FuncCall) -> str | None:
    return node.name.name if isinstance(node.name, c_ast.ID) else None


def _fold(func, ctype, *operands: _Value):
    """ccode's folding of ``func`` over ``operands`` when all are known."""
    if any(o.folded is None for o in operands):
        return None
    exprs = [o.folded for o in operands]
    if len(exprs) == 1:
        return combine(apply1(func, exprs[0].fn), ctype, *exprs)
    return combine(apply2(func, exprs[0].fn, exprs[1].fn), ctype, *exprs)


def _fold_select(condition: _Value, a: _Value, b: _Value, ctype):
    if any(v.folded is None for v in (condition, a, b)):
        return None
    return combine(
        select(condition.folded.fn, a.folded.fn, b.folded.fn),
        ctype,
        condition.folded,
        a.folded,
        b.folded,
    )


def indent(lines: list[str]) -> list[str]:
    """``lines`` one level (four spaces) deeper."""
    return ["    " + line for line in lines]
