"""The static C types of model code and C's arithmetic conversions.

Every floating-point value has one static type, :data:`REAL`, the model
precision: ``scalar``, ``float`` and ``double`` are all spellings of it
inside a snippet. Integer and bool types are NumPy dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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
SUPPORTED_TYPES = "scalar, float, double, bool, int, unsigned int, " + ", ".join(
    f"{sign}int{bits}_t" for bits in (8, 16, 32, 64) for sign in ("", "u")
)
_QUALIFIERS = {"const", "volatile", "restrict"}


def resolve_type(words) -> Any:
    """The static type named by C type words (e.g. ``['unsigned', 'int']``).

    Returns None for spellings that are not supported.
    """
    key = tuple(sorted(w for w in words if w not in _QUALIFIERS))
    return _TYPES.get(key)


def same_type(a, b) -> bool:
    return a is b or (a is not REAL and b is not REAL and a == b)


def promote(ctype):
    """C integer promotion: anything narrower than ``int`` computes as ``int``."""
    if ctype is REAL or ctype.itemsize >= 4:
        return ctype
    return INT


def common_type(a, b):
    """C's usual arithmetic conversions for two operand types."""
    if a is REAL or b is REAL:
        return REAL
    a, b = promote(a), promote(b)
    if a == b:
        return a
    if a.kind == b.kind:
        return a if a.itemsize > b.itemsize else b
    unsigned, signed = (a, b) if a.kind == "u" else (b, a)
    return unsigned if unsigned.itemsize >= signed.itemsize else signed
