"""Trackers by name.

A tracker is any object with ``init(image, box)`` and ``update(image) -> box`` (see
:class:`Tracker`); a *factory* is a callable returning a fresh tracker. Modules register their
factories with :func:`register`::

    @register("KCF-cv")
    def _make_kcf(**kwargs):
        return OpenCVTracker("KCF", **kwargs)

and anyone builds one with :func:`make_tracker` (``make_tracker("KCF-cv")``). The modules that
register trackers (:data:`TRACKER_MODULES`) are imported on the first look-up, so the names are
available without importing them by hand; a module of that list that does not exist (yet) is
skipped, but an error raised *inside* an existing module is never hidden.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

__all__ = [
    "Tracker",
    "TrackerFactory",
    "TRACKER_MODULES",
    "register",
    "unregister",
    "make_tracker",
    "get_factory",
    "available_trackers",
]


@runtime_checkable
class Tracker(Protocol):
    """What the runner needs from a tracker.

    ``image`` is an RGB ``uint8`` array ``(H, W, 3)``; boxes are ``x, y, w, h`` (4 floats, the
    dataset's 1-based convention).
    """

    def init(self, image: np.ndarray, box: np.ndarray) -> None: ...

    def update(self, image: np.ndarray) -> Any: ...


TrackerFactory = Callable[..., Tracker]
F = TypeVar("F", bound=Callable[..., Any])

TRACKER_MODULES: tuple[str, ...] = ("rankatt_lib.trackers.opencv", "rankatt_lib.trackers.cf", "rankatt_lib.trackers")
"""Modules imported on the first look-up so that their ``@register`` calls run."""

_FACTORIES: dict[str, Callable[..., Any]] = {}
_modules_loaded = False


def register(name: str, *, replace: bool = False) -> Callable[[F], F]:
    """Decorator registering a tracker factory under ``name``.

    Args:
        name: the public name (case-sensitive), e.g. ``"CSRT"``.
        replace: allow replacing a different factory already registered under ``name``.

    Raises:
        ValueError: an empty name, or the name is taken by another factory and ``replace`` is false.
        (Registering the same function again, as a module reload does, is allowed.)
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"tracker name must be a non-empty string, got {name!r}")

    def decorator(factory: F) -> F:
        if not callable(factory):
            raise TypeError(f"register({name!r}) decorates a callable factory, got {type(factory).__name__}")
        old = _FACTORIES.get(name)
        if old is not None and not replace and not _same_function(old, factory):
            raise ValueError(
                f"tracker name {name!r} is already registered by {_describe(old)}; "
                "pass replace=True to override it"
            )
        _FACTORIES[name] = factory
        return factory

    return decorator


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    key = ("__module__", "__qualname__")
    return a is b or all(getattr(a, k, None) == getattr(b, k, object()) for k in key)


def _describe(f: Callable[..., Any]) -> str:
    return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', repr(f))}"


def unregister(name: str) -> None:
    """Remove ``name`` from the registry (a no-op if absent). Mostly for tests."""
    _FACTORIES.pop(name, None)


def _load_tracker_modules() -> None:
    """Import :data:`TRACKER_MODULES`, skipping those that do not exist."""
    global _modules_loaded
    if _modules_loaded:
        return
    for module in TRACKER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # Only "this module does not exist" is tolerated; a missing dependency *inside* it
            # (exc.name is then that dependency) is a real error.
            if exc.name != module:
                raise
    _modules_loaded = True


def available_trackers() -> list[str]:
    """Sorted names of every registered tracker (importing the tracker modules first)."""
    _load_tracker_modules()
    return sorted(_FACTORIES)


def get_factory(name: str) -> Callable[..., Any]:
    """The factory registered under ``name``.

    Raises:
        KeyError: unknown name; the message lists the available ones.
    """
    _load_tracker_modules()
    try:
        return _FACTORIES[name]
    except KeyError:
        names = ", ".join(sorted(_FACTORIES)) or "(none registered)"
        raise KeyError(f"unknown tracker {name!r}; available: {names}") from None


def make_tracker(name: str, **kwargs: Any) -> Tracker:
    """A fresh tracker: ``get_factory(name)(**kwargs)``.

    Raises:
        KeyError: unknown name (listing the available ones).
    """
    return get_factory(name)(**kwargs)
