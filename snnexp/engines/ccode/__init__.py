"""Translate GeNN 5 model code strings into vectorised NumPy closures.

Neuron ``sim_code``, threshold conditions, current-source injection code and
custom updates are small C99 snippets such as ``V += Isyn * dt;``.  The NumPy
engine parses each snippet once with pycparser and turns its syntax tree into
a tree of Python closures that call NumPy on whole ``(batch, neurons)``
arrays.  No text from a config is ever given to ``eval``, ``exec`` or
``compile``: a snippet can only do what the closures of this package build.

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

The modules, in the order a snippet meets them: :mod:`.parse` checks the
source and parses it; :mod:`.declarations` checks the names and types the
caller declares; :mod:`.translate` walks the syntax tree, typing it with
:mod:`.static_types` and building :mod:`.expressions` and :mod:`.closures`;
:mod:`.compiled` holds the result and runs it.
"""

from __future__ import annotations

from snnexp.engines.ccode.compiled import (
    CompiledBlock,
    CompiledCondition,
    compile_condition,
    compile_statements,
)
from snnexp.engines.ccode.declarations import declared_type
from snnexp.engines.ccode.parse import CodeError

__all__ = [
    "CodeError",
    "CompiledBlock",
    "CompiledCondition",
    "compile_condition",
    "compile_statements",
    "declared_type",
]
