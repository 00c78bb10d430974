"""Translated expressions, their run-time values and constant folding.

A translated expression is a closure over a :class:`Frame` (the caller's
arrays, locals, precision and mask) with its static C type; where its
operands are known while translating, its value is folded at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from snnexp.engines.ccode.static_types import REAL, same_type

_FLOAT32 = np.dtype(np.float32)


class Frame:
    """State of one ``run``: the caller's arrays, locals, precision and mask."""

    __slots__ = ("env", "prec", "mask", "slots")

    def __init__(self, env: Mapping[str, Any], prec: np.dtype, mask=None) -> None:
        self.env = env
        self.prec = prec
        self.mask = mask
        self.slots: dict[int, Any] = {}


def as_real(value, prec: np.dtype):
    """``value`` as floating-point data: float arrays keep their dtype, while
    scalars and integer data take the model precision (so no weak Python float
    ever meets another one and silently becomes float64)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind == "f" else value.astype(prec)
    return prec.type(value)


def as_int(value, dtype: np.dtype):
    """``value`` converted to an integer or bool dtype the way C converts."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value if value.dtype == dtype else value.astype(dtype)
    if isinstance(value, float):
        return np.float64(value).astype(dtype)
    return _wrap_int(int(value), dtype)


def _wrap_int(value: int, dtype: np.dtype):
    """A Python int as a NumPy scalar of ``dtype``, wrapping like C."""
    if dtype.kind == "b":
        return np.bool_(value != 0)
    bits = 8 * dtype.itemsize
    value %= 1 << bits
    if dtype.kind == "i" and value >= 1 << (bits - 1):
        value -= 1 << bits
    return dtype.type(value)


def c_divide(a, b):
    """Integer division truncating toward zero, as in C."""
    return np.floor_divide(a - np.fmod(a, b), b)


def _c_round(x):
    """C ``round``: halfway cases go away from zero (NumPy rounds to even)."""
    whole = np.trunc(x)
    return whole + np.where(np.abs(x - whole) >= 0.5, np.sign(x), 0)


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def _erf(x):
    """C ``erf`` elementwise (NumPy has none), keeping the argument's dtype."""
    return _ERF(x).astype(getattr(x, "dtype", np.float64))


def model_precision(env: Mapping[str, Any], names) -> np.dtype:
    """Model precision: dtype of the first floating-point value among ``names``."""
    for name in names:
        dtype = getattr(env.get(name), "dtype", None)
        if dtype is not None and dtype.kind == "f":
            return dtype
    return _FLOAT32


def start_mask(where):
    """Initial mask from ``run(where=...)``: None means every element."""
    if where is None:
        return None
    mask = np.array(where, dtype=bool)
    return None if mask.all() else mask


_UNKNOWN = object()


@dataclass(frozen=True)
class Expr:
    """A translated expression.

    ``fn(frame)`` computes its value; ``ctype`` is its static C type;
    ``value`` is the value when known at translation time; ``effects`` tells
    whether evaluating it changes state; ``alias`` whether the value may be
    one of the caller's arrays, which later statements may change in place.
    """

    fn: Callable[[Frame], Any]
    ctype: Any
    value: Any = _UNKNOWN
    effects: bool = False
    alias: bool = False
    unit: bool = False  # known to be one, so multiplying by it changes nothing

    @property
    def constant(self) -> bool:
        return self.value is not _UNKNOWN


_FOLD_FRAME = Frame({}, np.dtype(np.float64))


def constant(value, ctype) -> Expr:
    """A literal; floating-point ones stay Python floats so NumPy treats them
    as weakly typed and keeps float32 arrays float32."""
    value = float(value) if ctype is REAL else as_int(value, ctype)
    return Expr(lambda frame: value, ctype, value, unit=ctype is REAL and value == 1)


def combine(fn, ctype, *operands: Expr, alias: bool = False) -> Expr:
    """An expression computed from ``operands``, folded when they are known."""
    expr = Expr(fn, ctype, effects=any(o.effects for o in operands), alias=alias)
    if operands and all(o.constant for o in operands):
        try:
            with np.errstate(all="ignore"):
                return constant(fn(_FOLD_FRAME), ctype)
        except (ArithmeticError, ValueError, TypeError):
            return expr
    return expr


def coerce(expr: Expr, ctype) -> Expr:
    """``expr`` converted to ``ctype`` as a C cast or assignment would."""
    if same_type(expr.ctype, ctype):
        return expr
    inner = expr.fn
    if ctype is REAL:
        return combine(lambda frame: as_real(inner(frame), frame.prec), REAL, expr)
    return combine(lambda frame: as_int(inner(frame), ctype), ctype, expr)


def strict_real(expr: Expr) -> Expr:
    """A floating-point literal as a model-precision NumPy scalar, for places
    where two literals could meet at run time."""
    if expr.ctype is not REAL or not expr.constant:
        return expr
    value = expr.value
    return Expr(lambda frame: frame.prec.type(value), REAL)


def copied(expr: Expr) -> Expr:
    """``expr`` evaluated into a fresh array, safe from later in-place stores."""
    inner = expr.fn
    return Expr(lambda frame: np.copy(inner(frame)), expr.ctype, effects=expr.effects)


def apply1(func, a):
    return lambda frame: func(a(frame))


def apply2(func, a, b):
    return lambda frame: func(a(frame), b(frame))


def select(condition, a, b):
    return lambda frame: np.where(condition(frame), a(frame), b(frame))


ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply}
BITWISE = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor}
SHIFTS = {"<<": np.left_shift, ">>": np.right_shift}
COMPARISONS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
LOGICAL = {"&&": np.logical_and, "||": np.logical_or}
IN_PLACE = {**ARITHMETIC, **BITWISE}
#: NumPy function of each binary operator on operands of their common type
#: (``/`` on reals; C's truncating integer division is ``c_divide``).
BINARY_FUNCTIONS = {**ARITHMETIC, **BITWISE, **COMPARISONS, "/": np.true_divide}

# fmt: off
REAL_FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "exp": (np.exp, 1), "expm1": (np.expm1, 1), "exp2": (np.exp2, 1),
    "log": (np.log, 1), "log1p": (np.log1p, 1), "log2": (np.log2, 1),
    "log10": (np.log10, 1), "sqrt": (np.sqrt, 1), "cbrt": (np.cbrt, 1),
    "fabs": (np.abs, 1), "floor": (np.floor, 1), "ceil": (np.ceil, 1),
    "round": (_c_round, 1), "trunc": (np.trunc, 1), "erf": (_erf, 1),
    "sin": (np.sin, 1), "cos": (np.cos, 1), "tan": (np.tan, 1),
    "asin": (np.arcsin, 1), "acos": (np.arccos, 1), "atan": (np.arctan, 1),
    "sinh": (np.sinh, 1), "cosh": (np.cosh, 1), "tanh": (np.tanh, 1),
    "fmin": (np.fmin, 2), "fmax": (np.fmax, 2), "pow": (np.power, 2),
    "atan2": (np.arctan2, 2), "fmod": (np.fmod, 2), "copysign": (np.copysign, 2),
    "hypot": (np.hypot, 2),
}
# fmt: on
BASE_FUNCTION_NAMES = ", ".join(sorted({"abs", *REAL_FUNCTIONS}))
REAL_FUNCTIONS.update({name + "f": spec for name, spec in list(REAL_FUNCTIONS.items())})
FUNCTION_NAMES = sorted({"abs", *REAL_FUNCTIONS})


Statement = Callable[[Frame], Any]
