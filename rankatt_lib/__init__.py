"""rankatt_lib: the library behind the *rankatt* book.

A small, tested reproduction of "A Ranking Based Attention Approach for Visual Tracking"
(Peng, Kamata, Breckon, ICIP 2019). Every tensor operation takes a ``device``; use
:func:`device` to pick one.
"""

from __future__ import annotations

import os

import torch

__version__ = "0.1.0"

__all__ = ["__version__", "device", "exact_float32", "use_threads"]


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


def exact_float32(enabled: bool = True) -> dict[str, str]:
    """Make float32 convolutions and matrix products on NVIDIA GPUs exact float32 (``"ieee"``)
    instead of TF32 (``enabled=False``: TF32 for both, the fast setting; PyTorch's own default is
    TF32 for convolutions and float32 for matrix products).

    PyTorch runs float32 *convolutions* on Ampere and later GPUs in TF32 by default (10-bit
    mantissa inputs): about a thousandth of relative error per layer, against about a millionth for
    a change of summation order. The book's chapters call this so that a GPU computes what the CPU
    does up to rounding, and their printed numbers agree across devices. It changes PyTorch's
    process-wide flags (nothing on a CPU-only machine uses them); returns the new settings.
    """
    value = "ieee" if enabled else "tf32"
    backends = torch.backends
    if hasattr(backends.cudnn, "conv") and hasattr(backends.cudnn.conv, "fp32_precision"):  # torch >= 2.9
        backends.cudnn.conv.fp32_precision = value
        backends.cuda.matmul.fp32_precision = value
        return {"cudnn.conv": backends.cudnn.conv.fp32_precision, "cuda.matmul": backends.cuda.matmul.fp32_precision}
    backends.cudnn.allow_tf32 = not enabled  # older torch: the legacy flags
    backends.cuda.matmul.allow_tf32 = not enabled
    return {"cudnn.conv": value, "cuda.matmul": value}


def use_threads(default: int) -> int:
    """Set torch's CPU threads to ``default``, unless the environment variable ``OMP_NUM_THREADS``
    names another count (a positive integer), which then wins; returns the count in use.

    The chapters call this in their first cell. Their checked outputs must not depend on the thread
    count (it changes the order of floating-point sums), and the book's portability check runs them
    with 1, 2 and 3 threads through ``OMP_NUM_THREADS`` (``tools/numeric_configs.py``).
    """
    if int(default) < 1:
        raise ValueError(f"thread count must be >= 1, got {default!r}")
    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    n = int(default)
    if raw:
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"OMP_NUM_THREADS={raw!r} is not a thread count (a positive integer)") from None
        if n < 1:
            raise ValueError(f"OMP_NUM_THREADS={raw!r} is not a thread count (a positive integer)")
    torch.set_num_threads(n)
    return n
