"""Building a tracker's config dataclass from an optional base config and keyword overrides."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")

__all__ = ["make_config"]


def make_config(cls: type[C], config: C | None, overrides: dict[str, Any]) -> C:
    """Return ``config`` (or ``cls()``) with ``overrides`` applied.

    Raises:
        TypeError: ``config`` is not a ``cls``, or an override names no field of ``cls`` (the
            message lists the valid names).
    """
    base = cls() if config is None else config
    if not isinstance(base, cls):
        raise TypeError(f"config must be a {cls.__name__}, got {type(base).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} option(s) {unknown}; valid: {sorted(names)}")
    return dataclasses.replace(base, **overrides)  # type: ignore[type-var]
