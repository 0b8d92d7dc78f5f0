"""The online training set of a tracker and when it trains on it (CREST's schedule, paper §3.1).

* :class:`UpdateSchedule`: which frames are stored (the confident ones) and on which frames the
  online model trains (every second frame);
* :class:`SampleBuffer`: a ring buffer of the last ``T`` (features, label) pairs on the device.

Both are used by the part-based tracker (:mod:`rankatt_lib.components.parts`) and by the trackers
built on it; they live here, below the trackers, so that a component never imports a tracker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["SampleBuffer", "UpdateSchedule"]


@dataclass(frozen=True)
class UpdateSchedule:
    """When the online model stores a sample and when it trains (CREST: every 2 frames).

    Frames are numbered from 1 (the initialisation frame). A tracked frame ``t >= 2`` is
    *confident* when its peak is at least ``min_peak``; only confident frames are stored, and
    training runs on the update frames ``t = 1 + k interval`` (3, 5, 7, ... for interval 2) that are
    confident. A frame with a low peak neither adds a sample nor trains.

    Attributes:
        interval: train every ``interval`` frames.
        min_peak: confidence gate on the peak of the (prior-weighted) response.
    """

    interval: int = 2
    min_peak: float = 0.15

    def __post_init__(self) -> None:
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1, got {self.interval}")

    def is_update_frame(self, frame: int) -> bool:
        """Whether frame ``frame`` (1-based) is on the training schedule."""
        return frame >= 2 and (frame - 1) % self.interval == 0

    def confident(self, peak: float) -> bool:
        """Whether a frame with this peak may be learned from."""
        return bool(peak >= self.min_peak)

    def decide(self, frame: int, peak: float) -> tuple[bool, bool]:
        """``(store, train)`` for frame ``frame`` with response peak ``peak``."""
        ok = self.confident(peak)
        return ok, ok and self.is_update_frame(frame)


class SampleBuffer:
    """A ring buffer of the last ``capacity`` training pairs, preallocated on the device.

    ``push`` overwrites the oldest pair once the buffer is full (a device copy, no
    synchronisation); ``features`` / ``labels`` are views of the filled slots (in slot order, which
    is irrelevant to a batch loss).

    Args:
        capacity: number of pairs kept (CREST: 2, the paper: T = 12).
        feature_shape: shape of one feature sample, e.g. ``(C, h, w)``.
        label_shape: shape of one label, e.g. ``(h, w)`` or ``(9, h, w)``.
        device: where the buffer lives.
        dtype: float dtype of both tensors.
    """

    def __init__(
        self,
        capacity: int,
        feature_shape: Sequence[int],
        label_shape: Sequence[int],
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self._x = torch.zeros((self.capacity, *feature_shape), dtype=dtype, device=device)
        self._y = torch.zeros((self.capacity, *label_shape), dtype=dtype, device=device)
        self._count = 0  # pairs ever pushed

    def __len__(self) -> int:
        return min(self._count, self.capacity)

    @property
    def pushed(self) -> int:
        """How many pairs were ever pushed (including overwritten ones)."""
        return self._count

    def push(self, features: torch.Tensor, label: torch.Tensor) -> None:
        """Store one pair (shapes ``feature_shape`` and ``label_shape``), replacing the oldest if full."""
        if tuple(features.shape) != tuple(self._x.shape[1:]) or tuple(label.shape) != tuple(self._y.shape[1:]):
            raise ValueError(
                f"expected features {tuple(self._x.shape[1:])} and label {tuple(self._y.shape[1:])}, "
                f"got {tuple(features.shape)} and {tuple(label.shape)}"
            )
        slot = self._count % self.capacity
        self._x[slot].copy_(features.detach())
        self._y[slot].copy_(label.detach())
        self._count += 1

    def features(self) -> torch.Tensor:
        """``(n, *feature_shape)``, n = ``len(self)``."""
        return self._x[: len(self)]

    def labels(self) -> torch.Tensor:
        """``(n, *label_shape)``."""
        return self._y[: len(self)]

    def clear(self) -> None:
        """Forget every pair (the memory stays allocated)."""
        self._count = 0
