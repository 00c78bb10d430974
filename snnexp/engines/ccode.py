"""Translate GeNN 5 model code strings into vectorised NumPy closures.

Neuron ``sim_code``, threshold conditions, current-source injection code and
custom updates are small C99 snippets such as ``V += Isyn * dt;``.  The NumPy
engine parses each snippet once with pycparser and turns its syntax tree into
a tree of Python closures that call NumPy on whole ``(batch, neurons)``
arrays.  No text from a config is ever given to ``eval``, ``exec`` or
``compile``: a snippet can only do what the translation functions below build.

How C maps onto arrays:

* ``if``/``else`` run as masks.  Both branches are executed, each under the
  elements where its condition holds, and a store only changes the elements of
  the active mask.  A branch whose mask is empty is skipped.
* Integer arithmetic follows C's usual arithmetic conversions, wraps around
  like C unsigned types, and divides and takes remainders truncating toward
  zero.  Stores convert to the target's type as C does (``np.copyto`` with
  ``casting="unsafe"``).
* Floating-point data keeps its dtype: float32 arrays stay float32.  Scalars,
  literals and integers converted to floating point take the model precision,
  which is the dtype of the floating-point arrays the code works on (float32
  unless they are float64).  ``scalar``, ``float`` and ``double`` are all
  spellings of that precision inside a snippet.
* ``&&``, ``||`` and ``?:`` evaluate both sides for every element, so side
  effects (assignments, ``++``, sink calls) are refused inside them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycparser import c_ast, c_parser

__all__ = [
    "CodeError",
    "declared_type",
    "CompiledBlock",
    "CompiledCondition",
    "compile_condition",
    "compile_statements",
]

MAX_CODE_CHARS = 10_000
MAX_BRACKET_DEPTH = 64
MAX_TREE_DEPTH = 200


class CodeError(ValueError):
    """A model code string that cannot run: the message names the snippet (the
    ``where`` text), what is wrong, and how to fix it."""


# ---------------------------------------------------------------------------
# Static C types
# ---------------------------------------------------------------------------


class _RealType:
    """Static type of every floating-point value (the model precision)."""

    def __repr__(self) -> str:
        return "scalar"


REAL = _RealType()
BOOL = np.dtype(np.bool_)
INT = np.dtype(np.int32)
UINT = np.dtype(np.uint32)
LONG = np.dtype(np.int64)
ULONG = np.dtype(np.uint64)

# fmt: off
_SPELLINGS = {
    BOOL: "bool | _Bool",
    np.dtype(np.int8): "char | signed char | int8_t",
    np.dtype(np.uint8): "unsigned char | uint8_t",
    np.dtype(np.int16): "short | short int | signed short | signed short int | int16_t",
    np.dtype(np.uint16): "unsigned short | unsigned short int | uint16_t",
    INT: "int | signed | signed int | int32_t",
    UINT: "unsigned | unsigned int | uint32_t",
    LONG: "long | long int | signed long | signed long int | long long | long long int"
          " | signed long long | signed long long int | int64_t",
    ULONG: "unsigned long | unsigned long int | unsigned long long"
           " | unsigned long long int | uint64_t | size_t",
    REAL: "scalar | float | double | long double",
}
# fmt: on
_TYPES: dict[tuple[str, ...], Any] = {
    tuple(sorted(spelling.split())): ctype
    for ctype, spellings in _SPELLINGS.items()
    for spelling in spellings.split("|")
}
_SUPPORTED_TYPES = "scalar, float, double, bool, int, unsigned int, " + ", ".join(
    f"{sign}int{bits}_t" for bits in (8, 16, 32, 64) for sign in ("", "u")
)
_QUALIFIERS = {"const", "volatile", "restrict"}


def _resolve_type(words) -> Any:
    """The static type named by C type words (e.g. ``['unsigned', 'int']``).

    Returns None for spellings that are not supported.
    """
    key = tuple(sorted(w for w in words if w not in _QUALIFIERS))
    return _TYPES.get(key)


def _same_type(a, b) -> bool:
    return a is b or (a is not REAL and b is not REAL and a == b)


def _promote(ctype):
    """C integer promotion: anything narrower than ``int`` computes as ``int``."""
    if ctype is REAL or ctype.itemsize >= 4:
        return ctype
    return INT


def _common_type(a, b):
    """C's usual arithmetic conversions for two operand types."""
    if a is REAL or b is REAL:
        return REAL
    a, b = _promote(a), _promote(b)
    if a == b:
        return a
    if a.kind == b.kind:
        return a if a.itemsize > b.itemsize else b
    unsigned, signed = (a, b) if a.kind == "u" else (b, a)
    return unsigned if unsigned.itemsize >= signed.itemsize else signed


# ---------------------------------------------------------------------------
# Run-time values
# ---------------------------------------------------------------------------

_FLOAT32 = np.dtype(np.float32)


class _Frame:
    """State of one ``run``: the caller's arrays, locals, precision and mask."""

    __slots__ = ("env", "prec", "mask", "slots")

    def __init__(self, env: Mapping[str, Any], prec: np.dtype, mask=None) -> None:
        self.env = env
        self.prec = prec
        self.mask = mask
        self.slots: dict[int, Any] = {}


def _as_real(value, prec: np.dtype):
    """``value`` as floating-point data: float arrays keep their dtype, while
    scalars and integer data take the model precision (so no weak Python float
    ever meets another one and silently becomes float64)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind == "f" else value.astype(prec)
    return prec.type(value)


def _as_int(value, dtype: np.dtype):
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


def _c_divide(a, b):
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


def _precision(env: Mapping[str, Any], names) -> np.dtype:
    """Model precision: dtype of the first floating-point value among ``names``."""
    for name in names:
        dtype = getattr(env.get(name), "dtype", None)
        if dtype is not None and dtype.kind == "f":
            return dtype
    return _FLOAT32


def _start_mask(where):
    """Initial mask from ``run(where=...)``: None means every element."""
    if where is None:
        return None
    mask = np.array(where, dtype=bool)
    return None if mask.all() else mask


# ---------------------------------------------------------------------------
# Compiled expressions
# ---------------------------------------------------------------------------

_UNKNOWN = object()


@dataclass(frozen=True)
class _Expr:
    """A translated expression.

    ``fn(frame)`` computes its value; ``ctype`` is its static C type;
    ``value`` is the value when known at translation time; ``effects`` tells
    whether evaluating it changes state; ``alias`` whether the value may be
    one of the caller's arrays, which later statements may change in place.
    """

    fn: Callable[[_Frame], Any]
    ctype: Any
    value: Any = _UNKNOWN
    effects: bool = False
    alias: bool = False
    unit: bool = False  # known to be one, so multiplying by it changes nothing

    @property
    def constant(self) -> bool:
        return self.value is not _UNKNOWN


_FOLD_FRAME = _Frame({}, np.dtype(np.float64))


def _constant(value, ctype) -> _Expr:
    """A literal; floating-point ones stay Python floats so NumPy treats them
    as weakly typed and keeps float32 arrays float32."""
    value = float(value) if ctype is REAL else _as_int(value, ctype)
    return _Expr(lambda frame: value, ctype, value, unit=ctype is REAL and value == 1)


def _combine(fn, ctype, *operands: _Expr, alias: bool = False) -> _Expr:
    """An expression computed from ``operands``, folded when they are known."""
    expr = _Expr(fn, ctype, effects=any(o.effects for o in operands), alias=alias)
    if operands and all(o.constant for o in operands):
        try:
            with np.errstate(all="ignore"):
                return _constant(fn(_FOLD_FRAME), ctype)
        except (ArithmeticError, ValueError, TypeError):
            return expr
    return expr


def _coerce(expr: _Expr, ctype) -> _Expr:
    """``expr`` converted to ``ctype`` as a C cast or assignment would."""
    if _same_type(expr.ctype, ctype):
        return expr
    inner = expr.fn
    if ctype is REAL:
        return _combine(lambda frame: _as_real(inner(frame), frame.prec), REAL, expr)
    return _combine(lambda frame: _as_int(inner(frame), ctype), ctype, expr)


def _strict_real(expr: _Expr) -> _Expr:
    """A floating-point literal as a model-precision NumPy scalar, for places
    where two literals could meet at run time."""
    if expr.ctype is not REAL or not expr.constant:
        return expr
    value = expr.value
    return _Expr(lambda frame: frame.prec.type(value), REAL)


def _copied(expr: _Expr) -> _Expr:
    """``expr`` evaluated into a fresh array, safe from later in-place stores."""
    inner = expr.fn
    return _Expr(lambda frame: np.copy(inner(frame)), expr.ctype, effects=expr.effects)


def _apply1(func, a):
    return lambda frame: func(a(frame))


def _apply2(func, a, b):
    return lambda frame: func(a(frame), b(frame))


# ---------------------------------------------------------------------------
# Operators and functions
# ---------------------------------------------------------------------------

_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply}
_BITWISE = {"&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor}
_SHIFTS = {"<<": np.left_shift, ">>": np.right_shift}
_COMPARISONS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}
_LOGICAL = {"&&": np.logical_and, "||": np.logical_or}
_IN_PLACE = {**_ARITHMETIC, **_BITWISE}
#: NumPy function of each binary operator on operands of their common type
#: (``/`` on reals; C's truncating integer division is ``_c_divide``).
BINARY_FUNCTIONS = {**_ARITHMETIC, **_BITWISE, **_COMPARISONS, "/": np.true_divide}

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
_BASE_FUNCTION_NAMES = ", ".join(sorted({"abs", *REAL_FUNCTIONS}))
REAL_FUNCTIONS.update({name + "f": spec for name, spec in list(REAL_FUNCTIONS.items())})
_FUNCTION_NAMES = sorted({"abs", *REAL_FUNCTIONS})

# fmt: off
_C_KEYWORDS = frozenset({
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static",
    "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic", "_Generic",
    "_Noreturn", "_Static_assert", "_Thread_local", "offsetof", "__int128",
})
# fmt: on
# fmt: off
_TYPEDEFS = {
    "scalar": "float", "bool": "_Bool", "size_t": "unsigned long",
    "int8_t": "signed char", "uint8_t": "unsigned char",
    "int16_t": "short", "uint16_t": "unsigned short",
    "int32_t": "int", "uint32_t": "unsigned int",
    "int64_t": "long long", "uint64_t": "unsigned long long",
}
# fmt: on
_SNIPPET_FUNCTION = "__snnexp_snippet"
_CONDITION_NAME = "__snnexp_condition"
_RESERVED = (
    _C_KEYWORDS | set(_TYPEDEFS) | {"true", "false", _SNIPPET_FUNCTION, _CONDITION_NAME}
)
_PRELUDE = " ".join(f"typedef {c} {name};" for name, c in _TYPEDEFS.items())
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_CONSTRUCTS = {
    "For": "for loop",
    "While": "while loop",
    "DoWhile": "do-while loop",
    "Switch": "switch statement",
    "Case": "case label",
    "Default": "default label",
    "Break": "break statement",
    "Continue": "continue statement",
    "Goto": "goto statement",
    "Label": "label",
    "Return": "return statement",
    "ArrayRef": "array subscript",
    "StructRef": "struct member access",
    "CompoundLiteral": "compound literal",
    "InitList": "initialiser list",
    "FuncDef": "function definition",
    "Typedef": "typedef",
    "Pragma": "pragma",
    "StaticAssert": "_Static_assert",
    "Typename": "type name as a value",
    "NamedInitializer": "designated initialiser",
    "Alignas": "_Alignas",
    "PtrDecl": "pointer",
    "ArrayDecl": "array",
    "FuncDecl": "function declaration",
    "Struct": "struct",
    "Union": "union",
    "Enum": "enum",
}
_UNARY_CONSTRUCTS = {
    "&": "address-of operator '&'",
    "*": "pointer dereference '*'",
    "sizeof": "sizeof",
    "_Alignof": "_Alignof",
}


# ---------------------------------------------------------------------------
# Source checks and parsing
# ---------------------------------------------------------------------------

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_GENN4 = re.compile(r"\$\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(,?)")


def _position(code: str, index: int) -> tuple[int, int]:
    line = code.count("\n", 0, index) + 1
    return line, index - code.rfind("\n", 0, index)


def _check_source(code: str, where: str) -> str:
    """Reject, before parsing, what pycparser would choke on or misreport, and
    return ``code`` with its comments blanked out (pycparser expects
    preprocessed C; blanking keeps every line and column where it was).

    Raises CodeError for code that is not a string or is too long, for
    preprocessor lines, GeNN 4 ``$(name)`` syntax, unclosed comments and
    unbalanced or too deeply nested brackets.
    """
    if not isinstance(code, str):
        raise CodeError(f"{where}: code must be a string, got {type(code).__name__}.")
    if len(code) > MAX_CODE_CHARS:
        raise CodeError(
            f"{where}: code is {len(code)} characters long, over the limit of "
            f"{MAX_CODE_CHARS}; keep model code to a few statements."
        )
    open_at: list[int] = []
    pieces = []
    index = 0
    while index < len(code):
        following = _scan_one(code, index, open_at, where)
        piece = code[index:following]
        pieces.append(_blank(piece) if piece[:2] in ("//", "/*") else piece)
        index = following
    if open_at:
        line, column = _position(code, open_at[-1])
        opener = code[open_at[-1]]
        raise CodeError(
            f"{where}: unbalanced brackets: '{opener}' at line {line}, column "
            f"{column} is never closed; add the missing '{_OPENERS[opener]}'."
        )
    return "".join(pieces)


def _blank(comment: str) -> str:
    return re.sub(r"[^\n]", " ", comment)


def _scan_one(code: str, index: int, open_at: list[int], where: str) -> int:
    """Check the character at ``index`` and return the index to scan next."""
    char = code[index]
    if code.startswith("//", index):
        end = code.find("\n", index)
        return len(code) if end < 0 else end
    if code.startswith("/*", index):
        end = code.find("*/", index + 2)
        if end < 0:
            line, column = _position(code, index)
            raise CodeError(
                f"{where}: the comment opened at line {line}, column {column} is "
                "never closed; end it with '*/'."
            )
        return end + 2
    if char in "\"'":
        return _skip_quoted(code, index)
    if char == "#" and not code[code.rfind("\n", 0, index) + 1 : index].strip():
        _reject_preprocessor(code, index, where)
    if char == "$":
        _reject_genn4(code, index, where)
    if char in _OPENERS:
        open_at.append(index)
        if len(open_at) > MAX_BRACKET_DEPTH:
            line, _ = _position(code, index)
            raise CodeError(
                f"{where}: brackets nest deeper than {MAX_BRACKET_DEPTH} levels at "
                f"line {line}; flatten the code with local variables."
            )
    elif char in _CLOSERS:
        _close_bracket(code, index, open_at, where)
    return index + 1


def _skip_quoted(code: str, index: int) -> int:
    """Index just past the string or character literal starting at ``index``."""
    quote, index = code[index], index + 1
    while index < len(code) and code[index] not in (quote, "\n"):
        index += 2 if code[index] == "\\" else 1
    return index + 1


def _close_bracket(code: str, index: int, open_at: list[int], where: str) -> None:
    char = code[index]
    line, column = _position(code, index)
    if not open_at:
        raise CodeError(
            f"{where}: unbalanced brackets: '{char}' at line {line}, column {column} "
            f"has no matching '{_CLOSERS[char]}'; remove it or add the opening one."
        )
    opener = code[open_at[-1]]
    if opener != _CLOSERS[char]:
        open_line, open_column = _position(code, open_at[-1])
        raise CodeError(
            f"{where}: unbalanced brackets: '{char}' at line {line}, column {column} "
            f"closes '{opener}' opened at line {open_line}, column {open_column}; "
            f"close it with '{_OPENERS[opener]}' first."
        )
    open_at.pop()


def _reject_preprocessor(code: str, index: int, where: str) -> None:
    line, _ = _position(code, index)
    directive = code[index:].split("\n", 1)[0].strip()
    raise CodeError(
        f"{where}: preprocessor line '{directive}' at line {line} is not allowed in "
        "model code; remove it. The maths functions need no #include, and "
        "constants belong under the model's params."
    )


def _reject_genn4(code: str, index: int, where: str) -> None:
    match = _GENN4.match(code, index)
    if match is None:
        return
    line, _ = _position(code, index)
    name, call = match.group(1), bool(match.group(2))
    old = f"$({name}, ...)" if call else f"$({name})"
    new = f"{name}(...)" if call else name
    raise CodeError(
        f"{where}: '{old}' at line {line} is GeNN 4 syntax; GeNN 5 code names "
        f"variables, parameters and functions directly: write '{new}' instead."
    )


_FILENAME = "<snippet>"
_PARSE_ERROR = re.compile(r"^[^:]*:(\d+)(?::(\d+))?: (.*)$", re.DOTALL)


def _parse(source: str, code: str, where: str) -> c_ast.FileAST:
    """Parse ``source`` (``code`` inside a wrapper whose first line is the
    prelude) and return pycparser's tree.

    Raises CodeError for syntax errors, with the position mapped back to
    ``code``, and for anything else pycparser fails on, including running out
    of Python stack on deeply nested code.
    """
    parser = c_parser.CParser()
    try:
        return parser.parse(source, filename=_FILENAME)
    except c_parser.ParseError as err:
        message = str(err)
        if not _PARSE_ERROR.match(message):
            message = f"{_stopped_at(parser)}: {message.removeprefix(_FILENAME + ': ')}"
        raise CodeError(_syntax_message(message, code, where)) from None
    except RecursionError:
        raise CodeError(
            f"{where}: code nests too deeply to parse; flatten it with local "
            "variables and else-if chains of fewer steps."
        ) from None
    except Exception as err:  # pycparser signals some malformed input by asserting
        raise CodeError(
            f"{where}: code could not be parsed ({type(err).__name__} {err}); "
            "check it is valid C statements."
        ) from None


def _stopped_at(parser: c_parser.CParser) -> str:
    """``file:line:column`` of the token the parser stopped at, for the errors
    pycparser reports without a position (empty when it cannot be told)."""
    try:
        token = parser._peek()
        return f"{_FILENAME}:{token.lineno}:{token.column}"
    except Exception:  # pycparser internals differ between versions
        return _FILENAME


def _syntax_message(message: str, code: str, where: str) -> str:
    """pycparser's message with its position moved from the wrapper to ``code``."""
    match = _PARSE_ERROR.match(message)
    if match is None:
        place, detail = "", message.removeprefix(f"{_FILENAME}: ")
    else:
        line, detail = int(match.group(1)) - 1, match.group(3)
        if not 1 <= line <= code.count("\n") + 1:
            place = " at the end of the code"
        elif match.group(2):
            place = f" at line {line}, column {match.group(2)}"
        else:
            place = f" at line {line}"
    if detail.startswith("before: "):
        detail = f"unexpected '{detail.removeprefix('before: ')}'"
    return (
        f"{where}: syntax error{place}: {detail}. Model code is GeNN 5 C "
        "(e.g. 'V += Isyn * dt;'), not Python; check for a missing ';' or a typo."
    )


def _check_depth(tree: c_ast.Node, where: str) -> None:
    """Bound the syntax tree's depth so translation cannot exhaust the stack."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            line = f" at line {node.coord.line - 1}" if node.coord else ""
            raise CodeError(
                f"{where}: code nests too deeply{line}; split long expressions "
                "and deep if/else chains with local variables."
            )
        stack.extend((child, depth + 1) for _, child in node.children())


def _parse_statements(code: str, where: str) -> c_ast.Compound:
    code = _check_source(code, where)
    source = f"{_PRELUDE} void {_SNIPPET_FUNCTION}(void) {{\n{code}\n}}\n"
    tree = _parse(source, code, where)
    _check_depth(tree, where)
    return tree.ext[-1].body


def _parse_condition(code: str, where: str) -> c_ast.Node:
    code = _check_source(code, where)
    if not code.strip():
        raise CodeError(f"{where}: the condition is empty; write e.g. 'V >= Vthr'.")
    source = (
        f"{_PRELUDE} void {_SNIPPET_FUNCTION}(void) {{ _Bool {_CONDITION_NAME} = (\n"
        f"{code}\n); }}\n"
    )
    tree = _parse(source, code, where)
    _check_depth(tree, where)
    items = tree.ext[-1].body.block_items or []
    if len(items) != 1 or not isinstance(items[0], c_ast.Decl):
        raise CodeError(
            f"{where}: a condition must be a single expression such as 'V >= Vthr'."
        )
    return items[0].init


def float_literal(text: str) -> float:
    """The value of a floating-point literal such as ``0.1f`` or ``0x1p-3``.

    Raises ValueError for a malformed literal.
    """
    text = text.rstrip("fFlL")
    return float.fromhex(text) if text[:2] in ("0x", "0X") else float(text)


def int_literal(text: str) -> tuple[int, Any]:
    """Value and C type of an integer literal such as ``10u`` or ``0x1F``.

    Raises ValueError for a malformed literal or one over 64 bits.
    """
    match = re.fullmatch(
        r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uUlL]*)", text
    )
    if match is None:
        raise ValueError(f"malformed integer '{text}'")
    digits, suffix = match.group(1), match.group(2).lower()
    base = {"0x": 16, "0b": 2}.get(digits[:2].lower(), 8 if digits[0] == "0" else 10)
    value = int(digits, base)
    if "u" in suffix:
        candidates = [ULONG] if "l" in suffix else [UINT, ULONG]
    elif "l" in suffix:
        candidates = [LONG] if base == 10 else [LONG, ULONG]
    else:
        candidates = [INT, LONG] if base == 10 else [INT, UINT, LONG, ULONG]
    for ctype in candidates:
        if value <= np.iinfo(ctype).max:
            return value, ctype
    raise ValueError(f"integer {text} is too large for 64 bits")


# ---------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Local:
    """A local declared in the snippet; ``key`` names its slot in the frame."""

    key: int
    ctype: Any
    const: bool


@dataclass(frozen=True)
class _Target:
    """Something an assignment can store into: a caller's array or a local."""

    name: str
    ctype: Any
    local: _Local | None


_Statement = Callable[[_Frame], Any]


class _Translator:
    """Turns pycparser nodes into closures for one snippet.

    Every method raises CodeError for code that is wrong (unknown names,
    writes to read-only names, type errors) and NotImplementedError for valid
    C the NumPy engine does not run (loops, pointers, ...).
    """

    def __init__(
        self, where, variables, constants, sinks, allow_effects, known=None
    ) -> None:
        self.where = where
        self.known = dict(known or {})
        self.constants = _declared_types(where, "constant", constants)
        self.variables = _declared_types(where, "variable", variables)
        self.sinks = _declared_sinks(where, sinks)
        self.allow_effects = allow_effects
        self.scopes: list[dict[str, _Local]] = []
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self._next_key = 0

    # -- errors -------------------------------------------------------------

    def _at(self, node) -> str:
        coord = getattr(node, "coord", None)
        return f" at line {coord.line - 1}" if coord else ""

    def unsupported(self, construct: str, node) -> NotImplementedError:
        return NotImplementedError(
            f"{self.where}: {construct}{self._at(node)} is not supported by the "
            "NumPy engine; rewrite it with if/else, '?:' and local variables, or "
            "run the model on the GeNN engine."
        )

    def error(self, message: str) -> CodeError:
        return CodeError(f"{self.where}: {message}")

    def _unknown_name(self, name: str, node) -> CodeError:
        declared = [*self.variables, *self.constants, *self._visible_locals()]
        listed = ", ".join(dict.fromkeys(declared)) or "none"
        close = difflib.get_close_matches(name, [*declared, *_FUNCTION_NAMES], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return self.error(
            f"unknown identifier '{name}'{self._at(node)}; declared names are "
            f"{listed}{hint}. Declare it under params or vars of the model."
        )

    # -- names --------------------------------------------------------------

    def _visible_locals(self) -> list[str]:
        return [name for scope in self.scopes for name in scope]

    def _find_local(self, name: str) -> _Local | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def _declare_local(self, name: str, ctype, const: bool, node) -> _Local:
        if name in self.variables or name in self.constants or name in _RESERVED:
            raise self.error(
                f"local '{name}'{self._at(node)} hides a name of the model; "
                "rename the local."
            )
        if name in self.scopes[-1]:
            raise self.error(
                f"'{name}' is declared twice in one block{self._at(node)}."
            )
        self._next_key += 1
        local = _Local(self._next_key, ctype, const)
        self.scopes[-1][name] = local
        return local

    # -- statements ---------------------------------------------------------

    def block(self, compound: c_ast.Compound) -> _Statement | None:
        self.scopes.append({})
        steps = [self.statement(item) for item in compound.block_items or ()]
        self.scopes.pop()
        return _sequence(steps)

    def statement(self, node) -> _Statement | None:
        kind = type(node).__name__
        if kind == "Compound":
            return self.block(node)
        if kind == "Decl":
            return self.declaration(node)
        if kind == "If":
            return self.if_statement(node)
        if kind == "EmptyStatement":
            return None
        if hasattr(self, f"_expr_{kind}"):
            expr = self.expression(node, want_value=False)
            return expr.fn if expr.effects else None
        raise self.unsupported(_CONSTRUCTS.get(kind, kind), node)

    def if_statement(self, node: c_ast.If) -> _Statement | None:
        condition = _coerce(self.expression(node.cond), BOOL)
        then = self._branch(node.iftrue)
        otherwise = self._branch(node.iffalse)
        if condition.constant:
            return then if condition.value else otherwise
        if then is None and otherwise is None:
            return condition.fn if condition.effects else None
        if condition.alias:
            condition = _copied(condition)
        return _masked_if(condition.fn, then, otherwise)

    def _branch(self, node) -> _Statement | None:
        if node is None:
            return None
        self.scopes.append({})
        step = self.statement(node)
        self.scopes.pop()
        return step

    def declaration(self, node: c_ast.Decl) -> _Statement:
        ctype, const = self._declared_local_type(node)
        if node.init is None:
            value = _constant(0, ctype)
        elif isinstance(node.init, c_ast.InitList):
            raise self.unsupported("initialiser list", node.init)
        else:
            value = _coerce(self.expression(node.init), ctype)
        local = self._declare_local(node.name, ctype, const, node)
        init = _local_value(value, ctype)
        key = local.key

        def declare(frame: _Frame) -> None:
            frame.slots[key] = init(frame)

        return declare

    def _declared_local_type(self, node: c_ast.Decl):
        if node.storage:
            raise self.unsupported(f"'{' '.join(node.storage)}' declaration", node)
        if node.funcspec or node.bitsize or node.align:
            raise self.unsupported("declaration specifier", node)
        decl = node.type
        if not isinstance(decl, c_ast.TypeDecl):
            raise self.unsupported(
                _CONSTRUCTS.get(type(decl).__name__, "declarator"), node
            )
        ctype = self._type_of(decl.type, node)
        const = "const" in (node.quals or ()) or "const" in (decl.quals or ())
        return ctype, const

    def _type_of(self, spec, node):
        if not isinstance(spec, c_ast.IdentifierType):
            raise self.unsupported(_CONSTRUCTS.get(type(spec).__name__, "type"), node)
        ctype = _resolve_type(spec.names)
        if ctype is None:
            raise self.error(
                f"type '{' '.join(spec.names)}'{self._at(node)} is not supported; "
                f"use one of {_SUPPORTED_TYPES}."
            )
        return ctype

    # -- expressions --------------------------------------------------------

    def expression(self, node, want_value: bool = True) -> _Expr:
        handler = getattr(self, f"_expr_{type(node).__name__}", None)
        if handler is None:
            kind = type(node).__name__
            raise self.unsupported(_CONSTRUCTS.get(kind, kind), node)
        return handler(node, want_value)

    def _expr_Constant(self, node: c_ast.Constant, want_value: bool) -> _Expr:
        if node.type == "string":
            raise self.unsupported("string literal", node)
        if "'" in node.value:
            raise self.unsupported("character literal", node)
        if node.type in ("float", "double", "long double"):
            return _constant(self._float_literal(node), REAL)
        value, ctype = self._int_literal(node)
        return _constant(value, ctype)

    def _float_literal(self, node) -> float:
        try:
            return float_literal(node.value)
        except ValueError:
            raise self.error(
                f"malformed number '{node.value}'{self._at(node)}."
            ) from None

    def _int_literal(self, node):
        try:
            return int_literal(node.value)
        except ValueError as error:
            raise self.error(f"{error}{self._at(node)}.") from None

    def _expr_ID(self, node: c_ast.ID, want_value: bool) -> _Expr:
        name = node.name
        local = self._find_local(name)
        if local is not None:
            key = local.key
            return _Expr(lambda frame: frame.slots[key], local.ctype)
        if name in self.variables or name in self.constants:
            self.reads.add(name)
            ctype = self.variables.get(name, self.constants.get(name))
            unit = name not in self.variables and self.known.get(name) == 1
            reader = _env_reader(self.where, name, ctype)
            return _Expr(reader, ctype, alias=True, unit=ctype is REAL and unit)
        if name in ("true", "false"):
            return _constant(name == "true", BOOL)
        if name in self.sinks or name in _FUNCTION_NAMES:
            raise self.error(
                f"'{name}'{self._at(node)} is a function; call it as {name}(...)."
            )
        raise self._unknown_name(name, node)

    def _expr_Cast(self, node: c_ast.Cast, want_value: bool) -> _Expr:
        decl = node.to_type.type
        if not isinstance(decl, c_ast.TypeDecl):
            raise self.unsupported(_CONSTRUCTS.get(type(decl).__name__, "cast"), node)
        return _coerce(self.expression(node.expr), self._type_of(decl.type, node))

    def _expr_ExprList(self, node: c_ast.ExprList, want_value: bool) -> _Expr:
        items = [self.expression(e, want_value=False) for e in node.exprs[:-1]]
        last = _strict_real(self.expression(node.exprs[-1], want_value))
        steps = tuple(e.fn for e in items if e.effects)
        if not steps:
            return last
        final = last.fn

        def sequence(frame: _Frame):
            for step in steps:
                step(frame)
            return final(frame)

        return _Expr(sequence, last.ctype, effects=True, alias=last.alias)

    def _expr_TernaryOp(self, node: c_ast.TernaryOp, want_value: bool) -> _Expr:
        condition = _coerce(self.expression(node.cond), BOOL)
        branches = [self.expression(node.iftrue), self.expression(node.iffalse)]
        for branch, branch_node in zip(
            branches, (node.iftrue, node.iffalse), strict=True
        ):
            self._refuse_effects(branch, branch_node, "'?:'")
        ctype = _common_type(branches[0].ctype, branches[1].ctype)
        a, b = (_coerce(branch, ctype) for branch in branches)
        if condition.constant:
            return a if condition.value else b
        if ctype is REAL and a.constant and b.constant:
            a, b = _strict_real(a), _strict_real(b)
        return _combine(_select(condition.fn, a.fn, b.fn), ctype, condition, a, b)

    def _refuse_effects(self, expr: _Expr, node, where_in: str) -> None:
        if expr.effects:
            raise self.unsupported(
                f"assignment, ++/-- or call with side effects inside {where_in}", node
            )

    def _expr_UnaryOp(self, node: c_ast.UnaryOp, want_value: bool) -> _Expr:
        op = node.op
        if op in _UNARY_CONSTRUCTS:
            raise self.unsupported(_UNARY_CONSTRUCTS[op], node)
        if op in ("++", "--", "p++", "p--"):
            target = self._target(node.expr, node)
            one = _constant(1, INT)
            return self._update(target, op[-1], one, node, want_value, op[0] == "p")
        operand = self.expression(node.expr)
        if op == "!":
            return _combine(
                _apply1(np.logical_not, _coerce(operand, BOOL).fn), BOOL, operand
            )
        ctype = _promote(operand.ctype)
        if op == "~":
            self._need_integers("~", node, operand.ctype)
        operand = _coerce(operand, ctype)
        if op == "+":
            return operand
        func = np.negative if op == "-" else np.invert
        return _combine(_apply1(func, operand.fn), ctype, operand)

    def _expr_BinaryOp(self, node: c_ast.BinaryOp, want_value: bool) -> _Expr:
        left = self.expression(node.left)
        right = self.expression(node.right)
        if node.op in _LOGICAL:
            self._refuse_effects(right, node.right, f"'{node.op}'")
        return self._binary(node.op, left, right, node)

    def _binary(self, op: str, left: _Expr, right: _Expr, node) -> _Expr:
        ones = (left.unit, right.unit)
        ctype, func, left, right = self._operands(op, left, right, node)
        if ctype is REAL and (op in "*/" and ones[1] or op == "*" and ones[0]):
            # x * 1 and x / 1 are exactly x in IEEE arithmetic: skip a pass.
            return right if op == "*" and ones[0] and not ones[1] else left
        result = BOOL if op in _COMPARISONS or op in _LOGICAL else ctype
        return _combine(_apply2(func, left.fn, right.fn), result, left, right)

    def _operands(self, op: str, left: _Expr, right: _Expr, node):
        """Type, NumPy function and converted operands of a binary operator."""
        if op in _LOGICAL:
            return BOOL, _LOGICAL[op], _coerce(left, BOOL), _coerce(right, BOOL)
        if op in _SHIFTS:
            self._need_integers(op, node, left.ctype, right.ctype)
            ctype = _promote(left.ctype)
            return ctype, _SHIFTS[op], _coerce(left, ctype), _coerce(right, ctype)
        ctype = _common_type(left.ctype, right.ctype)
        if op in _BITWISE or op == "%":
            self._need_integers(op, node, left.ctype, right.ctype)
        if op == "/":
            func = np.true_divide if ctype is REAL else _c_divide
        elif op == "%":
            func = np.fmod
        else:
            func = {**_ARITHMETIC, **_BITWISE, **_COMPARISONS}[op]
        return ctype, func, _coerce(left, ctype), _coerce(right, ctype)

    def _need_integers(self, op: str, node, *ctypes) -> None:
        if any(ctype is REAL for ctype in ctypes):
            fix = "use fmod(a, b)" if op in ("%", "%=") else "cast with (int) first"
            raise self.error(
                f"operator '{op}'{self._at(node)} needs integer operands but got a "
                f"floating-point value; {fix}."
            )

    def _expr_FuncCall(self, node: c_ast.FuncCall, want_value: bool) -> _Expr:
        if not isinstance(node.name, c_ast.ID):
            raise self.unsupported("call through an expression", node)
        name = node.name.name
        args = node.args.exprs if node.args is not None else []
        if name in self.sinks:
            return self._sink_call(name, args, node, want_value)
        if name in _FUNCTION_NAMES:
            return self._math_call(name, args, node)
        if self._find_local(name) or name in self.variables or name in self.constants:
            raise self.error(f"'{name}'{self._at(node)} is a variable, not a function.")
        close = difflib.get_close_matches(name, [*_FUNCTION_NAMES, *self.sinks], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        sinks = ", ".join(self.sinks)
        raise self.error(
            f"unknown function '{name}'{self._at(node)}{hint}; available functions are "
            f"{_BASE_FUNCTION_NAMES} (and their float variants such as expf)"
            f"{', plus ' + sinks if sinks else ''}."
        )

    def _check_arity(self, name: str, args, count: int, node) -> None:
        if len(args) != count:
            raise self.error(
                f"{name}(){self._at(node)} takes {count} "
                f"argument{'s' if count > 1 else ''}, got {len(args)}."
            )

    def _math_call(self, name: str, args, node) -> _Expr:
        func, count = REAL_FUNCTIONS.get(name, (np.abs, 1))
        self._check_arity(name, args, count, node)
        operands = [self.expression(arg) for arg in args]
        ctype = REAL
        if name == "abs" and operands[0].ctype is not REAL:
            ctype = _promote(operands[0].ctype)
        operands = [_coerce(operand, ctype) for operand in operands]
        if count == 1:
            return _combine(_apply1(func, operands[0].fn), ctype, *operands)
        return _combine(_apply2(func, operands[0].fn, operands[1].fn), ctype, *operands)

    def _sink_call(self, name: str, args, node, want_value: bool) -> _Expr:
        self._check_arity(name, args, 1, node)
        if want_value:
            raise self.error(
                f"{name}(){self._at(node)} returns nothing; call it as a statement "
                "of its own."
            )
        self._refuse_in_condition(f"{name}()", node)
        value = self.expression(args[0])
        target = self.sinks[name]
        self.writes.add(target)
        fn = _env_in_place(self.where, target, np.add, value.fn)
        return _Expr(fn, REAL, effects=True)

    # -- assignments --------------------------------------------------------

    def _refuse_in_condition(self, what: str, node) -> None:
        if not self.allow_effects:
            raise self.error(
                f"a condition cannot change state, but it uses {what}"
                f"{self._at(node)}; move that into the model's sim_code."
            )

    def _target(self, node, parent) -> _Target:
        """The storable name that ``node`` denotes."""
        if not isinstance(node, c_ast.ID):
            kind = type(node).__name__
            if kind in _CONSTRUCTS:
                raise self.unsupported(_CONSTRUCTS[kind], node)
            if isinstance(node, c_ast.UnaryOp) and node.op in _UNARY_CONSTRUCTS:
                raise self.unsupported(_UNARY_CONSTRUCTS[node.op], node)
            raise self.error(f"only a variable can be assigned{self._at(parent)}.")
        name = node.name
        self._refuse_in_condition(f"an assignment to '{name}'", node)
        local = self._find_local(name)
        if local is not None:
            if local.const:
                raise self.error(
                    f"'{name}' is a const local{self._at(node)}; drop 'const' from its "
                    "declaration to assign it."
                )
            return _Target(name, local.ctype, local)
        if name in self.variables:
            self.writes.add(name)
            return _Target(name, self.variables[name], None)
        if name in self.constants:
            writable = ", ".join(self.variables) or "none"
            raise self.error(
                f"'{name}' is read-only here{self._at(node)}; the names that can be "
                f"assigned are {writable}. Copy it into a local (scalar x = {name};) "
                "or make it a variable of the model."
            )
        if name in self.sinks or name in _FUNCTION_NAMES or name in ("true", "false"):
            raise self.error(f"'{name}'{self._at(node)} cannot be assigned.")
        raise self._unknown_name(name, node)

    def _expr_Assignment(self, node: c_ast.Assignment, want_value: bool) -> _Expr:
        target = self._target(node.lvalue, node)
        value = self.expression(node.rvalue)
        if node.op == "=":
            return self._store(target, _coerce(value, target.ctype), want_value)
        op = node.op[:-1]
        return self._update(target, op, value, node, want_value, postfix=False)

    def _read(self, target: _Target) -> _Expr:
        if target.local is not None:
            key = target.local.key
            return _Expr(lambda frame: frame.slots[key], target.ctype)
        self.reads.add(target.name)
        return _Expr(
            _env_reader(self.where, target.name, target.ctype), target.ctype, alias=True
        )

    def _store(self, target: _Target, value: _Expr, want_value: bool) -> _Expr:
        """Store ``value`` (already of the target's type) under the active mask."""
        if want_value:
            value = _strict_real(value)
        if target.local is not None:
            fn = _local_store(target.local.key, _local_value(value, target.ctype))
            return _Expr(fn, target.ctype, effects=True)
        fn = _env_store(self.where, target.name, value.fn)
        return _Expr(fn, target.ctype, effects=True, alias=value.alias)

    def _update(self, target, op, value, node, want_value, postfix) -> _Expr:
        """``target op= value``; for ``x++`` the result is the old value."""
        current = self._read(target)
        ctype, func, left, operand = self._operands(op, current, value, node)
        computed = _combine(_apply2(func, left.fn, operand.fn), ctype, left, operand)
        combined = _coerce(computed, target.ctype)
        if postfix and want_value:
            return _postfix(current, self._store(target, combined, False))
        in_place = op in _IN_PLACE or (op == "/" and ctype is REAL)
        if target.local is None and in_place and _same_type(ctype, target.ctype):
            fn = _env_in_place(self.where, target.name, func, operand.fn)
            return _Expr(fn, target.ctype, effects=True, alias=True)
        return self._store(target, combined, want_value)


# ---------------------------------------------------------------------------
# Run-time closures
# ---------------------------------------------------------------------------


def _sequence(steps) -> _Statement | None:
    steps = tuple(step for step in steps if step is not None)
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def run(frame: _Frame) -> None:
        for step in steps:
            step(frame)

    return run


def _masked_if(condition, then, otherwise) -> _Statement:
    """``if``/``else`` as two complementary masks, both computed before either
    branch runs (the branches may change what the condition reads)."""

    def run(frame: _Frame) -> None:
        outer = frame.mask
        holds = condition(frame)
        fails = np.logical_not(holds) if otherwise is not None else None
        if outer is not None:
            holds = np.logical_and(outer, holds)
            fails = None if fails is None else np.logical_and(outer, fails)
        if then is not None:
            _run_under(frame, then, holds)
        if otherwise is not None:
            _run_under(frame, otherwise, fails)
        frame.mask = outer

    return run


def _run_under(frame: _Frame, step: _Statement, mask) -> None:
    if not mask.any():
        return
    frame.mask = None if mask.all() else mask
    step(frame)


def _select(condition, a, b):
    return lambda frame: np.where(condition(frame), a(frame), b(frame))


def _postfix(current: _Expr, store: _Expr) -> _Expr:
    read, write = current.fn, store.fn

    def postfix(frame: _Frame):
        old = read(frame)
        old = np.copy(old) if current.alias else old
        write(frame)
        return old

    return _Expr(postfix, current.ctype, effects=True)


def _local_value(value: _Expr, ctype) -> Callable[[_Frame], Any]:
    """Closure giving the value a local stores: never one of the caller's arrays
    (they change in place) and never a bare Python float."""
    inner = value.fn
    if ctype is REAL:
        if value.alias:
            return lambda frame: np.copy(_as_real(inner(frame), frame.prec))
        return lambda frame: _as_real(inner(frame), frame.prec)
    if value.alias:
        return lambda frame: np.copy(inner(frame))
    return inner


def _local_store(key: int, value) -> _Statement:
    def store(frame: _Frame):
        new = value(frame)
        if frame.mask is not None:
            new = np.where(frame.mask, new, frame.slots[key])
        frame.slots[key] = new
        return new

    return store


def _missing(where: str, name: str) -> CodeError:
    return CodeError(
        f"{where}: no value for '{name}' was given to run(); pass it in env."
    )


def _env_reader(where: str, name: str, ctype) -> Callable[[_Frame], Any]:
    if ctype is REAL:

        def read_real(frame: _Frame):
            try:
                value = frame.env[name]
            except KeyError:
                raise _missing(where, name) from None
            return _as_real(value, frame.prec)

        return read_real

    def read_int(frame: _Frame):
        try:
            value = frame.env[name]
        except KeyError:
            raise _missing(where, name) from None
        return _as_int(value, ctype)

    return read_int


def _writable(frame: _Frame, name: str, where: str) -> np.ndarray:
    try:
        array = frame.env[name]
    except KeyError:
        raise _missing(where, name) from None
    if not isinstance(array, np.ndarray):
        raise CodeError(
            f"{where}: '{name}' must be a NumPy array so the code can update it in "
            f"place, got {type(array).__name__}."
        )
    return array


def _shape_error(where: str, name: str, array, value, mask) -> CodeError:
    mask_text = "" if mask is None else f" under an if-mask of shape {np.shape(mask)}"
    return CodeError(
        f"{where}: cannot store a value of shape {np.shape(value)}{mask_text} into "
        f"'{name}' of shape {array.shape}; give the arrays in env broadcastable "
        "(batch, neurons) shapes."
    )


def _env_store(where: str, name: str, value) -> _Statement:
    def store(frame: _Frame):
        array = _writable(frame, name, where)
        new = value(frame)
        mask = frame.mask
        try:
            if mask is None:
                np.copyto(array, new, casting="unsafe")
            else:
                np.copyto(array, new, casting="unsafe", where=mask)
        except ValueError:
            raise _shape_error(where, name, array, new, mask) from None
        return new

    return store


def _env_in_place(where: str, name: str, func, operand) -> _Statement:
    def update(frame: _Frame):
        array = _writable(frame, name, where)
        value = operand(frame)
        mask = frame.mask
        try:
            func(
                array,
                value,
                out=array,
                casting="unsafe",
                where=True if mask is None else mask,
            )
        except ValueError:
            raise _shape_error(where, name, array, value, mask) from None
        return array

    return update


# ---------------------------------------------------------------------------
# Declarations handed in by the caller
# ---------------------------------------------------------------------------


def _check_name(where: str, kind: str, name) -> None:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise CodeError(f"{where}: {kind} name {name!r} is not a C identifier.")
    if name in _RESERVED:
        raise CodeError(
            f"{where}: {kind} name '{name}' is reserved in model code; rename it."
        )


def _declared_types(where: str, kind: str, declared) -> dict[str, Any]:
    """Static types of the caller's names.

    Raises CodeError for names that are not C identifiers or are reserved,
    and for unsupported type spellings.
    """
    types = {}
    for name, text in (declared or {}).items():
        _check_name(where, kind, name)
        ctype = _resolve_type(text.split()) if isinstance(text, str) else None
        if ctype is None:
            raise CodeError(
                f"{where}: {kind} '{name}' has unsupported type {text!r}; use one "
                f"of {_SUPPORTED_TYPES}."
            )
        types[name] = ctype
    return types


def declared_type(where: str, kind: str, name: str, text: str) -> np.dtype | None:
    """The type a model declares for ``name``, checked before any code runs.

    Returns the NumPy dtype of an integer or bool type, or None for the model
    precision (``scalar``, ``float``, ``double``).

    Raises CodeError where ``name`` is not a C identifier or is reserved, or
    where ``text`` is not a supported type spelling.
    """
    ctype = _declared_types(where, kind, {name: text})[name]
    return None if ctype is REAL else ctype


def _declared_sinks(where: str, sinks) -> dict[str, str]:
    for name, target in (sinks or {}).items():
        _check_name(where, "sink", name)
        _check_name(where, "sink target", target)
    return dict(sinks or {})


def _precision_names(translator: _Translator, variables, constants) -> tuple:
    """Names whose dtype decides the model precision, best first: variables
    before constants (arrays before scalars) and names declared ``scalar``
    before ``float`` or ``double`` ones (which may hold other precisions)."""
    used = translator.reads | translator.writes
    declared = [*(variables or {}).items(), *(constants or {}).items()]
    real = [(name, text) for name, text in declared if name in used]
    real = [(name, text) for name, text in real if _resolve_type(text.split()) is REAL]
    real.sort(key=lambda item: "scalar" not in item[1].split())
    return (*dict.fromkeys(name for name, _ in real), *translator.sinks.values())


# ---------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------


class CompiledBlock:
    """Statements translated once into NumPy closures, run every timestep.

    ``reads`` and ``writes`` are the caller's names the code reads and
    assigns (sink targets count as writes).
    """

    def __init__(self, where: str, body, reads, writes, precision_names) -> None:
        self.where = where
        self.reads = frozenset(reads)
        self.writes = frozenset(writes)
        self._body = body
        self._precision_names = precision_names

    def run(self, env: Mapping[str, Any], where=None) -> None:
        """Execute the statements on ``env``, changing its arrays in place.

        ``where`` optionally restricts the changes to the elements where it
        is true, as if the whole code sat inside ``if (where) { ... }``.

        Raises CodeError when ``env`` lacks a name the code uses, when a
        written name is not a NumPy array, or when shapes do not broadcast.
        """
        if self._body is None:
            return
        frame = _Frame(env, _precision(env, self._precision_names), _start_mask(where))
        if frame.mask is not None and not frame.mask.any():
            return
        with np.errstate(all="ignore"):
            self._body(frame)

    def bind(self, env: Mapping[str, Any]) -> Callable[[], None]:
        """A function that runs the code on ``env`` with the least overhead.

        For the inner loop of a simulation: the precision is worked out once,
        so ``env`` must keep the dtypes it has now, and floating-point errors
        follow the caller's ``np.errstate`` (``run`` silences them itself).
        """
        body, prec = self._body, _precision(env, self._precision_names)
        if body is None:
            return lambda: None
        return lambda: body(_Frame(env, prec))

    def __repr__(self) -> str:
        return f"CompiledBlock({self.where!r})"


class CompiledCondition:
    """A condition translated once into NumPy closures."""

    def __init__(self, where: str, expr: _Expr, reads, precision_names) -> None:
        self.where = where
        self.reads = frozenset(reads)
        self._fn = expr.fn
        self._copy = expr.alias
        self._precision_names = precision_names

    def evaluate(self, env: Mapping[str, Any]) -> np.ndarray:
        """Boolean array, shaped like the broadcast of the arrays the condition
        reads (0-d when it reads only scalars).

        Raises CodeError when ``env`` lacks a name the condition uses.
        """
        frame = _Frame(env, _precision(env, self._precision_names))
        with np.errstate(all="ignore"):
            value = self._fn(frame)
        return np.array(value, dtype=bool) if self._copy else np.asarray(value, bool)

    def bind(self, env: Mapping[str, Any]) -> Callable[[], Any]:
        """A function evaluating the condition on ``env``, as ``bind`` of
        :class:`CompiledBlock`; its result may be one of ``env``'s arrays, so
        copy it before changing that array."""
        fn, prec = self._fn, _precision(env, self._precision_names)
        return lambda: fn(_Frame(env, prec))

    def __repr__(self) -> str:
        return f"CompiledCondition({self.where!r})"


def compile_statements(
    code: str,
    where: str,
    variables: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    sinks: Mapping[str, str] | None = None,
    known: Mapping[str, float] | None = None,
) -> CompiledBlock:
    """Translate a GeNN 5 code string of statements into a CompiledBlock.

    ``variables`` maps writable names to C types, ``constants`` read-only
    ones (a name in both is writable); ``sinks`` maps call names such as
    ``injectCurrent`` to the env array that ``injectCurrent(x)`` adds ``x`` into.
    ``known`` gives constants whose values are fixed when the code is
    compiled, as GeNN fixes params and ``dt`` in its generated code; a
    multiplication or division by one of them that equals one is dropped.

    Raises CodeError for code that is malformed, too long or too deeply nested,
    uses unknown names or writes read-only ones; NotImplementedError for valid
    C the NumPy engine does not run (loops, pointers, arrays, ...).
    """
    translator = _Translator(
        where, variables, constants, sinks, allow_effects=True, known=known
    )
    body = _translate(
        translator, lambda: translator.block(_parse_statements(code, where))
    )
    names = _precision_names(translator, variables, constants)
    return CompiledBlock(where, body, translator.reads, translator.writes, names)


def compile_condition(
    code: str,
    where: str,
    variables: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    known: Mapping[str, float] | None = None,
) -> CompiledCondition:
    """Translate a GeNN 5 condition expression (e.g. ``V >= Vthr``); ``known``
    as for :func:`compile_statements`.

    Raises CodeError and NotImplementedError as compile_statements does, and
    CodeError for a condition that assigns or is empty.
    """
    translator = _Translator(
        where, variables, constants, {}, allow_effects=False, known=known
    )
    expr = _translate(
        translator,
        lambda: _coerce(translator.expression(_parse_condition(code, where)), BOOL),
    )
    names = _precision_names(translator, variables, constants)
    return CompiledCondition(where, expr, translator.reads, names)


def _translate(translator: _Translator, build: Callable[[], Any]):
    try:
        return build()
    except RecursionError:
        raise CodeError(
            f"{translator.where}: code nests too deeply; split it with local variables."
        ) from None
