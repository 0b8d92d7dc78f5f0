"""Building a tracker's config dataclass from an optional base config and keyword overrides.

A tracker's config is one dataclass whose fields are its own settings and, nested, the groups it
shares with the other trackers (``search``: :class:`~rankatt_lib.trackers.base.SearchConfig`,
``execution``, the part tracker's ``parts``...). An override may name a field of the config, a
group's field by its dotted path (``"search.scales"``), or a group's field by its plain name when
exactly one group has it (``T=4`` is ``parts.T``), so that ``make_tracker("rankatt", T=4)`` and
``rankatt run --option precision=bf16`` need not know the grouping. A config may declare old names
in a class attribute ``ALIASES`` (``{"part_grid": "parts.grid"}``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

C = TypeVar("C")

__all__ = ["check_groups", "config_fields", "make_config", "setting"]


def _groups(obj: Any) -> dict[str, Any]:
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(obj)
        if dataclasses.is_dataclass(getattr(obj, f.name)) and not isinstance(getattr(obj, f.name), type)
    }


def check_groups(config: Any, **groups: type) -> None:
    """In a config's ``__post_init__``: each named group field holds an instance of its class; a
    dict (a config read back from JSON) is turned into one.

    Raises:
        TypeError: a group holds something else.
    """
    for name, cls in groups.items():
        value = getattr(config, name)
        if isinstance(value, dict):
            setattr(config, name, cls(**value))
        elif not isinstance(value, cls):
            raise TypeError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")


def config_fields(config: Any) -> dict[str, Any]:
    """Every setting of ``config`` by its dotted path (``{"n_kernels": 3, "search.scales": ...}``),
    the groups' fields after the config's own, in field order."""
    own, nested = {}, {}
    groups = _groups(config)
    for f in dataclasses.fields(config):
        if f.name in groups:
            nested.update({f"{f.name}.{k}": v for k, v in config_fields(groups[f.name]).items()})
        else:
            own[f.name] = getattr(config, f.name)
    return {**own, **nested}


def _resolve(base: Any, name: str) -> tuple[str, ...]:
    """The path of the field that ``name`` sets in ``base``; raises ``TypeError`` when there is none."""
    cls = type(base)
    name = getattr(cls, "ALIASES", {}).get(name, name)
    own = {f.name for f in dataclasses.fields(base)}
    groups = _groups(base)
    head, dot, rest = name.partition(".")
    if dot:
        if head not in groups:
            raise TypeError(f"{cls.__name__} has no group {head!r}; its groups: {sorted(groups)}")
        return (head, *_resolve(groups[head], rest))
    if name in own:  # a field of the config itself, or a whole group
        return (name,)
    owners = [g for g, sub in groups.items() if name in {f.name for f in dataclasses.fields(sub)}]
    if len(owners) == 1:
        return (owners[0], name)
    if len(owners) > 1:
        raise TypeError(
            f"{cls.__name__} option {name!r} is ambiguous: say which with "
            + " or ".join(f"'{g}.{name}'" for g in owners)
        )
    valid = sorted(k for k in config_fields(base))
    raise TypeError(f"unknown {cls.__name__} option {name!r}; valid: {valid}")


def setting(config: Any, name: str) -> Any:
    """The value of the setting ``name`` in ``config``, under any name :func:`make_config` accepts
    (``setting(RankingAttentionConfig(), "T")`` is its ``parts.T``)."""
    value = config
    for part in _resolve(config, name):
        value = getattr(value, part)
    return value


def _replace(obj: Any, updates: dict[tuple[str, ...], Any]) -> Any:
    direct = {path[0]: v for path, v in updates.items() if len(path) == 1}
    deeper: dict[str, dict[tuple[str, ...], Any]] = {}
    for path, v in updates.items():
        if len(path) > 1:
            deeper.setdefault(path[0], {})[path[1:]] = v
    for group, sub in deeper.items():
        inner = direct.get(group, getattr(obj, group))
        direct[group] = _replace(inner, sub)
    return dataclasses.replace(obj, **direct)


def make_config(cls: type[C], config: C | None, overrides: dict[str, Any]) -> C:
    """Return ``config`` (or ``cls()``) with ``overrides`` applied (fields, dotted paths, the plain
    names of group fields, or ``ALIASES``); a whole group may be given too (``search=...``), and
    the plain names are applied on top of it.

    Raises:
        TypeError: ``config`` is not a ``cls``, or an override names no setting of ``cls`` (the
            message lists the valid names), or a plain name that two groups have.
    """
    base = cls() if config is None else config
    if not isinstance(base, cls):
        raise TypeError(f"config must be a {cls.__name__}, got {type(base).__name__}")
    updates = {_resolve(base, name): value for name, value in overrides.items()}
    return _replace(base, updates)  # type: ignore[no-any-return]
