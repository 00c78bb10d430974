"""Engines that run a network: ``numpy`` (embedded) and ``genn`` (PyGeNN)."""

from __future__ import annotations

from snnexp.engines.base import Engine, Simulation


def get_engine(name: str, **options) -> Engine:
    """The engine called ``name``; ``genn`` imports PyGeNN only here."""
    if name == "numpy":
        from snnexp.engines.numpy_engine import NumpyEngine

        return NumpyEngine(**options)
    if name == "genn":
        from snnexp.engines.genn_engine import GeNNEngine

        return GeNNEngine(**options)
    raise ValueError(f"unknown engine {name!r}; expected numpy or genn")


__all__ = ["Engine", "Simulation", "get_engine"]
