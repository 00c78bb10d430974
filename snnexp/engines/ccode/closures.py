"""The closures that run translated statements: sequences, masked
branches, and loads and stores of locals and of the caller's arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from snnexp.engines.ccode.expressions import Expr, Frame, Statement, as_int, as_real
from snnexp.engines.ccode.parse import CodeError
from snnexp.engines.ccode.static_types import REAL


def sequence(steps) -> Statement | None:
    steps = tuple(step for step in steps if step is not None)
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def run(frame: Frame) -> None:
        for step in steps:
            step(frame)

    return run


def masked_if(condition, then, otherwise) -> Statement:
    """``if``/``else`` as two complementary masks, both computed before either
    branch runs (the branches may change what the condition reads)."""

    def run(frame: Frame) -> None:
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


def _run_under(frame: Frame, step: Statement, mask) -> None:
    if not mask.any():
        return
    frame.mask = None if mask.all() else mask
    step(frame)


def postfix_result(current: Expr, store: Expr) -> Expr:
    read, write = current.fn, store.fn

    def postfix(frame: Frame):
        old = read(frame)
        old = np.copy(old) if current.alias else old
        write(frame)
        return old

    return Expr(postfix, current.ctype, effects=True)


def local_value(value: Expr, ctype) -> Callable[[Frame], Any]:
    """Closure giving the value a local stores: never one of the caller's arrays
    (they change in place) and never a bare Python float."""
    inner = value.fn
    if ctype is REAL:
        if value.alias:
            return lambda frame: np.copy(as_real(inner(frame), frame.prec))
        return lambda frame: as_real(inner(frame), frame.prec)
    if value.alias:
        return lambda frame: np.copy(inner(frame))
    return inner


def local_store(key: int, value) -> Statement:
    def store(frame: Frame):
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


def env_reader(where: str, name: str, ctype) -> Callable[[Frame], Any]:
    if ctype is REAL:

        def read_real(frame: Frame):
            try:
                value = frame.env[name]
            except KeyError:
                raise _missing(where, name) from None
            return as_real(value, frame.prec)

        return read_real

    def read_int(frame: Frame):
        try:
            value = frame.env[name]
        except KeyError:
            raise _missing(where, name) from None
        return as_int(value, ctype)

    return read_int


def _writable(frame: Frame, name: str, where: str) -> np.ndarray:
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


def env_store(where: str, name: str, value) -> Statement:
    def store(frame: Frame):
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


def env_in_place(where: str, name: str, func, operand) -> Statement:
    def update(frame: Frame):
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
