"""Check model code strings and parse them with pycparser.

Before pycparser sees a snippet, the source is checked for what it would
choke on or misreport (length, preprocessor lines, GeNN 4 syntax,
unbalanced brackets); every error names the snippet and says how to fix
it.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pycparser import c_ast, c_parser

from snnexp.engines.ccode.static_types import INT, LONG, UINT, ULONG

MAX_CODE_CHARS = 10_000
MAX_BRACKET_DEPTH = 64
MAX_TREE_DEPTH = 200


class CodeError(ValueError):
    """A model code string that cannot run: the message names the snippet (the
    ``where`` text), what is wrong, and how to fix it."""


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
RESERVED = (
    _C_KEYWORDS | set(_TYPEDEFS) | {"true", "false", _SNIPPET_FUNCTION, _CONDITION_NAME}
)
_PRELUDE = " ".join(f"typedef {c} {name};" for name, c in _TYPEDEFS.items())
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

CONSTRUCTS = {
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
UNARY_CONSTRUCTS = {
    "&": "address-of operator '&'",
    "*": "pointer dereference '*'",
    "sizeof": "sizeof",
    "_Alignof": "_Alignof",
}


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


def parse_statements(code: str, where: str) -> c_ast.Compound:
    code = _check_source(code, where)
    source = f"{_PRELUDE} void {_SNIPPET_FUNCTION}(void) {{\n{code}\n}}\n"
    tree = _parse(source, code, where)
    _check_depth(tree, where)
    return tree.ext[-1].body


def parse_condition(code: str, where: str) -> c_ast.Node:
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
