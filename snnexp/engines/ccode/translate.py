"""Turn pycparser's syntax tree of a snippet into closures over arrays."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycparser import c_ast

from snnexp.engines.ccode.closures import (
    env_in_place,
    env_reader,
    env_store,
    local_store,
    local_value,
    masked_if,
    postfix_result,
    sequence,
)
from snnexp.engines.ccode.declarations import declared_sinks, declared_types
from snnexp.engines.ccode.expressions import (
    ARITHMETIC,
    BASE_FUNCTION_NAMES,
    BITWISE,
    COMPARISONS,
    FUNCTION_NAMES,
    IN_PLACE,
    LOGICAL,
    REAL_FUNCTIONS,
    SHIFTS,
    Expr,
    Frame,
    Statement,
    apply1,
    apply2,
    c_divide,
    coerce,
    combine,
    constant,
    copied,
    select,
    strict_real,
)
from snnexp.engines.ccode.parse import (
    CONSTRUCTS,
    RESERVED,
    UNARY_CONSTRUCTS,
    CodeError,
    float_literal,
    int_literal,
)
from snnexp.engines.ccode.static_types import (
    BOOL,
    INT,
    REAL,
    SUPPORTED_TYPES,
    common_type,
    promote,
    resolve_type,
    same_type,
)


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


class Translator:
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
        self.constants = declared_types(where, "constant", constants)
        self.variables = declared_types(where, "variable", variables)
        self.sinks = declared_sinks(where, sinks)
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
        close = difflib.get_close_matches(name, [*declared, *FUNCTION_NAMES], n=1)
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
        if name in self.variables or name in self.constants or name in RESERVED:
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

    def block(self, compound: c_ast.Compound) -> Statement | None:
        self.scopes.append({})
        steps = [self.statement(item) for item in compound.block_items or ()]
        self.scopes.pop()
        return sequence(steps)

    def statement(self, node) -> Statement | None:
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
        raise self.unsupported(CONSTRUCTS.get(kind, kind), node)

    def if_statement(self, node: c_ast.If) -> Statement | None:
        condition = coerce(self.expression(node.cond), BOOL)
        then = self._branch(node.iftrue)
        otherwise = self._branch(node.iffalse)
        if condition.constant:
            return then if condition.value else otherwise
        if then is None and otherwise is None:
            return condition.fn if condition.effects else None
        if condition.alias:
            condition = copied(condition)
        return masked_if(condition.fn, then, otherwise)

    def _branch(self, node) -> Statement | None:
        if node is None:
            return None
        self.scopes.append({})
        step = self.statement(node)
        self.scopes.pop()
        return step

    def declaration(self, node: c_ast.Decl) -> Statement:
        ctype, const = self._declared_local_type(node)
        if node.init is None:
            value = constant(0, ctype)
        elif isinstance(node.init, c_ast.InitList):
            raise self.unsupported("initialiser list", node.init)
        else:
            value = coerce(self.expression(node.init), ctype)
        local = self._declare_local(node.name, ctype, const, node)
        init = local_value(value, ctype)
        key = local.key

        def declare(frame: Frame) -> None:
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
                CONSTRUCTS.get(type(decl).__name__, "declarator"), node
            )
        ctype = self._type_of(decl.type, node)
        const = "const" in (node.quals or ()) or "const" in (decl.quals or ())
        return ctype, const

    def _type_of(self, spec, node):
        if not isinstance(spec, c_ast.IdentifierType):
            raise self.unsupported(CONSTRUCTS.get(type(spec).__name__, "type"), node)
        ctype = resolve_type(spec.names)
        if ctype is None:
            raise self.error(
                f"type '{' '.join(spec.names)}'{self._at(node)} is not supported; "
                f"use one of {SUPPORTED_TYPES}."
            )
        return ctype

    # -- expressions --------------------------------------------------------

    def expression(self, node, want_value: bool = True) -> Expr:
        handler = getattr(self, f"_expr_{type(node).__name__}", None)
        if handler is None:
            kind = type(node).__name__
            raise self.unsupported(CONSTRUCTS.get(kind, kind), node)
        return handler(node, want_value)

    def _expr_Constant(self, node: c_ast.Constant, want_value: bool) -> Expr:
        if node.type == "string":
            raise self.unsupported("string literal", node)
        if "'" in node.value:
            raise self.unsupported("character literal", node)
        if node.type in ("float", "double", "long double"):
            return constant(self._float_literal(node), REAL)
        value, ctype = self._int_literal(node)
        return constant(value, ctype)

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

    def _expr_ID(self, node: c_ast.ID, want_value: bool) -> Expr:
        name = node.name
        local = self._find_local(name)
        if local is not None:
            key = local.key
            return Expr(lambda frame: frame.slots[key], local.ctype)
        if name in self.variables or name in self.constants:
            self.reads.add(name)
            ctype = self.variables.get(name, self.constants.get(name))
            unit = name not in self.variables and self.known.get(name) == 1
            reader = env_reader(self.where, name, ctype)
            return Expr(reader, ctype, alias=True, unit=ctype is REAL and unit)
        if name in ("true", "false"):
            return constant(name == "true", BOOL)
        if name in self.sinks or name in FUNCTION_NAMES:
            raise self.error(
                f"'{name}'{self._at(node)} is a function; call it as {name}(...)."
            )
        raise self._unknown_name(name, node)

    def _expr_Cast(self, node: c_ast.Cast, want_value: bool) -> Expr:
        decl = node.to_type.type
        if not isinstance(decl, c_ast.TypeDecl):
            raise self.unsupported(CONSTRUCTS.get(type(decl).__name__, "cast"), node)
        return coerce(self.expression(node.expr), self._type_of(decl.type, node))

    def _expr_ExprList(self, node: c_ast.ExprList, want_value: bool) -> Expr:
        items = [self.expression(e, want_value=False) for e in node.exprs[:-1]]
        last = strict_real(self.expression(node.exprs[-1], want_value))
        steps = tuple(e.fn for e in items if e.effects)
        if not steps:
            return last
        final = last.fn

        def sequence(frame: Frame):
            for step in steps:
                step(frame)
            return final(frame)

        return Expr(sequence, last.ctype, effects=True, alias=last.alias)

    def _expr_TernaryOp(self, node: c_ast.TernaryOp, want_value: bool) -> Expr:
        condition = coerce(self.expression(node.cond), BOOL)
        branches = [self.expression(node.iftrue), self.expression(node.iffalse)]
        for branch, branch_node in zip(
            branches, (node.iftrue, node.iffalse), strict=True
        ):
            self._refuse_effects(branch, branch_node, "'?:'")
        ctype = common_type(branches[0].ctype, branches[1].ctype)
        a, b = (coerce(branch, ctype) for branch in branches)
        if condition.constant:
            return a if condition.value else b
        if ctype is REAL and a.constant and b.constant:
            a, b = strict_real(a), strict_real(b)
        return combine(select(condition.fn, a.fn, b.fn), ctype, condition, a, b)

    def _refuse_effects(self, expr: Expr, node, where_in: str) -> None:
        if expr.effects:
            raise self.unsupported(
                f"assignment, ++/-- or call with side effects inside {where_in}", node
            )

    def _expr_UnaryOp(self, node: c_ast.UnaryOp, want_value: bool) -> Expr:
        op = node.op
        if op in UNARY_CONSTRUCTS:
            raise self.unsupported(UNARY_CONSTRUCTS[op], node)
        if op in ("++", "--", "p++", "p--"):
            target = self._target(node.expr, node)
            one = constant(1, INT)
            return self._update(target, op[-1], one, node, want_value, op[0] == "p")
        operand = self.expression(node.expr)
        if op == "!":
            return combine(
                apply1(np.logical_not, coerce(operand, BOOL).fn), BOOL, operand
            )
        ctype = promote(operand.ctype)
        if op == "~":
            self._need_integers("~", node, operand.ctype)
        operand = coerce(operand, ctype)
        if op == "+":
            return operand
        func = np.negative if op == "-" else np.invert
        return combine(apply1(func, operand.fn), ctype, operand)

    def _expr_BinaryOp(self, node: c_ast.BinaryOp, want_value: bool) -> Expr:
        left = self.expression(node.left)
        right = self.expression(node.right)
        if node.op in LOGICAL:
            self._refuse_effects(right, node.right, f"'{node.op}'")
        return self._binary(node.op, left, right, node)

    def _binary(self, op: str, left: Expr, right: Expr, node) -> Expr:
        ones = (left.unit, right.unit)
        ctype, func, left, right = self._operands(op, left, right, node)
        if ctype is REAL and (op in "*/" and ones[1] or op == "*" and ones[0]):
            # x * 1 and x / 1 are exactly x in IEEE arithmetic: skip a pass.
            return right if op == "*" and ones[0] and not ones[1] else left
        result = BOOL if op in COMPARISONS or op in LOGICAL else ctype
        return combine(apply2(func, left.fn, right.fn), result, left, right)

    def _operands(self, op: str, left: Expr, right: Expr, node):
        """Type, NumPy function and converted operands of a binary operator."""
        if op in LOGICAL:
            return BOOL, LOGICAL[op], coerce(left, BOOL), coerce(right, BOOL)
        if op in SHIFTS:
            self._need_integers(op, node, left.ctype, right.ctype)
            ctype = promote(left.ctype)
            return ctype, SHIFTS[op], coerce(left, ctype), coerce(right, ctype)
        ctype = common_type(left.ctype, right.ctype)
        if op in BITWISE or op == "%":
            self._need_integers(op, node, left.ctype, right.ctype)
        if op == "/":
            func = np.true_divide if ctype is REAL else c_divide
        elif op == "%":
            func = np.fmod
        else:
            func = {**ARITHMETIC, **BITWISE, **COMPARISONS}[op]
        return ctype, func, coerce(left, ctype), coerce(right, ctype)

    def _need_integers(self, op: str, node, *ctypes) -> None:
        if any(ctype is REAL for ctype in ctypes):
            fix = "use fmod(a, b)" if op in ("%", "%=") else "cast with (int) first"
            raise self.error(
                f"operator '{op}'{self._at(node)} needs integer operands but got a "
                f"floating-point value; {fix}."
            )

    def _expr_FuncCall(self, node: c_ast.FuncCall, want_value: bool) -> Expr:
        if not isinstance(node.name, c_ast.ID):
            raise self.unsupported("call through an expression", node)
        name = node.name.name
        args = node.args.exprs if node.args is not None else []
        if name in self.sinks:
            return self._sink_call(name, args, node, want_value)
        if name in FUNCTION_NAMES:
            return self._math_call(name, args, node)
        if self._find_local(name) or name in self.variables or name in self.constants:
            raise self.error(f"'{name}'{self._at(node)} is a variable, not a function.")
        close = difflib.get_close_matches(name, [*FUNCTION_NAMES, *self.sinks], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        sinks = ", ".join(self.sinks)
        raise self.error(
            f"unknown function '{name}'{self._at(node)}{hint}; available functions are "
            f"{BASE_FUNCTION_NAMES} (and their float variants such as expf)"
            f"{', plus ' + sinks if sinks else ''}."
        )

    def _check_arity(self, name: str, args, count: int, node) -> None:
        if len(args) != count:
            raise self.error(
                f"{name}(){self._at(node)} takes {count} "
                f"argument{'s' if count > 1 else ''}, got {len(args)}."
            )

    def _math_call(self, name: str, args, node) -> Expr:
        func, count = REAL_FUNCTIONS.get(name, (np.abs, 1))
        self._check_arity(name, args, count, node)
        operands = [self.expression(arg) for arg in args]
        ctype = REAL
        if name == "abs" and operands[0].ctype is not REAL:
            ctype = promote(operands[0].ctype)
        operands = [coerce(operand, ctype) for operand in operands]
        if count == 1:
            return combine(apply1(func, operands[0].fn), ctype, *operands)
        return combine(apply2(func, operands[0].fn, operands[1].fn), ctype, *operands)

    def _sink_call(self, name: str, args, node, want_value: bool) -> Expr:
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
        fn = env_in_place(self.where, target, np.add, value.fn)
        return Expr(fn, REAL, effects=True)

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
            if kind in CONSTRUCTS:
                raise self.unsupported(CONSTRUCTS[kind], node)
            if isinstance(node, c_ast.UnaryOp) and node.op in UNARY_CONSTRUCTS:
                raise self.unsupported(UNARY_CONSTRUCTS[node.op], node)
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
        if name in self.sinks or name in FUNCTION_NAMES or name in ("true", "false"):
            raise self.error(f"'{name}'{self._at(node)} cannot be assigned.")
        raise self._unknown_name(name, node)

    def _expr_Assignment(self, node: c_ast.Assignment, want_value: bool) -> Expr:
        target = self._target(node.lvalue, node)
        value = self.expression(node.rvalue)
        if node.op == "=":
            return self._store(target, coerce(value, target.ctype), want_value)
        op = node.op[:-1]
        return self._update(target, op, value, node, want_value, postfix=False)

    def _read(self, target: _Target) -> Expr:
        if target.local is not None:
            key = target.local.key
            return Expr(lambda frame: frame.slots[key], target.ctype)
        self.reads.add(target.name)
        return Expr(
            env_reader(self.where, target.name, target.ctype), target.ctype, alias=True
        )

    def _store(self, target: _Target, value: Expr, want_value: bool) -> Expr:
        """Store ``value`` (already of the target's type) under the active mask."""
        if want_value:
            value = strict_real(value)
        if target.local is not None:
            fn = local_store(target.local.key, local_value(value, target.ctype))
            return Expr(fn, target.ctype, effects=True)
        fn = env_store(self.where, target.name, value.fn)
        return Expr(fn, target.ctype, effects=True, alias=value.alias)

    def _update(self, target, op, value, node, want_value, postfix) -> Expr:
        """``target op= value``; for ``x++`` the result is the old value."""
        current = self._read(target)
        ctype, func, left, operand = self._operands(op, current, value, node)
        computed = combine(apply2(func, left.fn, operand.fn), ctype, left, operand)
        combined = coerce(computed, target.ctype)
        if postfix and want_value:
            return postfix_result(current, self._store(target, combined, False))
        in_place = op in IN_PLACE or (op == "/" and ctype is REAL)
        if target.local is None and in_place and same_type(ctype, target.ctype):
            fn = env_in_place(self.where, target.name, func, operand.fn)
            return Expr(fn, target.ctype, effects=True, alias=True)
        return self._store(target, combined, want_value)
