"""Engines that run a network: ``numpy`` (embedded) and ``genn`` (PyGeNN).

The embedded engine is imported with this package, as any other module of
snnexp is; only ``genn`` is imported on demand, since PyGeNN is optional.
"""

from __future__ import annotations

from snnexp.engines.base import Engine, Simulation
from snnexp.engines.numpy_engine import NumpyEngine


def get_engine(name: str, **options) -> Engine:
    """The engine called ``name``; ``genn`` imports PyGeNN only here."""
    if name == "numpy":
        return NumpyEngine(**options)
    if name == "genn":
        from snnexp.engines.genn_engine import GeNNEngine

        return GeNNEngine(**options)
    raise ValueError(f"unknown engine {name!r}; expected numpy or genn")


__all__ = ["Engine", "NumpyEngine", "Simulation", "get_engine"]
