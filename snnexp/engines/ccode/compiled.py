"""Compile a snippet once and run it every timestep: the public interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from snnexp.engines.ccode.expressions import (
    Expr,
    Frame,
    coerce,
    model_precision,
    start_mask,
)
from snnexp.engines.ccode.parse import CodeError, parse_condition, parse_statements
from snnexp.engines.ccode.static_types import BOOL, REAL, resolve_type
from snnexp.engines.ccode.translate import Translator


def _precision_names(translator: Translator, variables, constants) -> tuple:
    """Names whose dtype decides the model precision, best first: variables
    before constants (arrays before scalars) and names declared ``scalar``
    before ``float`` or ``double`` ones (which may hold other precisions)."""
    used = translator.reads | translator.writes
    declared = [*(variables or {}).items(), *(constants or {}).items()]
    real = [(name, text) for name, text in declared if name in used]
    real = [(name, text) for name, text in real if resolve_type(text.split()) is REAL]
    real.sort(key=lambda item: "scalar" not in item[1].split())
    return (*dict.fromkeys(name for name, _ in real), *translator.sinks.values())


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
        frame = Frame(
            env, model_precision(env, self._precision_names), start_mask(where)
        )
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
        body, prec = self._body, model_precision(env, self._precision_names)
        if body is None:
            return lambda: None
        return lambda: body(Frame(env, prec))

    def __repr__(self) -> str:
        return f"CompiledBlock({self.where!r})"


class CompiledCondition:
    """A condition translated once into NumPy closures."""

    def __init__(self, where: str, expr: Expr, reads, precision_names) -> None:
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
        frame = Frame(env, model_precision(env, self._precision_names))
        with np.errstate(all="ignore"):
            value = self._fn(frame)
        return np.array(value, dtype=bool) if self._copy else np.asarray(value, bool)

    def bind(self, env: Mapping[str, Any]) -> Callable[[], Any]:
        """A function evaluating the condition on ``env``, as ``bind`` of
        :class:`CompiledBlock`; its result may be one of ``env``'s arrays, so
        copy it before changing that array."""
        fn, prec = self._fn, model_precision(env, self._precision_names)
        return lambda: fn(Frame(env, prec))

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
    translator = Translator(
        where, variables, constants, sinks, allow_effects=True, known=known
    )
    body = _translate(
        translator, lambda: translator.block(parse_statements(code, where))
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
    translator = Translator(
        where, variables, constants, {}, allow_effects=False, known=known
    )
    expr = _translate(
        translator,
        lambda: coerce(translator.expression(parse_condition(code, where)), BOOL),
    )
    names = _precision_names(translator, variables, constants)
    return CompiledCondition(where, expr, translator.reads, names)


def _translate(translator: Translator, build: Callable[[], Any]):
    try:
        return build()
    except RecursionError:
        raise CodeError(
            f"{translator.where}: code nests too deeply; split it with local variables."
        ) from None
