"""rankatt_lib: the library behind the *rankatt* book.

A small, tested reproduction of "A Ranking Based Attention Approach for Visual Tracking"
(Peng, Kamata, Breckon, ICIP 2019). Every tensor operation takes a ``device``; use
:func:`device` to pick one.
"""

from __future__ import annotations

import os

import torch

__version__ = "0.1.0"

__all__ = ["__version__", "device"]


def device(name: str | None = None) -> torch.device:
    """Return the device the library should run on.

    Order of precedence: the explicit ``name`` argument, then the environment variable
    ``RANKATT_DEVICE`` (e.g. ``cpu``, ``cuda``, ``cuda:1``), then CUDA when available, else CPU.

    Asking for CUDA on a machine without it is an error rather than a silent fallback.
    """
    choice = name if name is not None else os.environ.get("RANKATT_DEVICE", "").strip()
    if not choice:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(choice)
    except RuntimeError as exc:
        raise ValueError(
            f"invalid device {choice!r} (from {'argument' if name is not None else 'RANKATT_DEVICE'}); "
            "use 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {choice!r} was requested but CUDA is not available on this machine; "
                "unset RANKATT_DEVICE or set it to 'cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {choice!r} was requested but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return dev
