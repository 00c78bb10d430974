"""Check the names and types a caller declares for a snippet."""

from __future__ import annotations

from typing import Any

import numpy as np

from snnexp.engines.ccode.parse import IDENTIFIER, RESERVED, CodeError
from snnexp.engines.ccode.static_types import REAL, SUPPORTED_TYPES, resolve_type


def _check_name(where: str, kind: str, name) -> None:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise CodeError(f"{where}: {kind} name {name!r} is not a C identifier.")
    if name in RESERVED:
        raise CodeError(
            f"{where}: {kind} name '{name}' is reserved in model code; rename it."
        )


def declared_types(where: str, kind: str, declared) -> dict[str, Any]:
    """Static types of the caller's names.

    Raises CodeError for names that are not C identifiers or are reserved,
    and for unsupported type spellings.
    """
    types = {}
    for name, text in (declared or {}).items():
        _check_name(where, kind, name)
        ctype = resolve_type(text.split()) if isinstance(text, str) else None
        if ctype is None:
            raise CodeError(
                f"{where}: {kind} '{name}' has unsupported type {text!r}; use one "
                f"of {SUPPORTED_TYPES}."
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
    ctype = declared_types(where, kind, {name: text})[name]
    return None if ctype is REAL else ctype


def declared_sinks(where: str, sinks) -> dict[str, str]:
    for name, target in (sinks or {}).items():
        _check_name(where, "sink", name)
        _check_name(where, "sink target", target)
    return dict(sinks or {})
